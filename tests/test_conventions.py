"""The scikit-learn conventions both estimators follow (issue 13).

``sample_weight`` in ``fit`` / ``partial_fit`` and its routing through
``Pipeline`` and ``GridSearchCV``; ``set_output`` for ``transform``; the
``"auto"`` values recorded after fit (``lr_``, ``max_epochs_``); early stopping
on the validation score by default; a 1-D series pointed to ``make_windows``;
and a per-epoch log without colour codes when stdout is not a terminal.
"""

import sys

import numpy as np
import pandas as pd
import polars as pl
import pytest
import sklearn
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from skorch.callbacks import Callback

from sklearn_transformers import (
    AttentionTimeSeriesRegressor,
    TransformerTextClassifier,
    make_windows,
)

TINY = {"embed_dim": 8, "num_heads": 2, "num_layers": 1, "ff_dim": 16}
# Weighted and repeated samples can only give the same model when every
# epoch sees the same samples in one batch, with nothing drawn at random.
EXACT = {
    **TINY,
    "dropout": 0.0,
    "batch_size": 1024,
    "lr_schedule": "constant",
    "max_epochs": 5,
    "random_state": 0,
}

WORDS = {
    "pos": ["good", "great", "superb", "fine", "love"],
    "neg": ["bad", "awful", "dull", "poor", "hate"],
}
FILLER = ["the", "a", "film", "movie", "plot", "was", "it", "story"]


def _reviews(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.choice(["neg", "pos"], n)
    docs = [
        " ".join([*rng.choice(FILLER, 3), *rng.choice(WORDS[label], 2)])
        for label in labels
    ]
    return np.array(docs, dtype=object), labels


def _permutations(n, seed):
    """Each document the same six words in a random order, so that every word
    has the same frequency however often a document is repeated (the
    vocabulary's ids, ordered by frequency, then stay the same)."""
    rng = np.random.default_rng(seed)
    words = np.array(["good", "bad", "film", "plot", "the", "was"])
    docs = [" ".join(rng.permutation(words)) for _ in range(n)]
    labels = ["pos" if doc.index("good") < doc.index("bad") else "neg" for doc in docs]
    return np.array(docs, dtype=object), np.array(labels)


def _windows(n_times=90, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_times)
    series = np.sin(2 * np.pi * t / 12) + 0.1 * rng.standard_normal(n_times)
    return make_windows(series, window=8)


def _data(kind):
    if kind == "text":
        X, y = _reviews(40, seed=0)
        return TransformerTextClassifier(**EXACT, min_df=1), X, y
    X, y = _windows()
    return AttentionTimeSeriesRegressor(**EXACT), X, y


def _output(estimator, X):
    """Probabilities of a classifier (or a pipeline ending in one), else predict."""
    return getattr(estimator, "predict_proba", estimator.predict)(X)


KINDS = ["text", "series"]


# ---------------------------------------------------------- sample_weight
@pytest.mark.parametrize("kind", KINDS)
def test_zero_weight_samples_do_not_count(kind):
    estimator, X, y = _data(kind)
    # Extra samples with the wrong targets, weighted 0.
    if kind == "text":
        extra_X, extra_y = _reviews(20, seed=1)
        extra_y = np.where(extra_y == "pos", "neg", "pos")
    else:
        extra_X, extra_y = _windows(40, seed=1)
        extra_y = -3.0 * extra_y
    X_all, y_all = np.concatenate([X, extra_X]), np.concatenate([y, extra_y])
    weights = np.r_[np.ones(len(X)), np.zeros(len(extra_X))]

    alone = clone(estimator).fit(X, y)
    weighted = clone(estimator).fit(X_all, y_all, sample_weight=weights)
    counted = clone(estimator).fit(X_all, y_all)

    expected = _output(alone, X)
    gap = np.abs(_output(weighted, X) - expected).max()
    assert gap < 1e-3
    # The extra samples do change the model when they count.
    assert np.abs(_output(counted, X) - expected).max() > 100 * max(gap, 1e-6)
    if kind == "text":  # not even in the vocabulary
        assert weighted.vocabulary_ == alone.vocabulary_


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_integer_weights_match_repeated_samples(kind, method):
    estimator, X, y = _data(kind)
    if kind == "text":
        X, y = _permutations(40, seed=0)
    weights = np.arange(len(X)) % 3  # 0, 1 and 2 copies
    repeat = np.repeat(np.arange(len(X)), weights)

    def train(model, X, y, **kwargs):
        if method == "fit":
            return model.fit(X, y, **kwargs)
        for _ in range(3):
            model.partial_fit(X, y, **kwargs)
        return model

    weighted = train(clone(estimator), X, y, sample_weight=weights)
    repeated = train(clone(estimator), X[repeat], y[repeat])
    unweighted = train(clone(estimator), X, y)

    expected = _output(repeated, X)
    gap = np.abs(_output(weighted, X) - expected).max()
    other = np.abs(_output(unweighted, X) - expected).max()
    assert gap < 1e-2
    assert other > 10 * max(gap, 1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_sample_weight_is_checked_before_training(kind):
    estimator, X, y = _data(kind)
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        clone(estimator).fit(X, y, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\)"):
        clone(estimator).fit(X, y, sample_weight=np.ones(3))


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


@pytest.mark.parametrize("kind", KINDS)
def test_sample_weight_routes_through_pipeline(kind, routing):
    estimator, X, y = _data(kind)
    weights = np.random.default_rng(0).integers(0, 3, len(X)).astype(float)
    step = clone(estimator).set_fit_request(sample_weight=True)
    identity = FunctionTransformer()  # a step before, which takes no weights
    pipe = make_pipeline(identity, step).fit(X, y, sample_weight=weights)

    direct = clone(estimator).fit(X, y, sample_weight=weights)
    np.testing.assert_array_equal(_output(pipe, X), _output(direct, X))
    assert np.abs(_output(pipe, X) - _output(clone(estimator).fit(X, y), X)).max() > 0


@pytest.mark.parametrize("kind", KINDS)
def test_sample_weight_routes_through_grid_search(kind, routing):
    estimator, X, y = _data(kind)
    weights = np.random.default_rng(0).integers(0, 3, len(X)).astype(float)
    seen = []

    class RecordWeights(Callback):
        """Record the sum of the weights each training batch carries."""

        def on_batch_begin(self, net, batch, training, **kwargs):
            if training:
                target = batch[1]
                seen.append(float(target[1].sum()) if len(target) == 2 else None)

    model = clone(estimator).set_params(max_epochs=1, callbacks=[RecordWeights()])
    search = GridSearchCV(
        model.set_fit_request(sample_weight=True).set_score_request(
            sample_weight=False
        ),
        {"lr": [1e-3, 1e-2]},
        cv=KFold(2),
    ).fit(X, y, sample_weight=weights)

    # Two folds for each of two candidates, then the refit, one batch each:
    # every fit trained on the weights of its own training samples.
    halves = [weights[len(X) // 2 :].sum(), weights[: len(X) // 2].sum()]
    assert seen == pytest.approx([*halves, *halves, weights.sum()])
    direct = clone(model).set_params(**search.best_params_)
    direct.fit(X, y, sample_weight=weights)
    np.testing.assert_array_equal(
        _output(search.best_estimator_, X), _output(direct, X)
    )


# ------------------------------------------------------------- set_output
def _fitted(kind):
    estimator, X, y = _data(kind)
    return estimator.set_params(max_epochs=1).fit(X, y), X, y


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("container", ["pandas", "polars"])
def test_set_output_transform(kind, container):
    estimator, X, y = _fitted(kind)
    expected = estimator.transform(X)
    names = estimator.get_feature_names_out()
    frame_type = pd.DataFrame if container == "pandas" else pl.DataFrame

    out = estimator.set_output(transform=container).transform(X)
    assert isinstance(out, frame_type)
    assert list(out.columns) == list(names)
    assert len(names) == expected.shape[1] == EXACT["embed_dim"]
    np.testing.assert_array_equal(out.to_numpy(), expected)

    refit = clone(estimator).fit_transform(X, y)  # clone keeps set_output
    assert isinstance(refit, frame_type)
    np.testing.assert_array_equal(np.asarray(refit), expected)

    estimator.set_output(transform="default")
    assert isinstance(estimator.transform(X), np.ndarray)


@pytest.mark.parametrize("kind", KINDS)
def test_set_output_in_a_pipeline(kind):
    estimator, X, y = _fitted(kind)
    pipe = make_pipeline(clone(estimator)).set_output(transform="pandas")
    out = pipe.fit(X, y).transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(pipe.get_feature_names_out())


# --------------------------------------------------- resolved "auto" values
def test_auto_values_are_recorded():
    X, y = _reviews(16, seed=0)
    clf = TransformerTextClassifier(**TINY, random_state=0).fit(X, y)
    # "auto": 4 epochs at 1e-4 with the default attention readout (it starts
    # at a linear model)
    assert (clf.lr_, clf.max_epochs_, clf.n_iter_) == (1e-4, 4, 4)
    assert clf.pooling_ == "attention"
    clf.set_params(pooling="mean").fit(X, y)
    assert (clf.lr_, clf.max_epochs_, clf.n_iter_) == (1e-3, 8, 8)
    assert clf.pooling_ == "mean"
    clf.set_params(lr=5e-3, max_epochs=2).fit(X, y)
    assert (clf.lr_, clf.max_epochs_, clf.n_iter_) == (5e-3, 2, 2)
    assert clf.get_params()["lr"] == 5e-3


def test_resolved_values_of_the_regressor():
    X, y = _windows()
    reg = AttentionTimeSeriesRegressor(**TINY, max_epochs=2, lr=2e-3).fit(X, y)
    assert (reg.lr_, reg.max_epochs_) == (2e-3, 2)


# ------------------------------------------------------------ early stopping
class RecordMonitor(Callback):
    """Record what the early-stopping callback of the training loop watches.

    The estimator trains with copies of its callbacks, so the record goes
    into a list that the copies share.
    """

    def __init__(self, records):
        self.records = records

    def __deepcopy__(self, memo):
        return RecordMonitor(self.records)

    def on_train_begin(self, net, **kwargs):
        stopper = dict(net.callbacks_)["early_stopping"]
        self.records.append((stopper.monitor, stopper.lower_is_better))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "metric, expected",
    [
        (None, ("valid_score", False)),
        ("score", ("valid_score", False)),
        ("loss", ("valid_loss", True)),
    ],
)
def test_early_stopping_watches_the_validation_score_by_default(kind, metric, expected):
    estimator, X, y = _data(kind)
    records = []
    params = {"early_stopping": True, "max_epochs": 1}
    if metric is not None:
        params["early_stopping_metric"] = metric
    estimator.set_params(**params, callbacks=[RecordMonitor(records)]).fit(X, y)
    assert records == [expected]


# ------------------------------------------------------------------- house
def test_the_base_declares_its_required_hooks():
    # A subclass that leaves out a required hook cannot be made at all.
    from sklearn_transformers._base import AttentionEstimatorBase

    class Incomplete(AttentionEstimatorBase):
        def _new_module(self):
            return None

    with pytest.raises(TypeError, match="_criterion.*_prepare_data.*_score"):
        Incomplete()


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "series", [np.arange(30.0), list(range(30)), pd.Series(range(30))]
)
@pytest.mark.parametrize("method", ["fit", "predict"])
def test_a_series_instead_of_windows_points_to_make_windows(series, method):
    reg = AttentionTimeSeriesRegressor(**TINY, max_epochs=1)
    if method == "predict":
        reg.fit(*_windows())
        call = lambda: reg.predict(series)  # noqa: E731
    else:
        call = lambda: reg.fit(series, np.arange(30.0))  # noqa: E731
    with pytest.raises(ValueError, match=r"X is 1-D \(shape \(30,\)\).*make_windows"):
        call()


# --------------------------------------------------------------- the log
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tty", [False, True])
def test_log_is_coloured_only_on_a_terminal(kind, tty, capsys, monkeypatch):
    estimator, X, y = _data(kind)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    estimator.set_params(max_epochs=3, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 3
    assert ("\x1b[" in out) is tty
