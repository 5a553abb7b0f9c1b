"""Estimator machinery shared by every estimator of the package.

:class:`AttentionEstimatorBase` holds what the estimators have in common:
the shared hyperparameters and their validation, seeding, device resolution,
the skorch net built inside ``fit`` with every skorch default set explicitly,
early stopping, ``warm_start`` / ``partial_fit``, ``history_`` / ``n_iter_``,
and batched inference under ``torch.inference_mode()``.

A subclass supplies four hooks:

- ``_prepare_data(X, y, *, reset, classes)``: validate the input, fit the
  encoders (vocabulary, scaler, classes) when ``reset``, return a data set
  from :mod:`._data`;
- ``_build_module(data)``: the torch module, built from the fitted encoders
  (and, where useful, initialised from the training data);
- ``_criterion(data)``: ``(criterion class, keyword arguments)`` for the
  training data;
- ``_stratify(data)``: labels to stratify the early-stopping split, or None;
- ``_score``: ``score(y_pred, y_true)`` on tensors, recorded per epoch as
  ``train_score`` / ``valid_score`` in ``history_``.
"""

import copy
import math
import warnings
from contextlib import contextmanager
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

from ._callbacks import EpochScore, close_interrupted_fit
from ._data import BatchIterator
from ._fixes import Interval, StrOptions

__all__ = ["AttentionEstimatorBase", "resolve_device"]

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


@contextmanager
def _seeded(seed, device):
    """Seed torch inside a forked RNG state, leaving the caller's state as it was."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class AttentionEstimatorBase(BaseEstimator):
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
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "callbacks": [list, tuple, None],
    }

    # ------------------------------------------------------------------ fit
    def _check_hyperparameters(self):
        """Checks across parameters, after ``_parameter_constraints``."""
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim={self.embed_dim} must be divisible by "
                f"num_heads={self.num_heads}."
            )

    def _fit(self, X, y, *, incremental, epochs, classes=None, partial=False):
        """Validate, (re)build or reuse the model, and train it.

        ``incremental`` keeps the fitted encoders, module, optimizer state and
        history of an earlier call (``warm_start`` and ``partial_fit``);
        ``epochs`` is the number of epochs to run now; ``partial`` marks a
        ``partial_fit`` call, which trains on all it is given (no early
        stopping) at the current learning rate (no schedule).
        The caller validates the parameters (``@_fit_context``).
        """
        continuing = incremental and hasattr(self, "net_")
        self._check_hyperparameters()
        if continuing:
            self._check_same_architecture()
        device = resolve_device(self.device)
        try:
            return self._train(X, y, continuing, device, epochs, classes, partial)
        except BaseException:  # KeyboardInterrupt too, outside the training loop
            if not continuing:
                self._forget_fit()  # a failed fit leaves no half-fitted state
            raise

    def _train(self, X, y, continuing, device, epochs, classes, partial):
        """The body of :meth:`_fit`: prepare the data, build or reuse, train."""
        if not continuing:
            self._fitted_params = {
                name: getattr(self, name) for name in self._architecture_params
            }
        data = self._prepare_data(X, y, reset=not continuing, classes=classes)
        # Fit is reproducible for an int random_state; later calls of an
        # incremental fit draw different (but still reproducible) seeds.
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        if continuing:
            seed = (seed + 7919 * self.n_iter_) % np.iinfo(np.int32).max

        valid = None
        if self.early_stopping and not partial:
            data, valid = self._holdout(data, seed)

        with _seeded(seed, device):
            module = self.module_ if continuing else self._build_module(data)
            net = self._make_net(
                module, data, device, valid, seed, epochs, schedule=not partial
            )
            net.initialize()
            if continuing:
                net.history = self.net_.history
                state = self.net_.optimizer_.state_dict()
                net.optimizer_.load_state_dict(state)
                for group in net.optimizer_.param_groups:
                    group.update(lr=self.lr, weight_decay=self.weight_decay)
            epochs_before = len(net.history)
            net.partial_fit(data)
        interrupted = close_interrupted_fit(
            net, epochs_before, epochs, validating=valid is not None
        )
        if interrupted is not None:
            # stacklevel 5: the caller of fit or partial_fit (through
            # _fit_context's wrapper and _fit).
            warnings.warn(interrupted, UserWarning, stacklevel=5)
        # The hold-out set served this call only; do not keep it in the model.
        net.train_split = None
        net.module_.eval()
        self.net_ = net
        self.module_ = net.module_
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        return self

    def _check_same_architecture(self):
        changed = [
            f"{name} from {self._fitted_params[name]!r} to {getattr(self, name)!r}"
            for name in self._architecture_params
            if getattr(self, name) != self._fitted_params[name]
        ]
        if changed:
            raise ValueError(
                "warm_start and partial_fit continue the fitted model, so they "
                f"cannot change {', '.join(changed)}; refit with "
                "warm_start=False to start anew."
            )

    def _forget_fit(self):
        fitted = [name for name in vars(self) if name.endswith("_")]
        for name in [*fitted, "_fitted_params"]:
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

    def _make_net(self, module, data, device, valid, seed, epochs, schedule):
        """The skorch net for one call, with every skorch default set explicitly.

        ``schedule`` allows the ``lr_schedule`` (``fit``, not ``partial_fit``).
        """
        criterion, criterion_kwargs = self._criterion(data)
        sink = print if self.verbose else noop
        callbacks = [("epoch_score", EpochScore(type(self)._score))]
        if self.lr_schedule == "cosine" and schedule:
            steps = epochs * -(-len(data) // self.batch_size)
            callbacks.append(
                (
                    "lr_schedule",
                    LRScheduler(
                        policy=CosineAnnealingLR, T_max=steps, step_every="batch"
                    ),
                )
            )
        if valid is not None:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss",
                        patience=self.n_iter_no_change,
                        threshold=1e-4,
                        threshold_mode="rel",
                        lower_is_better=True,
                        load_best=True,
                        sink=sink,
                    ),
                )
            )
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar(batches_per_epoch="auto")))
        callbacks.extend(copy.deepcopy(list(self.callbacks or [])))
        return NeuralNet(
            module=module,
            criterion=criterion,
            optimizer=torch.optim.AdamW,
            lr=self.lr,
            max_epochs=epochs,
            batch_size=self.batch_size,
            iterator_train=BatchIterator,
            iterator_valid=BatchIterator,
            dataset=SkorchDataset,
            train_split=None if valid is None else predefined_split(valid),
            callbacks=callbacks,
            predict_nonlinearity=None,
            warm_start=False,
            verbose=int(bool(self.verbose)),
            device=device,
            compile=False,
            use_caching="auto",
            optimizer__weight_decay=self.weight_decay,
            # One fused kernel for the whole update: ~10% of a CPU epoch.
            optimizer__fused=device.type in ("cpu", "cuda"),
            iterator_train__shuffle=True,
            iterator_train__seed=seed,
            iterator_valid__shuffle=False,
            **{f"criterion__{k}": v for k, v in criterion_kwargs.items()},
        )

    # ------------------------------------------------------------ inference
    def _run_module(self, data, method, batch_size=INFERENCE_BATCH_SIZE):
        """Run ``module_.<method>`` batch by batch under ``inference_mode``.

        Returns a list of ``(indices, float32 CPU tensor)`` pairs, one per batch.
        """
        check_is_fitted(self)
        module = self.module_
        module.eval()
        device = next(module.parameters()).device
        forward = getattr(module, method)
        outputs = []
        with torch.inference_mode():
            for idx in BatchIterator(data, batch_size).batch_indices():
                xb, _ = data.batch(idx)
                outputs.append((idx, forward(xb.to(device)).float().cpu()))
        return outputs

    def _run_module_dense(self, data, method):
        """Like :meth:`_run_module`, assembled into one array in input order."""
        outputs = self._run_module(data, method)
        width = outputs[0][1].shape[1:]
        result = np.empty((len(data), *width), dtype=np.float32)
        for idx, out in outputs:
            result[idx] = out.numpy()
        return result

    @property
    def _n_features_out(self):
        """Width of ``transform``'s output (read by get_feature_names_out)."""
        return self.module_.head.in_features
