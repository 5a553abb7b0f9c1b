"""skorch callbacks of the package."""

import ctypes
import functools
import sys

import torch
from skorch.callbacks import Callback, PrintLog
from skorch.utils import Ansi

__all__ = ["EpochScore", "PlainPrintLog", "TrimHeap", "close_interrupted_fit"]


def _weighted_mean(values, sample_weight, dim=0):
    if sample_weight is None:
        return values.mean(dim=dim)
    w = sample_weight.double().reshape(-1, *[1] * (values.dim() - 1))
    return (values * w).sum(dim=dim) / w.sum(dim=dim).clamp(min=1e-12)


def accuracy_score(y_pred, y_true, sample_weight=None):
    """Share of rows (weighted) whose largest logit is the true class."""
    correct = (y_pred.argmax(dim=1) == y_true).double()
    return _weighted_mean(correct, sample_weight).item()


def r2_score(y_pred, y_true, sample_weight=None):
    """Coefficient of determination (weighted), averaged over output columns."""
    y_pred, y_true = y_pred.double(), y_true.double()
    mean = _weighted_mean(y_true, sample_weight)
    residual = _weighted_mean((y_true - y_pred) ** 2, sample_weight)
    total = _weighted_mean((y_true - mean) ** 2, sample_weight).clamp(min=1e-12)
    return (1 - residual / total).mean().item()


class EpochScore(Callback):
    """Record ``train_score`` and ``valid_score`` per epoch in the history.

    Scores the predictions the training loop already made, batch by batch:
    no extra forward pass. Training scores come from the model in training
    mode (with dropout) while it learns, as Keras reports them.

    Parameters
    ----------
    score : callable
        ``score(y_pred, y_true, sample_weight=None) -> float`` on tensors;
        with sample weights (targets ``(y, w)``) the scores are weighted.
    """

    def __init__(self, score):
        self.score = score

    def on_epoch_begin(self, net, **kwargs):
        self._seen = {"train": ([], [], []), "valid": ([], [], [])}

    def on_batch_end(self, net, batch, training, y_pred=None, **kwargs):
        preds, targets, weights = self._seen["train" if training else "valid"]
        preds.append(y_pred.detach().cpu())
        target = batch[1]
        if isinstance(target, (tuple, list)):  # (y, sample weights)
            target, w = target
            weights.append(w.cpu())
        targets.append(target.cpu())

    def on_epoch_end(self, net, **kwargs):
        for prefix, (preds, targets, weights) in self._seen.items():
            if preds:
                w = torch.cat(weights) if weights else None
                value = self.score(torch.cat(preds), torch.cat(targets), w)
                net.history.record(f"{prefix}_score", value)
        del self._seen

    def on_train_end(self, net, **kwargs):
        # An interrupted epoch leaves its predictions behind: drop them.
        self.__dict__.pop("_seen", None)


class PlainPrintLog(PrintLog):
    """skorch's per-epoch table, coloured only when stdout is a terminal.

    skorch marks each column's best value with ANSI colour codes, which show
    up as escape sequences in log files and CI output.
    """

    def format_row(self, row, key, color):
        if sys.stdout.isatty():
            return super().format_row(row, key, color)
        return super().format_row(row, key, "").replace(Ansi.ENDC.value, "")


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
    epoch's resident memory grows to several times what the fit holds
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
        best = "lowest" if stopper.lower_is_better else "highest"
        what = stopper.monitor.replace("valid_", "validation ")
        message += (
            f". The weights of epoch {stopper.best_epoch_}, the {best} "
            f"{what} so far, are kept."
        )
    elif unfinished:
        message += (
            ". The latest weights are kept, including the updates of the "
            "unfinished epoch's batches."
        )
    else:
        message += ". The latest weights are kept."
    return message
