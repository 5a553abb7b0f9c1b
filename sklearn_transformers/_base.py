"""Estimator machinery shared by every estimator of the package.

:class:`AttentionEstimatorBase` holds what the estimators have in common:
the shared hyperparameters and their validation, the subclass hooks, and the
flow of ``fit`` / ``warm_start`` / ``partial_fit`` (plan, validate, hold out,
train, keep ``history_`` / ``n_iter_``; what a failed call leaves behind).
The rest is mixed in from modules of one responsibility each:

- :mod:`._fit_plan`: device resolution, seeding and the :class:`FitPlan`;
- :mod:`._net`: the skorch net built inside ``fit`` with every skorch default
  set explicitly, its callbacks and early stopping (:class:`~._net.NetMixin`);
- :mod:`._inference`: batched inference under ``torch.inference_mode()`` and
  the guard against inference while a fit runs
  (:class:`~._inference.InferenceMixin`);
- :mod:`._persistence_mixin`: ``save`` / ``load`` and pickling
  (:class:`~._persistence_mixin.PersistenceMixin`, whose hooks are documented
  there; the file format lives in :mod:`._persistence`).

A subclass implements the abstract hooks of :class:`AttentionEstimatorBase`
(``_prepare_data``, ``_new_module``, ``_criterion``, ``_stratify``,
``_score``) and may override the optional ones (``_auto_defaults``,
``_build_module``, ``_configure_module``, ``_training_view``,
``_check_hyperparameters``); each is documented where it is declared. A fit
resolves the ``"auto"`` values, the device and the seed once, into a
:class:`FitPlan` that the training path reads. Inside a ``torch.distributed``
process group, the helpers of :mod:`._distributed` make the fit data-parallel
(shared seed, sharded batches, ``DistributedDataParallel``, rank 0 saves).
"""

import math
import warnings
from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from . import _distributed
from ._callbacks import close_interrupted_fit
from ._fit_plan import FitPlan, _plain, _seeded, resolve_device
from ._fixes import Interval, StrOptions, _check_sample_weight
from ._inference import INFERENCE_BATCH_SIZE, InferenceMixin
from ._net import NetMixin
from ._persistence_mixin import PersistenceMixin

# FitPlan, resolve_device and INFERENCE_BATCH_SIZE live in ._fit_plan and
# ._inference; they stay importable from here (benchmarks/speed.py does).
__all__ = [
    "INFERENCE_BATCH_SIZE",
    "AttentionEstimatorBase",
    "FitPlan",
    "resolve_device",
]


class AttentionEstimatorBase(
    NetMixin, InferenceMixin, PersistenceMixin, BaseEstimator, ABC
):
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
        """The value parameter ``name`` takes in this fit.

        ``"auto"`` is replaced by :meth:`_auto_defaults`' value for ``name``;
        a parameter whose ``"auto"`` means a behaviour rather than a value
        (the classifier's ``calibration``) is returned as it is.
        """
        value = getattr(self, name)
        if isinstance(value, str) and value == "auto":
            return self._auto_defaults().get(name, value)
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

    @property
    def _n_features_out(self):
        """Width of ``transform``'s output (read by get_feature_names_out)."""
        return self.module_.head.in_features
