"""skorch callbacks of the package."""

import torch
from skorch.callbacks import Callback

__all__ = ["EpochScore"]


def accuracy_score(y_pred, y_true):
    """Share of rows whose largest logit is the true class."""
    return (y_pred.argmax(dim=1) == y_true).double().mean().item()


def r2_score(y_pred, y_true):
    """Coefficient of determination, averaged over output columns."""
    y_pred, y_true = y_pred.double(), y_true.double()
    residual = ((y_true - y_pred) ** 2).sum(dim=0)
    total = ((y_true - y_true.mean(dim=0)) ** 2).sum(dim=0).clamp(min=1e-12)
    return (1 - residual / total).mean().item()


class EpochScore(Callback):
    """Record ``train_score`` and ``valid_score`` per epoch in the history.

    Scores the predictions the training loop already made, batch by batch:
    no extra forward pass. Training scores come from the model in training
    mode (with dropout) while it learns, as Keras reports them.

    Parameters
    ----------
    score : callable
        ``score(y_pred, y_true) -> float`` on tensors.
    """

    def __init__(self, score):
        self.score = score

    def on_epoch_begin(self, net, **kwargs):
        self._seen = {"train": ([], []), "valid": ([], [])}

    def on_batch_end(self, net, batch, training, y_pred=None, **kwargs):
        preds, targets = self._seen["train" if training else "valid"]
        preds.append(y_pred.detach().cpu())
        targets.append(batch[1].cpu())

    def on_epoch_end(self, net, **kwargs):
        for prefix, (preds, targets) in self._seen.items():
            if preds:
                value = self.score(torch.cat(preds), torch.cat(targets))
                net.history.record(f"{prefix}_score", value)
        del self._seen
