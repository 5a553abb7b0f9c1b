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
:class:`FitPlan` that the training path reads.

Persistence hooks (defaults do nothing; override to store more state):

- ``_persist_extra()``: a dict of named text blobs (str -> str) that ``save``
  stores next to the fitted state, e.g. a configuration or tokenizer files;
- ``_restore_extra(blobs)``: receives that dict on ``load``, after the
  hyperparameters and fitted attributes are set and before ``_new_module()``;
- ``_not_persisted``: instance attributes ``save`` leaves out (every other
  attribute that is not a hyperparameter is saved, so new fitted attributes
  need no change here; ``save`` raises ``TypeError`` naming one it cannot
  store as data);
- ``_training_only_params``: hyperparameters that ``save`` may store as None
  (with a ``UserWarning``) when they hold objects that are not data.
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

from ._callbacks import EpochScore, PlainPrintLog, TrimHeap, close_interrupted_fit
from ._data import BatchIterator
from ._fixes import Interval, StrOptions, _check_sample_weight
from ._losses import SampleWeightedLoss
from ._modules import Autocast
from ._persistence import load_estimator, save_estimator

__all__ = ["AttentionEstimatorBase", "FitPlan", "resolve_device"]

# Samples per inference batch. Inference keeps no activations for backward,
# so batches can be larger than in training; text batches are sorted by length.
INFERENCE_BATCH_SIZE = 256


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
        Hold out ``validation_fraction`` for early stopping or for
        ``_after_training`` (not in ``partial_fit``).
    """

    continuing: bool
    partial: bool
    epochs: int
    max_epochs: int
    lr: float
    device: torch.device
    seed: int
    holdout: bool


class AttentionEstimatorBase(BaseEstimator, ABC):
    """Shared machinery of the package's estimators. Not for direct use."""

    # Parameters that shape the fitted model: a warm_start fit or partial_fit
    # must keep them, and inference uses their values from the first fit.
    _architecture_params = ("embed_dim", "num_heads", "num_layers", "ff_dim")

    # Instance attributes that save() leaves out: the skorch net, and the
    # module and optimizer state, which go into the file as tensors.
    # _metadata_request is metadata-routing configuration, not fitted state.
    _not_persisted = ("net_", "module_", "_loaded_optimizer_state", "_metadata_request")

    # Parameters that only serve training: save() stores them as None (with a
    # warning) when they hold objects rather than data.
    _training_only_params = ("callbacks", "random_state")

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

    def _holds_out(self):
        """Whether a ``fit`` holds out ``validation_fraction`` of its data.

        For early stopping here; a subclass may also want a held-out set for
        :meth:`_after_training` (such as calibration).
        """
        return self.early_stopping

    def _holdout_purpose(self):
        """The setting that asked for the held-out set, as error messages name it."""
        return "early_stopping=True"

    def _after_training(self, module, valid, plan):
        """Fit post-training state (e.g. calibration) on the held-out data.

        Called at the end of every ``fit`` and ``partial_fit`` with the
        trained ``module`` (in eval mode) and the held-out data set, or None
        when nothing was held out.
        """

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
        max_epochs = self._resolved("max_epochs")
        return FitPlan(
            continuing=continuing,
            partial=partial,
            epochs=1 if partial else max_epochs,
            max_epochs=max_epochs,
            lr=self._resolved("lr"),
            device=resolve_device(self.device),
            seed=seed,
            holdout=self._holds_out() and not partial,
        )

    def _fit(self, X, y, sample_weight, *, incremental, partial=False, **options):
        """Validate, (re)build or reuse the model, and train it.

        ``incremental`` keeps the fitted encoders, module, optimizer state and
        history of an earlier call (``warm_start`` and ``partial_fit``);
        ``partial`` marks a ``partial_fit`` call, which trains one epoch on
        all it is given (no early stopping) at the current learning rate (no
        schedule). ``options`` go to :meth:`_prepare_data`.
        The caller validates the parameters (``@_fit_context``).
        """
        continuing = incremental and hasattr(self, "module_")
        self._check_hyperparameters()
        if continuing:
            self._check_same_architecture()
        plan = self._plan(continuing=continuing, partial=partial)
        try:
            return self._train(X, y, sample_weight, plan, options)
        except BaseException:  # KeyboardInterrupt too, outside the training loop
            if not continuing:
                self._forget_fit()  # a failed fit leaves no half-fitted state
            raise

    def _train(self, X, y, sample_weight, plan, options):
        """The body of :meth:`_fit`: prepare the data, build or reuse, train."""
        if not plan.continuing:
            self._fitted_params = {
                name: _plain(getattr(self, name)) for name in self._architecture_params
            }
        data = self._prepare_data(
            X, y, sample_weight, reset=not plan.continuing, **options
        )
        valid = None
        if plan.holdout:
            data, valid = self._holdout(data, plan.seed)

        with _seeded(plan.seed, plan.device):
            module = self.module_ if plan.continuing else self._build_module(data)
            self._configure_module(module)
            held_out = valid
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
        self._after_training(module, held_out, plan)
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
        """``module`` as the training loop runs it (under autocast if asked)."""
        if self.precision == "bfloat16":
            return Autocast(module, plan.device.type, torch.bfloat16)
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
                f"{self._holdout_purpose()} holds out validation_fraction="
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
                f"{self._holdout_purpose()} could not hold out a stratified "
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
        return NeuralNet(
            module=module,
            criterion=criterion,
            optimizer=torch.optim.AdamW,
            lr=plan.lr,
            max_epochs=plan.epochs,
            batch_size=self.batch_size,
            iterator_train=BatchIterator,
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
        )

    def _callbacks(self, data, valid, plan):
        """This call's skorch callbacks: scores, heap trims, schedule, stopping."""
        callbacks = [
            ("epoch_score", EpochScore(type(self)._score)),
            ("trim_heap", TrimHeap()),
        ]
        if self.lr_schedule == "cosine" and not plan.partial:
            steps = plan.epochs * -(-len(data) // self.batch_size)
            scheduler = LRScheduler(
                policy=CosineAnnealingLR,
                T_max=steps,
                step_every="batch",
                last_epoch=-1,  # each fit decays anew, also warm ones
            )
            callbacks.append(("lr_schedule", scheduler))
        if valid is not None and self.early_stopping:
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

    # ---------------------------------------------------------- persistence
    def __getstate__(self):
        # Pickle (and joblib, deepcopy) keep the module and the optimizer
        # state once each, not the skorch net: the net pickles its module and
        # optimizer again in a separate buffer, which for a fine-tuned
        # backbone made the pickle about 8x the size of the weights. As after
        # load, the unpickled estimator has no net_ until it trains again and
        # continues from the same optimizer state.
        state = super().__getstate__()
        net = state.pop("net_", None)
        if net is not None:
            state["_loaded_optimizer_state"] = net.optimizer_.state_dict()
        return state

    def save(self, path, *, include_optimizer=True):
        """Save the fitted estimator to one file, without pickle.

        The file is a safetensors file: the weights and the optimizer state as
        tensors, and the hyperparameters and fitted attributes as JSON in its
        header, with a SHA-256 checksum over both. :meth:`load` reads it back
        without running any code stored in it, so a file from someone else is
        safe to load (unlike pickle or joblib).

        Parameters
        ----------
        path : str or path-like
            File to write (conventionally ending in ``.safetensors``); an
            existing file is replaced.
        include_optimizer : bool, default=True
            Also store the AdamW state (two tensors per weight), so that
            training after :meth:`load` continues exactly as it would have.
            False writes about a third of the bytes, which suits handing a
            fine-tuned model over for prediction; training after loading it
            then starts the optimizer's moving averages afresh.

        Warns
        -----
        UserWarning
            When ``callbacks`` or a ``RandomState`` instance ``random_state``
            are set: they only serve training, are not data, and are saved
            as None.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If a parameter needed for prediction is a callable (such as a
            custom ``tokenizer``): code cannot be saved as data.
        TypeError
            If a fitted attribute or parameter holds an object that cannot be
            stored as data (the message names it).

        See Also
        --------
        load : Read a saved estimator back.

        Examples
        --------
        >>> import os, tempfile
        >>> from sklearn_transformers import TransformerTextClassifier
        >>> X = ["good movie", "great film", "bad movie", "awful film"] * 4
        >>> y = ["pos", "pos", "neg", "neg"] * 4
        >>> clf = TransformerTextClassifier(embed_dim=8, num_heads=2, num_layers=1,
        ...                                 ff_dim=16, max_epochs=2, random_state=0)
        >>> clf = clf.fit(X, y)
        >>> path = os.path.join(tempfile.mkdtemp(), "clf.safetensors")
        >>> clf.save(path)
        >>> loaded = TransformerTextClassifier.load(path)
        >>> bool((loaded.predict_proba(X) == clf.predict_proba(X)).all())
        True
        """
        check_is_fitted(self)
        from . import __version__

        save_estimator(
            self, path, version=__version__, include_optimizer=include_optimizer
        )

    @classmethod
    def load(cls, path, *, device="cpu"):
        """Load an estimator saved with :meth:`save`.

        Reads data only (no pickle, no ``torch.load``) and checks the file's
        checksum. The loaded estimator predicts exactly as the saved one did
        and can train on: ``partial_fit`` and ``warm_start`` fits continue
        from the saved weights, optimizer state and ``history_``, and
        ``n_iter_`` keeps counting. It has no ``net_`` until it trains again.

        Parameters
        ----------
        path : str or path-like
            File written by :meth:`save`.
        device : str or torch.device, default="cpu"
            Where to place the weights: a model saved on a GPU loads on the
            CPU by default. The loaded estimator's ``device`` parameter is set
            to this value, not to the saved one. Callbacks and a
            ``RandomState`` ``random_state`` were saved as None.

        Returns
        -------
        estimator : object
            A fitted estimator of this class.

        Raises
        ------
        ValueError
            If ``device`` is unavailable, or the file (named in the message)
            is not a safetensors file, not an sklearn-transformers model file,
            of a newer format, damaged or edited, or holds a model of another
            estimator class.

        See Also
        --------
        save : Save a fitted estimator.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from sklearn_transformers import AttentionTimeSeriesRegressor, make_windows
        >>> X, y = make_windows(np.sin(np.arange(60) / 3), window=8)
        >>> reg = AttentionTimeSeriesRegressor(embed_dim=8, num_heads=2, num_layers=1,
        ...                                    ff_dim=16, max_epochs=2, random_state=0)
        >>> reg = reg.fit(X, y)
        >>> path = os.path.join(tempfile.mkdtemp(), "reg.safetensors")
        >>> reg.save(path)
        >>> loaded = AttentionTimeSeriesRegressor.load(path, device="cpu")
        >>> bool((loaded.predict(X) == reg.predict(X)).all())
        True
        >>> loaded.partial_fit(X, y).n_iter_
        3
        """
        map_location = resolve_device(device)
        return load_estimator(cls, path, device=device, map_location=map_location)

    def _persist_extra(self):
        """Named text blobs (str -> str) that :meth:`save` stores; none here."""
        return {}

    def _restore_extra(self, blobs):
        """Receive :meth:`_persist_extra`'s blobs on :meth:`load`; no-op here."""

    # ------------------------------------------------------------ inference
    def _run_module(self, data, method, batch_size=INFERENCE_BATCH_SIZE, module=None):
        """Run ``module_.<method>`` batch by batch under ``inference_mode``.

        ``module`` runs another module instead (during ``fit``). Returns a
        list of ``(indices, float32 CPU tensor)`` pairs, one per batch.
        """
        if module is None:
            check_is_fitted(self)
            module = self.module_
        module.eval()
        device = next(module.parameters()).device
        forward = getattr(module, method)
        batches = BatchIterator(data, batch_size, device=device)
        outputs = []
        with torch.inference_mode(), self._autocast(device):
            for idx in batches.batch_indices():
                xb, _ = batches.batch(idx)
                outputs.append((idx, forward(xb).float().cpu()))
        return outputs

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
