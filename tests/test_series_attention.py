"""The series regressor's attention: properties of the reported weights.

The weights must be distributions over the window's time steps, independent
of batch-mates, indexed so that column ``window - L`` is lag ``L``, and
faithful: in a series whose next value is a copy of one lag, that lag gets
the most weight and removing it changes the forecast more than removing
any other.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from sklearn_transformers import AttentionTimeSeriesRegressor, make_windows

WINDOW, LAG = 12, 5


def _tiny(**params):
    defaults = dict(
        embed_dim=8, num_heads=2, num_layers=1, ff_dim=16, max_epochs=8, random_state=0
    )
    return AttentionTimeSeriesRegressor(**{**defaults, **params})


def _lag_copy_series(n_times=400, seed=0):
    """x_t = x_{t-LAG} * 0.9 + noise: the next value lives at lag LAG."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n_times)
    for t in range(LAG, n_times):
        x[t] = 0.9 * x[t - LAG] + 0.3 * rng.standard_normal()
    return x


@pytest.fixture(scope="module")
def lag_model():
    X, y = make_windows(_lag_copy_series(), WINDOW)
    return _tiny().fit(X[:300], y[:300]), X[300:], y[300:]


@pytest.mark.parametrize("method", ["contribution", "attention"])
def test_weights_are_distributions(lag_model, method):
    reg, X, _ = lag_model
    weights = reg.attention_weights(X, method=method)
    assert weights.shape == (len(X), WINDOW)
    assert np.all(weights >= 0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)


def test_weights_do_not_depend_on_batch_mates(lag_model):
    reg, X, _ = lag_model
    alone = np.vstack([reg.attention_weights(X[i : i + 1]) for i in range(5)])
    np.testing.assert_allclose(reg.attention_weights(X[:5]), alone, atol=1e-6)


@pytest.mark.parametrize("method", ["contribution", "attention"])
def test_the_lag_that_carries_the_forecast_gets_the_most_weight(lag_model, method):
    reg, X, _ = lag_model
    weights = reg.attention_weights(X, method=method)
    # Lag L is column window - L (the value L steps before the target).
    column = WINDOW - LAG
    assert np.mean(weights.argmax(axis=1) == column) > 0.5
    assert weights[:, column].mean() > 3 / WINDOW


def test_removing_top_weighted_lag_changes_forecast_most(lag_model):
    reg, X, _ = lag_model
    weights = reg.attention_weights(X)
    base = reg.predict(X)
    rows = np.arange(len(X))
    top = weights.argmax(axis=1)
    bottom = weights.argmin(axis=1)
    changes = []
    for columns in (top, bottom):
        occluded = X.copy()
        occluded[rows, columns] = X.mean(axis=1)
        changes.append(np.abs(reg.predict(occluded) - base).mean())
    assert changes[0] > 3 * changes[1]


def test_horizon_steps_have_their_own_maps():
    X, y = make_windows(_lag_copy_series(), WINDOW, horizon=3)
    reg = _tiny().fit(X, y)
    maps = [reg.attention_weights(X[:20], step=s) for s in range(3)]
    np.testing.assert_allclose(
        reg.attention_weights(X[:20]), np.mean(maps, axis=0), atol=1e-6
    )
    for weights in maps:
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    # Step s forecasts x_{t+s}, which copies lag LAG - s of the first target.
    for s in range(3):
        assert maps[s].mean(axis=0).argmax() == WINDOW - LAG + s


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(method="gradient"), "method"),
        (dict(step=1), r"step must be None or an integer in \[0, 1\)"),
        (dict(step=-1), "step"),
        (dict(step=True), "step"),
    ],
)
def test_bad_attention_arguments_raise(lag_model, kwargs, match):
    reg, X, _ = lag_model
    with pytest.raises(ValueError, match=match):
        reg.attention_weights(X, **kwargs)


def test_benchmark_seasonal_lag_column_is_the_lag_before_the_target():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from faithfulness_series import occlude, seasonal_lag_column

    series = np.arange(100.0)
    X, y = make_windows(series, window=24)
    column = seasonal_lag_column(24, 12)
    np.testing.assert_array_equal(X[:, column], y - 12)
    X3 = X[:, :, None]
    occluded = occlude(X3, np.full((len(X), 1), column))
    np.testing.assert_allclose(occluded[:, column, 0], X.mean(axis=1))
    np.testing.assert_array_equal(
        np.delete(occluded[..., 0], column, 1), np.delete(X, column, 1)
    )
