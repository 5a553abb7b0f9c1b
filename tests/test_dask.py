"""Scoring with Dask, partition by partition (``sklearn_transformers.dask``).

On a ``LocalCluster`` of two worker processes (the ``dask_client`` fixture of
conftest.py), a fitted or loaded estimator scores a Dask Series of texts, a
bag of texts, a Dask DataFrame of lag features and Dask arrays of windows;
every result equals the estimator's own method on the whole input, keeps the
input's index, and its graph holds the estimator once, however many
partitions read it.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from sklearn_transformers import (
    AttentionTimeSeriesRegressor,
    TransformerTextClassifier,
    make_windows,
)

dd = pytest.importorskip("dask.dataframe")
da = pytest.importorskip("dask.array")
db = pytest.importorskip("dask.bag")
from sklearn_transformers.dask import predict_by_partition  # noqa: E402

TINY = dict(embed_dim=8, num_heads=2, num_layers=1, ff_dim=16, random_state=0)
WORDS = {"neg": ["bad", "awful", "dull"], "pos": ["good", "great", "superb"]}
FILLER = "the a movie plot it was this story".split()


def _reviews(n_samples=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(["neg", "pos", "meh"], size=n_samples)
    words = {**WORDS, "meh": ["fine", "okay", "average"]}
    X = [
        " ".join([*rng.choice(FILLER, rng.integers(1, 7)), *rng.choice(words[c], 2)])
        for c in y
    ]
    return X, y


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A fitted three-class classifier, saved and loaded back."""
    X, y = _reviews()
    clf = TransformerTextClassifier(**TINY, max_epochs=3).fit(X, y)
    path = tmp_path_factory.mktemp("model") / "clf.safetensors"
    clf.save(path)
    return TransformerTextClassifier.load(path), X


@pytest.fixture(scope="module")
def regressor():
    """A fitted two-step quantile regressor and its windows."""
    series = np.sin(np.arange(140) / 3) + np.arange(140) / 50
    X, y = make_windows(series, window=10, horizon=2)
    reg = AttentionTimeSeriesRegressor(**TINY, max_epochs=2, quantiles=(0.1, 0.5, 0.9))
    return reg.fit(X, y), X


def _texts(X, npartitions=3):
    index = pd.RangeIndex(100, 100 + len(X))  # not 0..n: the index must carry over
    return dd.from_pandas(pd.Series(X, index=index), npartitions=npartitions)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "transform"])
def test_dask_series_of_texts_on_a_cluster_matches_the_estimator(
    classifier, method, dask_client
):
    clf, X = classifier
    result = predict_by_partition(clf, _texts(X), method).compute()
    expected = getattr(clf, method)(X)
    np.testing.assert_array_equal(result.index, np.arange(100, 100 + len(X)))
    if method == "predict":
        assert isinstance(result, pd.Series) and result.name == "predict"
        np.testing.assert_array_equal(result.to_numpy(), expected)
        return
    columns = clf.classes_ if method == "predict_proba" else clf.get_feature_names_out()
    assert list(result.columns) == list(columns)
    np.testing.assert_allclose(result.to_numpy(), expected, rtol=1e-5, atol=1e-6)


def test_bag_of_texts_on_a_cluster_matches_the_estimator(classifier, dask_client):
    clf, X = classifier
    bag = db.from_sequence(X, npartitions=4)
    result = predict_by_partition(clf, bag, "predict_proba").compute()
    assert len(result) == len(X)
    np.testing.assert_allclose(np.stack(result), clf.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize(
    ("method", "shape"), [("predict", (2,)), ("predict_quantiles", (2, 3))]
)
def test_dask_array_of_windows_on_a_cluster_matches_the_estimator(
    regressor, method, shape, dask_client
):
    reg, X = regressor
    # Chunked along both axes: blocks are rechunked to hold whole windows.
    windows = da.from_array(X, chunks=(37, 5))
    result = predict_by_partition(reg, windows, method)
    assert result.shape == (len(X), *shape)
    np.testing.assert_allclose(
        result.compute(), getattr(reg, method)(X), rtol=1e-5, atol=1e-6
    )


def test_dask_dataframe_of_lag_features_gives_one_column_per_step(regressor):
    reg, X = regressor
    frame = pd.DataFrame(X, columns=[f"lag_{i}" for i in range(X.shape[1])])
    fitted = AttentionTimeSeriesRegressor(**TINY, max_epochs=1).fit(frame, X[:, -1])
    lags = dd.from_pandas(frame, npartitions=3)
    result = predict_by_partition(fitted, lags).compute()
    assert isinstance(result, pd.Series)
    np.testing.assert_allclose(result.to_numpy(), fitted.predict(frame), atol=1e-6)
    two_steps = predict_by_partition(reg, dd.from_pandas(pd.DataFrame(X), 3))
    assert list(two_steps.columns) == ["step_1", "step_2"]
    np.testing.assert_allclose(
        two_steps.compute().to_numpy(), reg.predict(X), atol=1e-6
    )


def test_graph_holds_the_estimator_once_for_all_partitions(classifier):
    clf, X = classifier
    result = predict_by_partition(clf, _texts(X * 4, npartitions=8), "predict_proba")
    graph = dict(result.__dask_graph__())
    held = [key for key in graph if str(key).startswith("estimator-")]
    assert len(held) == 1
    model_bytes = len(pickle.dumps(clf))
    # Serialised into every partition's task, 8 copies would be needed.
    assert len(pickle.dumps(graph)) < 2 * model_bytes


def test_unknown_method_unfitted_estimator_and_plain_data_are_errors(classifier):
    clf, X = classifier
    with pytest.raises(ValueError, match="method='score' is not a method"):
        predict_by_partition(clf, _texts(X), "score")
    with pytest.raises(ValueError, match="method='predict_quantiles'"):
        predict_by_partition(clf, _texts(X), "predict_quantiles")
    with pytest.raises(NotFittedError):
        predict_by_partition(TransformerTextClassifier(), _texts(X))
    with pytest.raises(
        TypeError, match="must be a Dask DataFrame, Series, Bag or Array"
    ):
        predict_by_partition(clf, X)
    with pytest.raises(ValueError, match="4-D|shape"):
        predict_by_partition(clf, da.zeros((4, 2, 2, 2)))
