"""The regressor inside skforecast and MAPIE, and the lag order they use."""

import numpy as np
import pandas as pd
import pytest

from sklearn_transformers import AttentionTimeSeriesRegressor, make_windows


def _tiny(**params):
    defaults = dict(
        embed_dim=8, num_heads=2, num_layers=1, ff_dim=16, max_epochs=3, random_state=0
    )
    return AttentionTimeSeriesRegressor(**{**defaults, **params})


def _series(n_times=150, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_times)
    values = (
        10 + np.sin(2 * np.pi * t / 12) + 0.01 * t + 0.1 * rng.standard_normal(n_times)
    )
    return pd.Series(
        values, index=pd.date_range("2000-01-01", periods=n_times, freq="MS"), name="y"
    )


def test_newest_first_on_reversed_columns_equals_oldest_first():
    X, y = make_windows(_series().to_numpy(), window=12)
    oldest = _tiny().fit(X, y)
    newest = _tiny(lag_order="newest_first").fit(X[:, ::-1], y)
    np.testing.assert_allclose(newest.predict(X[:, ::-1]), oldest.predict(X), rtol=1e-5)
    # Weights come back in X's column order: reversed, the same numbers.
    np.testing.assert_allclose(
        newest.attention_weights(X[:5, ::-1]),
        oldest.attention_weights(X[:5])[:, ::-1],
        rtol=1e-5,
    )


def test_invalid_lag_order_raises():
    X, y = make_windows(_series().to_numpy(), window=12)
    with pytest.raises(ValueError, match="lag_order"):
        _tiny(lag_order="backwards").fit(X, y)


def _skforecast_interval(lower, upper):
    """``interval`` for skforecast: percentiles in 0.19, fractions in 0.26 (CI)."""
    from importlib.metadata import version

    major, minor = (int(part) for part in version("skforecast").split(".")[:2])
    if (major, minor) < (0, 20):
        return [lower, upper]
    return [lower / 100, upper / 100]


def test_skforecast_recursive_fit_predict_interval_and_backtesting():
    from skforecast.model_selection import TimeSeriesFold, backtesting_forecaster
    from skforecast.recursive import ForecasterRecursive

    y = _series()
    forecaster = ForecasterRecursive(estimator=_tiny(lag_order="newest_first"), lags=12)
    forecaster.fit(y=y.iloc[:120], store_in_sample_residuals=True)
    # skforecast's columns are lag_1 (newest) ... lag_12; the weights follow them.
    # Older skforecast releases pass a DataFrame (names recorded), newer ones
    # a bare array; either way the 12 lags arrive newest first.
    names = getattr(forecaster.estimator, "feature_names_in_", None)
    if names is not None:
        assert list(names[:2]) == ["lag_1", "lag_2"]
    assert forecaster.estimator.n_features_in_ == 12
    predictions = forecaster.predict(steps=6)
    assert predictions.index.equals(y.index[120:126])
    interval = forecaster.predict_interval(
        steps=6, interval=_skforecast_interval(10, 90), n_boot=20
    )
    assert (interval["lower_bound"] <= interval["upper_bound"]).all()
    assert np.abs(predictions.to_numpy() - y.iloc[120:126].to_numpy()).mean() < 1.5
    cv = TimeSeriesFold(steps=6, initial_train_size=120, refit=False, verbose=False)
    metric, backtest = backtesting_forecaster(
        forecaster,
        y=y,
        cv=cv,
        metric="mean_absolute_error",
        n_jobs=1,
        show_progress=False,
    )
    assert len(backtest) == 30 and np.isfinite(metric.iloc[0, 0])


def test_skforecast_direct():
    from skforecast.direct import ForecasterDirect

    y = _series()
    forecaster = ForecasterDirect(
        estimator=_tiny(lag_order="newest_first"), steps=3, lags=12, n_jobs=1
    )
    forecaster.fit(y=y.iloc[:120])
    predictions = forecaster.predict()
    assert len(predictions) == 3
    assert np.abs(predictions.to_numpy() - y.iloc[120:123].to_numpy()).mean() < 1.5


def test_mapie_split_conformal_interval_covers():
    from mapie.regression import SplitConformalRegressor

    X, y = make_windows(_series(600, seed=1).to_numpy(), window=12)
    mapie = SplitConformalRegressor(_tiny(), confidence_level=0.8, prefit=False)
    mapie.fit(X[:300], y[:300]).conformalize(X[300:450], y[300:450])
    prediction, intervals = mapie.predict_interval(X[450:])
    low, high = intervals[:, 0, 0], intervals[:, 1, 0]
    assert prediction.shape == (len(X) - 450,)
    coverage = np.mean((y[450:] >= low) & (y[450:] <= high))
    assert 0.65 <= coverage <= 0.95
