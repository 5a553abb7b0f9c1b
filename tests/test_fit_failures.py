"""Failures that keep the fitted model, and inference that stays bounded (issue 11).

Case 5: a refit that fails validation leaves the estimator as it was.
Case 6: a continued fit that raises leaves no half history row.
Case 7: inference while a fit runs raises instead of using dropout.
Case 3: inference batches shrink with the square of the sequence length.
"""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_transformers import (
    AttentionTimeSeriesRegressor,
    TransformerTextClassifier,
    _inference,
    make_windows,
)

TEXT = dict(
    embed_dim=8,
    num_heads=2,
    num_layers=1,
    ff_dim=16,
    max_epochs=2,
    batch_size=8,
    min_df=1,
    random_state=0,
)
SERIES = dict(
    embed_dim=8, num_heads=2, num_layers=1, ff_dim=16, max_epochs=2, random_state=0
)
X_TEXT = ["good film", "great movie", "bad film", "awful movie"] * 6
Y_TEXT = ["pos", "pos", "neg", "neg"] * 6
X_SERIES, Y_SERIES = make_windows(np.sin(np.arange(80) / 3), window=8)


def _fitted(kind):
    if kind == "text":
        return TransformerTextClassifier(**TEXT).fit(X_TEXT, Y_TEXT), X_TEXT
    return AttentionTimeSeriesRegressor(**SERIES).fit(X_SERIES, Y_SERIES), X_SERIES


def _output(estimator, X):
    if isinstance(estimator, TransformerTextClassifier):
        return estimator.predict_proba(X)
    return estimator.predict(X)


# ------------------------------------------------ case 5: rejected refits
def _bad_text_fits():
    with_none = [*X_TEXT[:-1], None]
    return {
        "None document": (with_none, Y_TEXT, "missing document"),
        "y one short": (X_TEXT, Y_TEXT[:-1], "inconsistent numbers"),
        "continuous y": (X_TEXT, np.linspace(0, 1, len(X_TEXT)), "continuous"),
    }


def _bad_series_fits():
    with_nan = X_SERIES.copy()
    with_nan[3, 2] = np.nan
    return {
        "NaN window": (with_nan, Y_SERIES, "NaN"),
        "y one short": (X_SERIES, Y_SERIES[:-1], "inconsistent numbers"),
        "1-D X": (X_SERIES[:, 0], Y_SERIES, "make_windows"),
    }


@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize(
    "kind, case",
    [("text", name) for name in _bad_text_fits()]
    + [("series", name) for name in _bad_series_fits()],
)
def test_a_refit_that_fails_validation_keeps_the_fitted_model(kind, case, warm_start):
    estimator, X = _fitted(kind)
    cases = _bad_text_fits() if kind == "text" else _bad_series_fits()
    X_bad, y_bad, match = cases[case]
    before = dict(vars(estimator))
    expected = _output(estimator, X)

    estimator.set_params(warm_start=warm_start)
    for method in ["fit", "partial_fit"]:
        with pytest.raises(ValueError, match=match):
            getattr(estimator, method)(X_bad, y_bad)
        assert vars(estimator).keys() == before.keys()
        for name, value in before.items():
            if name not in ("warm_start", "_fits_started", "_fits_finished"):
                assert vars(estimator)[name] is value, name
        np.testing.assert_array_equal(_output(estimator, X), expected)


def test_a_failure_during_training_of_a_new_fit_forgets_it():
    class Fail(Callback):
        def on_batch_end(self, net, **kwargs):
            raise RuntimeError("boom")

    clf, _ = _fitted("text")
    with pytest.raises(RuntimeError, match="boom"):
        clf.set_params(callbacks=[Fail()]).fit(X_TEXT, Y_TEXT)
    assert not hasattr(clf, "module_") and not hasattr(clf, "vocabulary_")


# ---------------------------------------- case 6: continued fits that raise
class FailAt(Callback):
    """Raise at the ``batch``-th training batch this callback sees (1-based)."""

    def __init__(self, batch):
        self.batch = batch

    def initialize(self):
        self.seen_ = 0
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        self.seen_ += training
        if training and self.seen_ == self.batch:
            raise RuntimeError("disk on fire")


@pytest.mark.parametrize("kind", ["text", "series"])
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_a_continued_fit_that_raises_leaves_no_half_history_row(kind, how):
    estimator, X = _fitted(kind)
    y = Y_TEXT if kind == "text" else Y_SERIES
    n_batches = -(-len(X) // estimator.batch_size)
    # partial_fit: fail in its one epoch; warm fit: in its second epoch.
    fail_at = 2 if how == "partial_fit" else n_batches + 1
    estimator.set_params(callbacks=[FailAt(fail_at)], warm_start=True, max_epochs=3)
    with pytest.raises(RuntimeError, match="disk on fire"):
        if how == "partial_fit":
            estimator.partial_fit(X, y)
        else:
            estimator.fit(X, y)

    completed = 0 if how == "partial_fit" else 1
    assert estimator.n_iter_ == len(estimator.history_) == 2 + completed
    assert all("train_loss" in row for row in estimator.history_)
    assert not estimator.module_.training  # predicts without dropout
    np.testing.assert_array_equal(_output(estimator, X), _output(estimator, X))

    estimator.set_params(callbacks=None).partial_fit(X, y)
    assert estimator.n_iter_ == len(estimator.history_) == 3 + completed


# ------------------------------------- case 7: inference during training
class OnFirstTrainingBatch(Callback):
    """Run ``action(net)`` after the first training step (skorch deep-copies
    callbacks; ``action`` is a function, which copies as itself)."""

    def __init__(self, action):
        self.action = action

    def initialize(self):
        self.done_ = False
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        if training and not self.done_:
            self.done_ = True
            self.action(net)


@pytest.mark.parametrize("kind", ["text", "series"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_predict_while_training_raises_and_leaves_training_alone(kind, method):
    # predict called from inside the training loop stands for a predict in
    # another thread that overlaps the fit: deterministic, and the same state.
    estimator, X = _fitted(kind)
    y = Y_TEXT if kind == "text" else Y_SERIES
    errors, training_after = [], []

    def predict_now(net):
        try:
            estimator.predict(X)
        except RuntimeError as exc:
            errors.append(str(exc))
        else:
            errors.append(None)
        training_after.append(net.module_.training)

    estimator.set_params(callbacks=[OnFirstTrainingBatch(predict_now)])
    estimator.set_params(warm_start=True)
    getattr(estimator, method)(X, y)

    assert len(errors) == 1 and errors[0] is not None
    assert "being trained" in errors[0]
    assert training_after == [True]  # predict left dropout on in training
    np.testing.assert_array_equal(_output(estimator, X), _output(estimator, X))


def test_concurrent_predictions_agree_when_nothing_trains():
    from concurrent.futures import ThreadPoolExecutor

    clf, X = _fitted("text")
    expected = clf.predict_proba(X)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: clf.predict_proba(X), range(16)))
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_a_deep_copy_is_not_marked_as_training():
    import copy

    clf, X = _fitted("text")
    clf._fits_started += 1  # as if a fit were running when it was copied
    with pytest.raises(RuntimeError, match="being trained"):
        clf.predict(X)
    assert copy.deepcopy(clf).predict(X).shape == (len(X),)


# ----------------------------------- case 3: batches bounded by length^2
def _batch_shapes(module):
    """Record the input shape of every call of ``module`` (the first layer)."""
    shapes = []
    handle = module.register_forward_pre_hook(
        lambda mod, args: shapes.append(tuple(args[0].shape))
    )
    return shapes, handle


def test_long_windows_are_run_in_batches_bounded_by_their_square():
    window = 1500
    series = np.sin(np.arange(window + 24) / 7)
    X, y = make_windows(series, window=window)
    reg = AttentionTimeSeriesRegressor(
        **{**SERIES, "max_epochs": 1, "batch_size": 8, "linear_shortcut": False}
    ).fit(X, y)
    shapes, handle = _batch_shapes(reg.module_.input_proj)
    try:
        weights = reg.attention_weights(X)
        predictions = reg.predict(X)
    finally:
        handle.remove()
    rows = [shape[0] for shape in shapes]
    assert max(rows) * window**2 <= _inference.ATTENTION_BUDGET
    assert sum(rows) == 2 * len(X) and len(rows) > 2
    assert weights.shape == (len(X), window) and predictions.shape == (len(X),)


def test_long_documents_are_run_in_smaller_batches(monkeypatch):
    clf = TransformerTextClassifier(**{**TEXT, "max_len": 64}).fit(X_TEXT, Y_TEXT)
    long_docs = [" ".join(["good"] * n) for n in (3, 60, 5, 62, 40)] * 10
    expected = clf.predict_proba(long_docs)
    monkeypatch.setattr(_inference, "ATTENTION_BUDGET", 16 * 65**2)
    shapes, handle = _batch_shapes(clf.module_.embed)
    try:
        proba = clf.predict_proba(long_docs)
        attention = clf.attention_weights(long_docs)
    finally:
        handle.remove()
    assert all(rows * length**2 <= 16 * 65**2 for rows, length in shapes)
    assert len(shapes) > 2  # not one batch per call, as without a bound
    np.testing.assert_allclose(proba, expected, rtol=1e-5, atol=1e-6)
    assert len(attention) == len(long_docs)
    torch.testing.assert_close(
        torch.tensor([w.sum() for _, w in attention], dtype=torch.float64),
        torch.ones(len(long_docs), dtype=torch.float64),
    )
