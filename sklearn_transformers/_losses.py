"""A loss weighted per sample, as scikit-learn weights its losses.

Knows nothing of scikit-learn or skorch. The training data hand the loss
``(y, w)`` pairs as targets when sample weights are given (see :mod:`._data`).
"""

import torch
from torch import nn

__all__ = ["SampleWeightedLoss"]


class SampleWeightedLoss(nn.Module):
    """The weighted mean of a per-sample loss over a batch.

    ``sum_i w_i * loss_i / sum_i w_i``, the weighted average scikit-learn's
    MLP takes: integer weights count a sample as that many copies, and a
    weight of 0 removes it. With a class weight ``c`` (``weight`` of
    ``CrossEntropyLoss``), ``loss_i`` holds ``c[y_i]`` and the denominator
    is ``sum_i w_i * c[y_i]``, so the loss equals the unweighted one when all
    ``w_i`` are 1. A batch whose weights are all 0 has loss 0.

    Parameters
    ----------
    loss : type
        A torch loss class that takes ``reduction="none"``; a per-sample loss
        of several values (such as ``MSELoss`` over a horizon) is averaged
        over them first.
    **kwargs
        Its other keyword arguments (``weight``: class weights).
    """

    def __init__(self, loss, **kwargs):
        super().__init__()
        self.loss = loss(reduction="none", **kwargs)

    def forward(self, y_pred, target):
        y, w = target  # (B, ...), (B,)
        per_sample = self.loss(y_pred, y).reshape(len(y), -1).mean(dim=1)  # (B,)
        class_weight = getattr(self.loss, "weight", None)
        norm = w if class_weight is None else w * class_weight[y]
        total = norm.sum()
        return (w * per_sample).sum() / torch.where(total > 0, total, 1.0)
