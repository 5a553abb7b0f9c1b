"""Saving and loading estimators: the estimator's side of persistence.

:class:`PersistenceMixin` turns a fitted estimator into one plain
:class:`~._persistence.ModelRecord` for :func:`~._persistence.save_record`,
and rebuilds one from the record that :func:`~._persistence.read_record`
yields. The file format lives in :mod:`._persistence`, the checks of hostile
files in :mod:`._persistence_file`.

Hooks (defaults do nothing; override to store more state):

- ``_persist_extra()``: a dict of named text blobs (str -> str) that ``save``
  stores next to the fitted state, e.g. a configuration or tokenizer files;
- ``_restore_extra(blobs)``: receives that dict on ``load``, after the
  hyperparameters and fitted attributes are set and before ``_new_module()``;
- ``_check_restored(module)``: checks the loaded fitted state against the
  module it describes (built on the ``meta`` device: shapes, no memory);
- ``_not_persisted``: instance attributes ``save`` leaves out (every other
  attribute that is not a hyperparameter is saved, so new fitted attributes
  need no change here; ``save`` raises ``TypeError`` naming one it cannot
  store as data);
- ``_training_only_params``: hyperparameters that ``save`` may store as None
  (with a ``UserWarning``) when they hold objects that are not data.
"""

import os
import warnings

import torch
from sklearn.utils.validation import check_is_fitted

from . import _distributed
from ._fit_plan import resolve_device
from ._persistence import (
    INVALID_DATA_ERRORS,
    ModelRecord,
    check_optimizer_state,
    encode,
    read_record,
    save_record,
)
from ._version import __version__

__all__ = ["OutdatedFileError", "PersistenceMixin"]

# Errors that invalid data raises while an estimator is rebuilt from it
# (torch raises RuntimeError for weights that do not fit the module).
_INVALID = (*INVALID_DATA_ERRORS, RuntimeError)


class OutdatedFileError(ValueError):
    """A file of the current format whose model an earlier version wrote and
    this version's module cannot read (raised by ``_check_stored``)."""


class PersistenceMixin:
    """``save``, ``load`` and pickling of the package's estimators."""

    # Instance attributes that save() leaves out: the skorch net, the module
    # and optimizer state (stored as tensors), metadata-routing settings, and
    # the bookkeeping of running fits.
    _not_persisted = (
        "net_",
        "module_",
        "_loaded_optimizer_state",
        "_metadata_request",
        "_fits_started",
        "_fits_finished",
    )

    # Parameters that only serve training: save() stores them as None (with a
    # warning) when they hold objects rather than data.
    _training_only_params = ("callbacks", "random_state")

    def __getstate__(self):
        # Pickle (and joblib, deepcopy) keep the module and the optimizer
        # state once each, not the skorch net: the net pickles its module and
        # optimizer again in a separate buffer, which for a fine-tuned
        # backbone made the pickle several times the size of the weights. As after
        # load, the unpickled estimator has no net_ until it trains again and
        # continues from the same optimizer state.
        # A copy: on Python 3.11+ the base returns the instance's own
        # __dict__, which the pops below must not change.
        state = dict(super().__getstate__())
        net = state.pop("net_", None)
        if net is not None:
            state["_loaded_optimizer_state"] = net.optimizer_.state_dict()
        state.pop("_fits_started", None)  # a copy is not being trained
        state.pop("_fits_finished", None)
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
            existing file is replaced atomically: the file is written
            under a temporary name in the same folder, synced to disk, then
            renamed over ``path``, so a failed save (a full disk, Ctrl-C)
            leaves the earlier file whole. A symbolic link is followed.
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
            Before anything is written: if a hyperparameter is invalid (as
            :meth:`load` would find it), a parameter needed for prediction is
            a callable (such as a custom ``tokenizer``: code cannot be saved
            as data), ``path`` is a directory, or the JSON state exceeds
            safetensors' 100 MB header limit (the message names the largest
            fitted attribute and what to do).
        OSError
            If writing fails; ``path`` is then as it was.
        TypeError
            If a fitted attribute or parameter holds an object that cannot be
            stored as data (the message names it).

        See Also
        --------
        load : Read a saved estimator back.

        Notes
        -----
        Inside a ``torch.distributed`` process group of several processes
        (data-parallel training, see :mod:`._distributed`), only rank 0
        writes the file; the other ranks return without writing.

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
        try:
            self._validate_params()
        except ValueError as exc:
            raise ValueError(
                f"{type(self).__name__} cannot be saved as it is: {exc} load() "
                "would refuse such a file; set a valid value first."
            ) from exc
        if not _distributed.is_main_process():
            return  # data-parallel training: rank 0 writes the file
        record = self._to_record(include_optimizer)
        save_record(record, path, version=__version__)

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
            is a directory or not a regular file (a FIFO, socket or device is
            refused without reading), is not a safetensors file, not an
            sklearn-transformers model file, of a newer format, damaged or
            edited (checksum), holds sizes or ids its weights contradict,
            holds a model of another estimator class, or a model that an
            earlier version wrote and this one cannot read. Memory stays bounded
            by about the file's size: sizes are checked before allocating.

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
        with read_record(path) as record:
            if record.estimator != cls.__name__:
                raise ValueError(
                    f"{record.source!r} holds a fitted {record.estimator:.80}, "
                    f"not a {cls.__name__}; load it with {record.estimator:.80}.load()."
                )
            try:
                return cls._from_record(record, device, map_location)
            except OutdatedFileError as exc:
                raise ValueError(
                    f"{record.source!r} was written by an earlier version of "
                    f"sklearn-transformers: {exc}."
                ) from exc
            except _INVALID as exc:
                raise ValueError(
                    f"{record.source!r} holds invalid model data: {exc}. The file "
                    "is damaged or was edited."
                ) from exc

    # ------------------------------------------------------------ hooks
    def _persist_extra(self):
        """Named text blobs (str -> str) that :meth:`save` stores; none here."""
        return {}

    def _restore_extra(self, blobs):
        """Receive :meth:`_persist_extra`'s blobs on :meth:`load`; no-op here."""

    def _check_restored(self, module):
        """Check loaded fitted state against ``module`` (on ``meta``); none here."""

    def _check_stored(self, shapes):
        """Raise :class:`OutdatedFileError` for stored weights (``name ->
        (dtype, shape)``) that an earlier version wrote; none here."""

    def _restored_layer_counts(self):
        """Counts the module makes Python objects in proportion to."""
        return [self._fitted_params["num_layers"]]

    # ------------------------------------------------------------ record
    def _to_record(self, include_optimizer):
        """This fitted estimator as a :class:`~._persistence.ModelRecord`."""
        params = self._saved_params()
        fitted = {
            name: value
            for name, value in vars(self).items()
            if name not in params and name not in self._not_persisted
        }
        extras = self._persist_extra()
        if not isinstance(extras, dict):
            raise TypeError(
                f"{type(self).__name__}._persist_extra() must return a dict."
            )
        return ModelRecord(
            estimator=type(self).__name__,
            params=params,
            fitted=fitted,
            module_state=self.module_.state_dict(),
            optimizer_state=self._optimizer_state() if include_optimizer else None,
            extras=extras,
        )

    def _saved_params(self):
        """``get_params(deep=False)`` as data; training-only objects become None."""
        params, dropped = {}, []
        for name, value in self.get_params(deep=False).items():
            if isinstance(value, torch.device):
                value = str(value)
            elif isinstance(value, os.PathLike):
                value = os.fspath(value)
            try:
                encode(value, f"parameter {name!r}")
            except TypeError:
                if name in self._training_only_params:
                    value = None
                    dropped.append(name)
                elif callable(value):
                    raise ValueError(
                        f"{type(self).__name__} cannot be saved with {name}="
                        f"{value!r}: a callable is code, and the file stores data "
                        f"only. Refit with {name}=None (or keep the estimator with "
                        "pickle/joblib, which store code)."
                    ) from None
                else:
                    raise
            params[name] = value
        if dropped:
            warnings.warn(
                f"{', '.join(dropped)}: objects, not data, and used in training "
                "only; saved as None. Set them again after loading to train with "
                "them.",
                UserWarning,
                stacklevel=4,
            )
        return params

    @classmethod
    def _from_record(cls, record, device, map_location):
        """A fitted estimator from ``record``; memory bounded by the file."""
        estimator = cls(**{**record.params, "device": device})
        estimator._validate_params()
        protected = {*record.params, *estimator._not_persisted}
        for attribute, value in record.fitted.items():
            if (
                not attribute.isidentifier()
                or attribute in protected
                or hasattr(cls, attribute)  # methods, properties, dunders
            ):
                raise ValueError(f"invalid fitted attribute name {attribute!r:.80}")
            setattr(estimator, attribute, value)
        stored = record.module_state
        estimator._check_stored(stored.shapes)
        counts = estimator._restored_layer_counts()
        if not all(type(n) is int and 0 <= n <= len(stored.shapes) for n in counts):
            raise ValueError(f"layer counts {counts!r:.80} do not fit the weights")
        estimator._restore_extra(record.extras)
        # Built on the meta device first: shapes without memory, so sizes in
        # the metadata are checked against the file before anything is
        # allocated. Building draws initial weights, which are overwritten at
        # once: keep the caller's random state as it was.
        with torch.random.fork_rng(devices=[]):
            with torch.device("meta"):
                meta = estimator._new_module()
            estimator._check_restored(meta)
            _check_shapes(_shapes(meta.state_dict()), stored.shapes)
            del meta
            module = estimator._new_module()
        stored.read_into(module.state_dict())
        if record.optimizer_state is not None:
            check_optimizer_state(record.optimizer_state, module)
        estimator.module_ = module.to(map_location).eval()
        estimator._loaded_optimizer_state = record.optimizer_state
        return estimator


def _shapes(state):
    return {name: (tensor.dtype, tuple(tensor.shape)) for name, tensor in state.items()}


def _check_shapes(expected, stored):
    """Refuse stored tensors that differ from the module's in name, dtype or shape."""
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    wrong = [
        f"{name}: {stored[name][0]} {list(stored[name][1])} stored, "
        f"{expected[name][0]} {list(expected[name][1])} expected"
        for name in sorted(set(expected) & set(stored))
        if stored[name] != expected[name]
    ]
    if missing or unexpected or wrong:
        raise ValueError(
            "the weights do not fit the model it describes: "
            + "; ".join(
                part
                for part in (
                    missing and f"missing {missing[:5]}",
                    unexpected and f"unexpected {unexpected[:5]}",
                    "; ".join(wrong[:5]),
                )
                if part
            )
        )
