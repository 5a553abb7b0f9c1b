"""Estimator machinery shared by every estimator of the package.

:class:`AttentionEstimatorBase` holds what the estimators have in common:
the shared hyperparameters and their validation, seeding, device resolution,
the skorch net built inside ``fit`` with every skorch default set explicitly,
early stopping, ``warm_start`` / ``partial_fit``, ``history_`` / ``n_iter_``,
batched inference under ``torch.inference_mode()``, and ``save`` / ``load``
(the file format lives in :mod:`._persistence`).

A subclass implements the abstract hooks of :class:`AttentionEstimatorBase`
(``_prepare_data``, ``_new_module``, ``_criterion``, ``_stratify``,
``_score``) and may override the optional ones (``_auto_defaults``,
``_build_module``, ``_configure_module``, ``_training_view``,
``_check_hyperparameters``); each is documented where it is declared. A fit
resolves the ``"auto"`` values, the device and the seed once, into a
:class:`FitPlan` that the training path reads. Inside a ``torch.distributed``
process group, the helpers of :mod:`._distributed` make the fit data-parallel
(shared seed, sharded batches, ``DistributedDataParallel``, rank 0 saves).

``save`` / ``load`` and pickling come from
:class:`~._persistence_mixin.PersistenceMixin`, whose hooks are documented
there.
"""

import copy
import math
import os
import warnings
from abc import ABC, abstractmethod
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, LRScheduler, ProgressBar
from skorch.dataset import Dataset as SkorchDataset
from skorch.helper import predefined_split
from skorch.utils import noop
from torch.optim.lr_scheduler import CosineAnnealingLR

from . import _distributed
from ._callbacks import EpochScore, PlainPrintLog, TrimHeap, close_interrupted_fit
from ._data import BatchIterator
from ._fixes import Interval, StrOptions, _check_sample_weight
from ._losses import SampleWeightedLoss
from ._modules import Autocast
from ._persistence_mixin import PersistenceMixin

__all__ = ["AttentionEstimatorBase", "FitPlan", "resolve_device"]

# Samples per inference batch. Inference keeps no activations for backward,
# so batches can be larger than in training; text batches are sorted by length.
INFERENCE_BATCH_SIZE = 256
# At most this many attention entries (batch x length^2) per inference batch,
# so that long sequences get smaller batches: an attention map of 4 float32
# heads then takes at most 256 MiB, whatever the length.
ATTENTION_BUDGET = 2**24


def _attention_bounded(batches, data):
    """Split index arrays so that ``len(idx) * length**2 <= ATTENTION_BUDGET``.

    ``length`` is a batch's longest document (data with lengths) or the
    window (3-D dense data); other dense data is not split.
    """
    lengths = data.lengths
    window = data.X.shape[1] if lengths is None and data.X.ndim == 3 else 1
    for idx in batches:
        length = int(lengths[idx].max()) if lengths is not None else window
        rows = max(1, ATTENTION_BUDGET // max(1, length) ** 2)
        for start in range(0, len(idx), rows):
            yield idx[start : start + rows]


def resolve_device(device):
    """Turn the ``device`` parameter into an available ``torch.device``.

    Raises
    ------
    ValueError
        If ``device`` is not a device name torch knows, or names a device
        this machine does not have.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid device; use 'cpu', 'cuda', "
            "'cuda:N', 'mps' or 'auto'."
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on "
                "this machine; use device='cpu' or device='auto'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but this machine has only "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
    elif resolved.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(
                f"device={device!r} was requested but MPS is not available on "
                "this machine; use device='cpu' or device='auto'."
            )
    elif resolved.type != "cpu":
        raise ValueError(
            f"device={device!r} is not supported; use 'cpu', 'cuda', 'cuda:N', "
            "'mps' or 'auto'."
        )
    return resolved


def _plain(value):
    """A path parameter as its string, so that it compares and saves as data."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


@contextmanager
def _seeded(seed, device):
    """Seed torch inside a forked RNG state, leaving the caller's state as it was."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@dataclass(frozen=True)
class FitPlan:
    """What one ``fit`` or ``partial_fit`` call does, resolved before any work.

    Attributes
    ----------
    continuing : bool
        Keep the fitted encoders, module, optimizer state and history
        (``warm_start`` and ``partial_fit`` after a first fit).
    partial : bool
        A ``partial_fit`` call: no early stopping, no learning-rate schedule.
    epochs : int
        Epochs to run now (1 for ``partial_fit``).
    max_epochs : int
        ``max_epochs`` with "auto" resolved.
    lr : float
        ``lr`` with "auto" resolved.
    device : torch.device
        The resolved, available ``device``.
    seed : int
        Seed of this call's weights, dropout, shuffling and split.
    holdout : bool
        Hold out ``validation_fraction`` for early stopping (not in
        ``partial_fit``).
    """

    continuing: bool
    partial: bool
    epochs: int
    max_epochs: int
    lr: float
    device: torch.device
    seed: int
    holdout: bool


class AttentionEstimatorBase(PersistenceMixin, BaseEstimator, ABC):
    """Shared machinery of the package's estimators. Not for direct use."""

    # Parameters that shape the fitted model: a warm_start fit or partial_fit
    # must keep them, and inference uses their values from the first fit.
    _architecture_params = ("embed_dim", "num_heads", "num_layers", "ff_dim")

    _parameter_constraints: dict = {
        "embed_dim": [Interval(Integral, 1, None, closed="left")],
        "num_heads": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "ff_dim": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "lr_schedule": [StrOptions({"cosine", "constant"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "early_stopping_metric": [StrOptions({"score", "loss"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "precision": [StrOptions({"float32", "bfloat16"})],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "callbacks": [list, tuple, None],
    }

    # ---------------------------------------------------- hooks (required)
    @abstractmethod
    def _prepare_data(self, X, y, sample_weight, *, reset, **options):
        """Validate the input and return a data set from :mod:`._data`.

        When ``reset``, fit the encoders (vocabulary, scaler, classes) first.
        ``sample_weight`` goes through :meth:`_sample_weight` and into the
        data set. ``options`` are keyword arguments of the subclass's own fit
        methods (such as ``partial_fit``'s ``classes``), passed unchanged.
        """

    @abstractmethod
    def _new_module(self):
        """The untrained torch module, built from fitted attributes only.

        ``load`` calls it before filling in the saved weights, so it must not
        need training data (``_fitted_params`` holds the architecture).
        """

    @abstractmethod
    def _criterion(self, data):
        """``(criterion class, keyword arguments)`` for the training data.

        The class must accept ``reduction="none"``: with sample weights it is
        wrapped in :class:`~._losses.SampleWeightedLoss`.
        """

    @abstractmethod
    def _stratify(self, data):
        """Labels that stratify the early-stopping split, or None."""

    @staticmethod
    @abstractmethod
    def _score(y_pred, y_true, sample_weight=None):
        """``score(y_pred, y_true, sample_weight)`` on tensors, recorded per
        epoch as ``train_score`` / ``valid_score`` in ``history_``."""

    # ---------------------------------------------------- hooks (optional)
    def _auto_defaults(self):
        """Values of the ``"auto"`` parameters for this fit: none here."""
        return {}

    def _resolved(self, name):
        """The value parameter ``name`` takes in this fit (``"auto"`` resolved)."""
        value = getattr(self, name)
        if isinstance(value, str) and value == "auto":
            return self._auto_defaults()[name]
        return value

    def _build_module(self, data):
        """The module for a new fit; subclasses may initialise it from ``data``."""
        return self._new_module()

    def _configure_module(self, module):
        """Apply fit-time settings to a new or continued module."""

    def _training_view(self, module, data, valid):
        """What the training loop runs: ``(module, data, valid)``.

        A subclass may train a part of ``module`` on data derived from
        ``data`` and ``valid``; the part's ``parameters()`` must follow
        ``module.parameters()``, so the optimizer state stays ``module``'s.
        """
        return module, data, valid

    def _check_hyperparameters(self):
        """Checks across parameters, after ``_parameter_constraints``."""
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim={self.embed_dim} must be divisible by "
                f"num_heads={self.num_heads}."
            )

    # ------------------------------------------------------------------ fit
    def _sample_weight(self, sample_weight, X):
        """``sample_weight`` checked against ``X``: float64 array, or None.

        None stays None, so an unweighted fit runs the plain loss.
        """
        if sample_weight is None:
            return None
        return _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )

    def _plan(self, *, continuing, partial):
        """Resolve this call's ``"auto"`` values, device and seed, once."""
        # Fit is reproducible for an int random_state; later calls of an
        # incremental fit draw different (but still reproducible) seeds.
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        if continuing:
            seed = (seed + 7919 * self.n_iter_) % np.iinfo(np.int32).max
        seed = _distributed.shared_seed(seed)  # data parallel: rank 0's seed
        max_epochs = self._resolved("max_epochs")
        return FitPlan(
            continuing=continuing,
            partial=partial,
            epochs=1 if partial else max_epochs,
            max_epochs=max_epochs,
            lr=self._resolved("lr"),
            device=_distributed.rank_device(resolve_device(self.device)),
            seed=seed,
            holdout=self.early_stopping and not partial,
        )

    def _fit(self, X, y, sample_weight, *, incremental, partial=False, **options):
        """Validate, (re)build or reuse the model, and train it.

        ``incremental`` keeps the fitted encoders, module, optimizer state and
        history of an earlier call (``warm_start`` and ``partial_fit``);
        ``partial`` marks a ``partial_fit`` call, which trains one epoch on
        all it is given (no early stopping) at the current learning rate (no
        schedule). ``options`` go to :meth:`_prepare_data`.
        The caller validates the parameters (``@_fit_context``).

        A call that fails before training (invalid input, Ctrl-C while the
        data is prepared) leaves the estimator exactly as it was. A failure
        during training forgets a new fit (no half-fitted state); a continued
        one keeps the model as trained so far, with ``history_`` and
        ``n_iter_`` counting only its completed epochs.
        """
        continuing = incremental and hasattr(self, "module_")
        self._check_hyperparameters()
        if continuing:
            self._check_same_architecture()
        plan = self._plan(continuing=continuing, partial=partial)
        with self._fitting():
            before = dict(self.__dict__)
            try:
                data, valid = self._validated_data(X, y, sample_weight, plan, options)
            except BaseException:
                self.__dict__.clear()
                self.__dict__.update(before)
                raise
            rows_before = len(self.history_) if continuing else 0
            try:
                return self._train(data, valid, plan)
            except BaseException:  # KeyboardInterrupt too, outside the training loop
                if continuing:
                    self._keep_completed_epochs(rows_before, plan)
                else:
                    self._forget_fit()  # a failed fit leaves no half-fitted state
                raise

    @contextmanager
    def _fitting(self):
        """Count running fits, so that inference can see one (:meth:`_run_module`)."""
        self._fits_started = self.__dict__.get("_fits_started", 0) + 1
        try:
            yield
        finally:
            module = self.__dict__.get("module_")
            if module is not None:
                module.eval()  # also after a failed training
            self._fits_finished = self.__dict__.get("_fits_finished", 0) + 1

    def _validated_data(self, X, y, sample_weight, plan, options):
        """Validate the input and fit the encoders: ``(data, valid)``."""
        if not plan.continuing:
            self._fitted_params = {
                name: _plain(getattr(self, name)) for name in self._architecture_params
            }
        data = self._prepare_data(
            X, y, sample_weight, reset=not plan.continuing, **options
        )
        _distributed.check_same_data(len(data), self.batch_size)
        valid = None
        if plan.holdout:
            data, valid = self._holdout(data, plan.seed)
        return data, valid

    def _keep_completed_epochs(self, rows_before, plan):
        """After a continued training failed: drop its unfinished history row."""
        history = self.history_
        required = ("train_loss", "valid_loss") if plan.holdout else ("train_loss",)
        if len(history) > rows_before and not all(k in history[-1] for k in required):
            del history[-1]
        self.n_iter_ = len(history)

    def _train(self, data, valid, plan):
        """The training part of :meth:`_fit`: build or reuse the module, train."""
        with _seeded(plan.seed, plan.device):
            module = self.module_ if plan.continuing else self._build_module(data)
            self._configure_module(module)
            trained, data, valid = self._training_view(module, data, valid)
            net = self._make_net(self._for_training(trained, plan), data, valid, plan)
            net.initialize()
            if plan.continuing:
                self._continue_training(net, plan)
            epochs_before = len(net.history)
            net.partial_fit(data)
        interrupted = close_interrupted_fit(
            net, epochs_before, plan.epochs, validating=valid is not None
        )
        if interrupted is not None:
            # stacklevel 5: the caller of fit or partial_fit (through
            # _fit_context's wrapper and _fit).
            warnings.warn(interrupted, UserWarning, stacklevel=5)
        # The hold-out set served this call only; do not keep it in the model.
        net.train_split = None
        module.eval()
        self.net_ = net
        self.__dict__.pop("_loaded_optimizer_state", None)  # net_ holds it now
        self.module_ = module
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        self.lr_ = plan.lr
        self.max_epochs_ = plan.max_epochs
        return self

    def _continue_training(self, net, plan):
        """Carry the history and optimizer state of earlier calls into ``net``."""
        net.history = self.history_
        state = self._optimizer_state()
        if state is not None:
            net.optimizer_.load_state_dict(state)
        # load_state_dict brings back the saved settings: use this call's,
        # and restart the schedule from this lr.
        for group in net.optimizer_.param_groups:
            group.update(lr=plan.lr, initial_lr=plan.lr, weight_decay=self.weight_decay)

    def _autocast(self, device):
        """The ``precision`` setting as an autocast context for ``device``."""
        if self.precision == "bfloat16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return nullcontext()

    def _for_training(self, module, plan):
        """``module`` as the training loop runs it (under autocast if asked;
        in ``DistributedDataParallel`` inside a process group)."""
        if self.precision == "bfloat16":
            module = Autocast(module, plan.device.type, torch.bfloat16)
        if _distributed.world() is not None:
            module = _distributed.data_parallel(module, plan.device)
        return module

    def _check_same_architecture(self):
        changed = [
            f"{name} from {self._fitted_params[name]!r} to {getattr(self, name)!r}"
            for name in self._architecture_params
            if _plain(getattr(self, name)) != self._fitted_params[name]
        ]
        if changed:
            raise ValueError(
                "warm_start and partial_fit continue the fitted model, so they "
                f"cannot change {', '.join(changed)}; refit with "
                "warm_start=False to start anew."
            )

    def _forget_fit(self):
        fitted = [name for name in vars(self) if name.endswith("_")]
        for name in [*fitted, "_fitted_params", "_loaded_optimizer_state"]:
            self.__dict__.pop(name, None)

    def _holdout(self, data, seed):
        """Split off ``validation_fraction`` of the data for early stopping."""
        n_samples = len(data)
        n_valid = math.ceil(self.validation_fraction * n_samples)
        if n_samples - n_valid < 1:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction="
                f"{self.validation_fraction} of the data, which leaves no "
                f"training sample out of n_samples={n_samples}."
            )
        try:
            train_idx, valid_idx = train_test_split(
                np.arange(n_samples),
                test_size=n_valid,
                stratify=self._stratify(data),
                random_state=seed,
            )
        except ValueError as exc:
            raise ValueError(
                "early_stopping=True could not hold out a stratified "
                f"validation_fraction={self.validation_fraction} of "
                f"{n_samples} samples: {exc}"
            ) from exc
        return data.subset(np.sort(train_idx)), data.subset(np.sort(valid_idx))

    def _make_net(self, module, data, valid, plan):
        """The skorch net for one call, with every skorch default set explicitly."""
        criterion, criterion_kwargs = self._criterion(data)
        if data.w is not None:
            criterion_kwargs = {"loss": criterion, **criterion_kwargs}
            criterion = SampleWeightedLoss
        device = plan.device
        iterator_train, sharding = BatchIterator, {}
        if (group := _distributed.world()) is not None:
            iterator_train = _distributed.ShardedBatchIterator
            sharding = {
                "iterator_train__rank": group[0],
                "iterator_train__world_size": group[1],
            }
        return NeuralNet(
            module=module,
            criterion=criterion,
            optimizer=torch.optim.AdamW,
            lr=plan.lr,
            max_epochs=plan.epochs,
            batch_size=self.batch_size,
            iterator_train=iterator_train,
            iterator_valid=BatchIterator,
            dataset=SkorchDataset,
            train_split=None if valid is None else predefined_split(valid),
            callbacks=self._callbacks(data, valid, plan),
            callbacks__print_log=PlainPrintLog(),
            predict_nonlinearity=None,
            warm_start=False,
            verbose=int(bool(self.verbose)),
            device=device,
            compile=False,
            use_caching="auto",
            optimizer__weight_decay=self.weight_decay,
            # One fused kernel for the whole update: a tenth of a CPU epoch.
            optimizer__fused=device.type in ("cpu", "cuda"),
            iterator_train__shuffle=True,
            iterator_train__seed=plan.seed,
            iterator_train__device=device,
            iterator_valid__shuffle=False,
            iterator_valid__device=device,
            **{f"criterion__{k}": v for k, v in criterion_kwargs.items()},
            **sharding,
        )

    def _callbacks(self, data, valid, plan):
        """This call's skorch callbacks: scores, heap trims, schedule, stopping."""
        callbacks = [
            ("epoch_score", EpochScore(type(self)._score)),
            ("trim_heap", TrimHeap()),
        ]
        if _distributed.world() is not None:
            callbacks.append(("average_over_ranks", _distributed.AverageOverRanks()))
        if self.lr_schedule == "cosine" and not plan.partial:
            steps = plan.epochs * -(-len(data) // self.batch_size)
            scheduler = LRScheduler(
                policy=CosineAnnealingLR,
                T_max=steps,
                step_every="batch",
                last_epoch=-1,  # each fit decays anew, also warm ones
            )
            callbacks.append(("lr_schedule", scheduler))
        if valid is not None:
            callbacks.append(("early_stopping", self._early_stopping()))
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar(batches_per_epoch="auto")))
        callbacks.extend(copy.deepcopy(list(self.callbacks or [])))
        return callbacks

    def _early_stopping(self):
        """skorch's EarlyStopping on the validation score or loss."""
        on_score = self.early_stopping_metric == "score"
        return EarlyStopping(
            monitor="valid_score" if on_score else "valid_loss",
            patience=self.n_iter_no_change,
            # As MLPClassifier's tol: an absolute gain for scores (R^2 can be
            # negative), a relative one for losses.
            threshold=1e-4,
            threshold_mode="abs" if on_score else "rel",
            lower_is_better=not on_score,
            load_best=True,
            sink=print if self.verbose else noop,
        )

    def _optimizer_state(self):
        """The optimizer's ``state_dict()`` to continue from, or None."""
        if hasattr(self, "net_"):
            return self.net_.optimizer_.state_dict()
        return getattr(self, "_loaded_optimizer_state", None)

    # ------------------------------------------------------------ inference
    def _run_module(self, data, method, batch_size=INFERENCE_BATCH_SIZE, module=None):
        """Run ``module_.<method>`` batch by batch under ``inference_mode``.

        ``module`` runs another module instead (during ``fit``). Returns a
        list of ``(indices, float32 CPU tensor)`` pairs, one per batch.
        Batches of long sequences are smaller (see :data:`ATTENTION_BUDGET`).

        Raises
        ------
        RuntimeError
            If a fit of this estimator runs (in another thread) before or
            while the batches run: its outputs could come from a module in
            training mode (dropout) or from two different models.
        """
        fits = None
        if module is None:
            check_is_fitted(self)
            module = self.module_
            fits = self._check_no_fit_running()
        if fits is None or module.training:  # no fit runs that would need it
            module.eval()
        device = next(module.parameters()).device
        forward = getattr(module, method)
        batches = BatchIterator(data, batch_size, device=device)
        outputs = []
        with torch.inference_mode(), self._autocast(device):
            for idx in _attention_bounded(batches.batch_indices(), data):
                xb, _ = batches.batch(idx)
                outputs.append((idx, forward(xb).float().cpu()))
        if fits is not None and self.__dict__.get("_fits_started", 0) != fits:
            self._check_no_fit_running(during=True)
        return outputs

    def _fit_running(self):
        return self.__dict__.get("_fits_started", 0) != self.__dict__.get(
            "_fits_finished", 0
        )

    def _check_no_fit_running(self, during=False):
        """The count of fits started so far; raise if one is running (or ran)."""
        if during or self._fit_running():
            raise RuntimeError(
                f"This {type(self).__name__} was being trained (fit or "
                "partial_fit, in another thread) while it was asked to "
                "predict, so the result could mix training-mode (dropout) "
                "outputs or two models; it was not returned. Training and "
                "inference on one estimator at once are not supported: "
                "predict from a copy (copy.deepcopy before training) or after "
                "the fit returns. Concurrent inference alone is safe."
            )
        return self.__dict__.get("_fits_started", 0)

    def _run_module_dense(self, data, method, module=None):
        """Like :meth:`_run_module`, assembled into one array in input order."""
        outputs = self._run_module(data, method, module=module)
        width = outputs[0][1].shape[1:]
        result = np.empty((len(data), *width), dtype=np.float32)
        for idx, out in outputs:
            result[idx] = out.numpy()
        return result

    @property
    def _n_features_out(self):
        """Width of ``transform``'s output (read by get_feature_names_out)."""
        return self.module_.head.in_features
