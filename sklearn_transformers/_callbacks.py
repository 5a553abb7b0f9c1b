"""skorch callbacks of the package."""

import ctypes
import functools

import torch
from skorch.callbacks import Callback

__all__ = ["EpochScore", "TrimHeap", "close_interrupted_fit"]


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

    def on_train_end(self, net, **kwargs):
        # An interrupted epoch leaves its predictions behind: drop them.
        self.__dict__.pop("_seen", None)


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # macOS, Windows, musl
        return None


class TrimHeap(Callback):
    """Hand memory that torch freed back to the system every ``every`` batches.

    glibc's ``malloc`` keeps freed memory for reuse, and batches of varying
    shapes (each padded to its own longest document) fragment it, so a long
    epoch's resident memory grows far past what the fit holds: 2.4 GiB
    instead of about 0.6 GiB for 100,000 documents
    (``benchmarks/memory.py``). ``malloc_trim(0)`` returns the free pages.
    It changes no result. A no-op where the C library has no ``malloc_trim``.

    Parameters
    ----------
    every : int, default=50
        Batches between trims (and once at the end of each epoch).
    """

    def __init__(self, every=50):
        self.every = every

    def initialize(self):
        self.batches_ = 0
        return self

    def on_batch_end(self, net, **kwargs):
        self.batches_ += 1
        if self.batches_ % self.every == 0:
            self._trim()

    def on_epoch_end(self, net, **kwargs):
        self._trim()

    @staticmethod
    def _trim():
        trim = _malloc_trim()
        if trim is not None:
            trim(0)


def close_interrupted_fit(net, epochs_before, epochs, validating):
    """Tidy up after a training loop that a ``KeyboardInterrupt`` ended.

    skorch's ``partial_fit`` catches ``KeyboardInterrupt`` (Ctrl-C, or
    ``EarlyStopping`` ending the fit) and still runs ``on_train_end``, where
    ``EarlyStopping(load_best=True)`` restores the best weights seen so far.
    An epoch interrupted before its losses were recorded is not counted: its
    half-filled row is removed from ``net.history`` (its batches' weight
    updates stay). Call this right after ``net.partial_fit``.

    Parameters
    ----------
    net : skorch.NeuralNet
        The net, just trained.
    epochs_before : int
        Rows of ``net.history`` before this call's training.
    epochs : int
        Epochs this call was asked to run.
    validating : bool
        Whether the epochs record a ``valid_loss``.

    Returns
    -------
    message : str or None
        None when training ran all its epochs or early stopping ended it;
        otherwise what was kept, for a warning.
    """
    history = net.history
    required = ("train_loss", "valid_loss") if validating else ("train_loss",)
    unfinished = len(history) > epochs_before and not all(
        key in history[-1] for key in required
    )
    if unfinished:
        del history[-1]
    completed = len(history) - epochs_before
    stopper = dict(net.callbacks_).get("early_stopping")
    stopped_early = stopper is not None and stopper.misses_ >= stopper.patience
    if not unfinished and (completed >= epochs or stopped_early):
        return None

    message = (
        f"Training was interrupted (KeyboardInterrupt) after {completed} of "
        f"{epochs} epochs"
    )
    if unfinished:
        message += (
            f", during epoch {len(history) + 1}, which is not counted in n_iter_ "
            "or history_"
        )
    if stopper is not None and stopper.best_model_weights_ is not None:
        message += (
            f". The weights of epoch {stopper.best_epoch_}, the lowest "
            "validation loss so far, are kept."
        )
    elif unfinished:
        message += (
            ". The latest weights are kept, including the updates of the "
            "unfinished epoch's batches."
        )
    else:
        message += ". The latest weights are kept."
    return message
