"""Batched inference of a fitted estimator, and the guard against a running fit.

:class:`InferenceMixin` runs the fitted module batch by batch under
``torch.inference_mode()`` (and autocast for ``precision="bfloat16"``), in
batches that shrink with the square of the sequence length
(:data:`ATTENTION_BUDGET`). It also counts running fits
(:meth:`~InferenceMixin._fitting`), so that inference on an estimator that is
being trained in another thread raises instead of mixing training-mode outputs
or two models.
"""

from contextlib import contextmanager, nullcontext

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._data import BatchIterator

__all__ = ["ATTENTION_BUDGET", "INFERENCE_BATCH_SIZE", "InferenceMixin"]

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


class InferenceMixin:
    """Inference of :class:`~._base.AttentionEstimatorBase` (mixed into it)."""

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

    def _autocast(self, device):
        """The ``precision`` setting as an autocast context for ``device``."""
        if self.precision == "bfloat16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return nullcontext()

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
