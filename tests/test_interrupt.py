"""A KeyboardInterrupt (Ctrl-C) during fit leaves a usable estimator.

skorch catches the interrupt and ends training; the estimators then keep the
completed epochs in ``n_iter_`` and ``history_`` (an epoch cut short is not
counted), restore early stopping's best weights, and warn what they kept.
Tests interrupt with a callback, at the end of an epoch or after a training
batch, for both estimators.
"""

import warnings

import numpy as np
import pytest
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from sklearn_transformers import (
    AttentionTimeSeriesRegressor,
    TransformerTextClassifier,
    make_windows,
)

TINY_TEXT = dict(
    embed_dim=8,
    num_heads=2,
    num_layers=1,
    ff_dim=16,
    batch_size=8,
    min_df=1,
    lr=1e-2,
    class_weight=None,  # the validation-loss path the expectations pin
)


class InterruptAt(Callback):
    """Raise ``KeyboardInterrupt`` as Ctrl-C would, during epoch ``epoch``
    (counted as in ``history_``): at its end, or after its ``batch``-th
    training batch."""

    def __init__(self, epoch, batch=None):
        self.epoch = epoch
        self.batch = batch

    def on_batch_end(self, net, training=False, **kwargs):
        if (
            self.batch is not None
            and training
            and len(net.history) == self.epoch
            and len(net.history[-1, "batches"]) == self.batch
        ):
            raise KeyboardInterrupt

    def on_epoch_end(self, net, **kwargs):
        if self.batch is None and len(net.history) == self.epoch:
            raise KeyboardInterrupt


def _text_problem():
    # Random words and labels: the validation loss soon stops improving, so
    # early stopping's best epoch comes before the interrupt.
    rng = np.random.default_rng(13)
    X = [" ".join(f"w{i}" for i in rng.integers(0, 300, 5)) for _ in range(48)]
    y = rng.integers(0, 2, 48)
    params = TINY_TEXT
    return TransformerTextClassifier, params, X, y, "predict_proba"


def _series_problem():
    # A short stretch of noise: the validation loss soon stops improving.
    rng = np.random.default_rng(13)
    X, y = make_windows(rng.standard_normal(40), window=6)
    params = dict(
        embed_dim=8, num_heads=2, num_layers=1, ff_dim=16, batch_size=8, lr=1e-2
    )
    return AttentionTimeSeriesRegressor, params, X, y, "predict"


PROBLEMS = {"text": _text_problem, "series": _series_problem}


def _fit(kind, *, interrupt=None, **params):
    """Fit one of the problems; return the estimator and the warnings raised."""
    Estimator, defaults, X, y, _ = PROBLEMS[kind]()
    callbacks = None if interrupt is None else [interrupt]
    estimator = Estimator(
        **{**defaults, **params},
        lr_schedule="constant",
        random_state=0,
        callbacks=callbacks,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y)
    interrupted = [w for w in caught if "KeyboardInterrupt" in str(w.message)]
    return estimator, interrupted


def _outputs(kind, estimator):
    _, _, X, _, method = PROBLEMS[kind]()
    return getattr(estimator, method)(X)


def _check_usable(kind, estimator, n_epochs, validating=False):
    check_is_fitted(estimator)
    assert estimator.n_iter_ == n_epochs == len(estimator.history_)
    keys = {"train_loss", "train_score", "dur"}
    keys |= {"valid_loss", "valid_score"} if validating else set()
    assert all(keys <= set(row) for row in estimator.history_)
    assert [row["epoch"] for row in estimator.history_] == list(range(1, n_epochs + 1))
    assert np.all(np.isfinite(_outputs(kind, estimator)))


@pytest.mark.parametrize("kind", PROBLEMS)
def test_interrupt_at_epoch_end_keeps_completed_epochs(kind):
    estimator, interrupted = _fit(kind, interrupt=InterruptAt(2), max_epochs=6)
    (warning,) = interrupted
    assert warning.category is UserWarning
    assert warning.filename == __file__  # points at the caller of fit
    assert "after 2 of 6 epochs" in str(warning.message)
    assert "latest weights are kept" in str(warning.message)
    _check_usable(kind, estimator, 2)
    # The same model as a fit of two epochs.
    reference, none = _fit(kind, max_epochs=2)
    assert not none
    np.testing.assert_array_equal(_outputs(kind, estimator), _outputs(kind, reference))


@pytest.mark.parametrize("kind", PROBLEMS)
@pytest.mark.parametrize("epoch", [1, 3])
def test_interrupt_mid_epoch_drops_the_unfinished_epoch(kind, epoch):
    estimator, interrupted = _fit(
        kind, interrupt=InterruptAt(epoch, batch=2), max_epochs=6
    )
    (warning,) = interrupted
    message = str(warning.message)
    assert f"after {epoch - 1} of 6 epochs" in message
    assert f"during epoch {epoch}" in message
    assert "unfinished epoch's batches" in message
    _check_usable(kind, estimator, epoch - 1)


@pytest.mark.parametrize("kind", PROBLEMS)
@pytest.mark.parametrize("batch", [None, 2], ids=["epoch-end", "mid-epoch"])
def test_interrupt_with_early_stopping_keeps_the_best_weights(kind, batch):
    interrupt_epoch = 4
    params = dict(
        early_stopping=True,
        early_stopping_metric="loss",
        n_iter_no_change=10,
        validation_fraction=0.25,
    )
    estimator, interrupted = _fit(
        kind, interrupt=InterruptAt(interrupt_epoch, batch), max_epochs=10, **params
    )
    completed = interrupt_epoch - (batch is not None)
    _check_usable(kind, estimator, completed, validating=True)
    valid_loss = estimator.history_[:, "valid_loss"]
    best = int(np.argmin(valid_loss)) + 1
    assert best < interrupt_epoch  # else nothing would need restoring
    (warning,) = interrupted
    assert f"weights of epoch {best}, the lowest validation loss" in str(
        warning.message
    )
    # The kept weights are those of a fit that ran `best` epochs.
    reference, _ = _fit(kind, max_epochs=best, **params)
    np.testing.assert_array_equal(_outputs(kind, estimator), _outputs(kind, reference))
    assert reference.history_[-1, "valid_loss"] == pytest.approx(min(valid_loss))


@pytest.mark.parametrize("kind", PROBLEMS)
@pytest.mark.parametrize("batch", [None, 2], ids=["epoch-end", "mid-epoch"])
def test_training_continues_after_an_interrupt(kind, batch):
    estimator, _ = _fit(
        kind, interrupt=InterruptAt(2, batch), max_epochs=3, warm_start=True
    )
    completed = 2 - (batch is not None)
    _, _, X, y, _ = PROBLEMS[kind]()
    module = estimator.module_
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no interrupt warning any more
        estimator.set_params(callbacks=None).fit(X, y)
        _check_usable(kind, estimator, completed + 3)
        estimator.partial_fit(X, y)
    _check_usable(kind, estimator, completed + 4)
    assert estimator.module_ is module


def test_interrupt_history_is_plottable():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from sklearn_transformers.plotting import plot_history

    estimator, _ = _fit(
        "text",
        interrupt=InterruptAt(2, batch=1),
        max_epochs=4,
        early_stopping=True,
        validation_fraction=0.25,
    )
    fig = plot_history(estimator)
    loss_ax, _ = fig.axes
    assert [len(line.get_xdata()) for line in loss_ax.lines[:2]] == [1, 1]
    plt.close(fig)


def test_interrupt_before_training_propagates_and_leaves_no_half_fit():
    # Ctrl-C while tokenizing: nothing new to keep, so the interrupt
    # propagates, and the refit leaves the earlier model exactly as it was
    # (not the new vocabulary next to the old module).
    Estimator, params, X, y, _ = _text_problem()
    clf = Estimator(**params, max_epochs=1).fit(X, y)
    before = dict(vars(clf))
    proba = clf.predict_proba(X)

    def tokenizer(text):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        clf.set_params(tokenizer=tokenizer).fit(X, y)
    fitted = [name for name in before if name.endswith("_")]
    assert all(getattr(clf, name) is before[name] for name in fitted)
    np.testing.assert_array_equal(
        clf.set_params(tokenizer=None).predict_proba(X), proba
    )
