"""Tests of AttentionTimeSeriesRegressor.

sklearn's generic estimator checks run in ``test_common.py``; this file tests
what they do not: composition with sklearn tools, persistence, the time-series
specific parameters and inputs, learning, determinism, incremental training,
and the errors raised before any training starts.
"""

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import TimeSeriesSplit, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from sklearn_transformers import AttentionTimeSeriesRegressor, make_windows

WINDOW = 12


def _tiny(**params):
    """A small, seeded regressor that trains in well under a second."""
    defaults = dict(
        embed_dim=8,
        num_heads=2,
        num_layers=1,
        ff_dim=16,
        max_epochs=3,
        random_state=0,
    )
    return AttentionTimeSeriesRegressor(**{**defaults, **params})


def _seasonal_series(n_times=200, noise=0.1, seed=0):
    """Sine of period 12 plus a mild trend and Gaussian noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_times)
    return np.sin(2 * np.pi * t / 12) + 0.01 * t + noise * rng.standard_normal(n_times)


def _windows(n_times=120, window=WINDOW, horizon=1, seed=0):
    return make_windows(_seasonal_series(n_times, seed=seed), window, horizon)


# --------------------------------------------------------- sklearn tooling
def test_pipeline_with_standard_scaler():
    X, y = _windows()
    pipe = make_pipeline(StandardScaler(), _tiny())
    pipe.fit(X[:80], y[:80])
    pred = pipe.predict(X[80:])
    assert pred.shape == (len(X) - 80,)
    assert np.all(np.isfinite(pred))
    assert np.isfinite(pipe.score(X[80:], y[80:]))


def test_cross_val_score_with_time_series_split():
    X, y = _windows()
    scores = cross_val_score(_tiny(), X, y, cv=TimeSeriesSplit(n_splits=3))
    assert scores.shape == (3,)
    assert np.all(np.isfinite(scores))


def test_clone_gives_unfitted_copy_with_same_params():
    X, y = _windows(n_times=60)
    reg = _tiny(pooling="mean", embed_dim=16).fit(X, y)
    cloned = clone(reg)
    assert cloned.get_params() == reg.get_params()
    assert not hasattr(cloned, "net_")
    assert not hasattr(cloned, "module_")
    with pytest.raises(NotFittedError):
        cloned.predict(X)


@pytest.mark.parametrize(
    "round_trip",
    [
        pytest.param(lambda est, path: pickle.loads(pickle.dumps(est)), id="pickle"),
        pytest.param(
            lambda est, path: (joblib.dump(est, path), joblib.load(path))[1],
            id="joblib",
        ),
    ],
)
def test_persistence_round_trip_keeps_predictions(round_trip, tmp_path):
    X, y = _windows(n_times=60)
    reg = _tiny(linear_shortcut=False).fit(X, y)
    restored = round_trip(reg, tmp_path / "reg.joblib")
    np.testing.assert_array_equal(restored.predict(X), reg.predict(X))
    np.testing.assert_array_equal(restored.transform(X), reg.transform(X))
    assert restored.n_iter_ == reg.n_iter_


# ---------------------------------------------------------- input formats
def test_dataframe_sets_feature_names_in():
    X, y = _windows(n_times=60)
    columns = [f"lag_{WINDOW - i}" for i in range(WINDOW)]
    df = pd.DataFrame(X, columns=columns)
    reg = _tiny().fit(df, pd.Series(y))
    np.testing.assert_array_equal(reg.feature_names_in_, columns)
    assert reg.n_features_in_ == WINDOW
    with pytest.warns(UserWarning, match="feature names"):
        from_array = reg.predict(X)
    np.testing.assert_allclose(reg.predict(df), from_array)


def test_numpy_X_sets_no_feature_names():
    X, y = _windows(n_times=60)
    reg = _tiny().fit(X, y)
    assert not hasattr(reg, "feature_names_in_")
    assert reg.n_features_in_ == WINDOW


def test_2d_windows_equal_3d_windows_with_one_feature():
    X, y = _windows(n_times=60)
    reg = _tiny().fit(X, y)
    np.testing.assert_allclose(reg.predict(X[:, :, None]), reg.predict(X), rtol=1e-6)


def test_multivariate_windows_from_dataframe():
    series = _seasonal_series(100)
    frame = pd.DataFrame(
        {
            "load": series,
            "temperature": np.cos(np.arange(100) / 5.0),
            "weekday": np.arange(100) % 7,
        }
    )
    X, y = make_windows(frame, window=8, target="load")
    assert X.shape == (92, 8, 3)
    reg = _tiny().fit(X, y)
    assert reg.window_shape_ == (8, 3)
    assert reg.predict(X).shape == (92,)
    assert reg.attention_weights(X).shape == (92, 8)
    assert reg.transform(X).shape == (92, 8)


@pytest.mark.parametrize("horizon", [2, 5])
def test_horizon_gives_2d_predictions(horizon):
    X, y = _windows(n_times=60, horizon=horizon)
    assert y.shape == (len(X), horizon)
    reg = _tiny().fit(X, y)
    assert reg.n_outputs_ == horizon
    assert reg.predict(X).shape == (len(X), horizon)
    assert np.isfinite(reg.score(X, y))


def test_1d_y_gives_1d_predictions_and_2d_column_y_gives_2d():
    X, y = _windows(n_times=60)
    assert _tiny().fit(X, y).predict(X).shape == (len(X),)
    assert _tiny().fit(X, y[:, None]).predict(X).shape == (len(X), 1)


# ------------------------------------------------------- standardisation
def test_units_invariance_with_standardize():
    X, y = _windows(n_times=120)
    reg = _tiny(max_epochs=5)
    r2 = reg.fit(X[:90], y[:90]).score(X[90:], y[90:])

    scale, offset = 1e4, 1e5
    X_units, y_units = X * scale + offset, y * scale + offset
    reg_units = _tiny(max_epochs=5).fit(X_units[:90], y_units[:90])
    r2_units = reg_units.score(X_units[90:], y_units[90:])
    assert abs(r2 - r2_units) < 0.02
    # Forecasts come back in the units of y.
    pred_units = reg_units.predict(X_units[90:])
    assert abs(np.mean(pred_units) - np.mean(y_units[90:])) < 0.5 * scale


def test_standardize_false_keeps_identity_scaling():
    X, y = _windows(n_times=60, horizon=2)
    reg = _tiny(standardize=False).fit(X, y)
    np.testing.assert_array_equal(reg.x_mean_, np.zeros(1))
    np.testing.assert_array_equal(reg.x_scale_, np.ones(1))
    np.testing.assert_array_equal(reg.y_mean_, np.zeros(2))
    np.testing.assert_array_equal(reg.y_scale_, np.ones(2))
    pred = reg.predict(X)
    assert pred.shape == (len(X), 2)
    assert np.all(np.isfinite(pred))


def test_constant_series_is_forecast_as_the_constant():
    X, y = make_windows(np.full(60, 7.5), window=WINDOW)
    reg = _tiny().fit(X, y)
    np.testing.assert_allclose(reg.predict(X), 7.5, atol=0.05)


def test_standardize_true_learns_per_feature_statistics():
    X = np.stack(
        [np.full((30, 4), 5.0), np.full((30, 4), -2.0)], axis=2
    ) + np.random.default_rng(0).standard_normal((30, 4, 2))
    y = np.random.default_rng(1).standard_normal(30) * 3 + 10
    reg = _tiny(max_epochs=1).fit(X, y)
    assert reg.x_mean_.shape == (2,)
    np.testing.assert_allclose(reg.x_mean_, X.mean(axis=(0, 1)))
    np.testing.assert_allclose(reg.y_mean_, [y.mean()])
    np.testing.assert_allclose(reg.y_scale_, [y.std()])


@pytest.mark.parametrize("quantiles", [None, (0.1, 0.5, 0.9)])
def test_window_standardize_is_affine_equivariant(quantiles):
    series = _seasonal_series(150)
    X, y = make_windows(series, WINDOW, horizon=2)
    scale, offset = 250.0, 4e4
    fits = [
        _tiny(standardize="window", quantiles=quantiles).fit(
            X[:100] * a + b, y[:100] * a + b
        )
        for a, b in [(1.0, 0.0), (scale, offset)]
    ]
    pred, pred_scaled = (
        reg.predict(X[100:] * a + b)
        for reg, (a, b) in zip(fits, [(1.0, 0.0), (scale, offset)], strict=True)
    )
    np.testing.assert_allclose(pred_scaled, pred * scale + offset, rtol=1e-5)
    if quantiles is not None:
        np.testing.assert_allclose(
            fits[1].predict_quantiles(X[100:] * scale + offset),
            fits[0].predict_quantiles(X[100:]) * scale + offset,
            rtol=1e-5,
        )


def test_window_standardize_scales_only_the_target_feature():
    # Feature 1 carries the target's past; feature 0 is an exogenous input
    # whose scale must not matter to the forecast's units.
    rng = np.random.default_rng(0)
    series = _seasonal_series(150)
    other = rng.standard_normal(150)
    X, y = make_windows(np.stack([other, series], axis=1), WINDOW, target=1)
    reg = _tiny(standardize="window", target_feature=1).fit(X[:100], y[:100])
    np.testing.assert_array_equal(reg.x_mean_[1], 0.0)
    np.testing.assert_array_equal(reg.x_scale_[1], 1.0)
    assert reg.x_scale_[0] != 1.0
    shifted = X.copy()
    shifted[:, :, 1] = shifted[:, :, 1] * 10 + 3
    reg_shifted = _tiny(standardize="window", target_feature=1).fit(
        shifted[:100], y[:100] * 10 + 3
    )
    np.testing.assert_allclose(
        reg_shifted.predict(shifted[100:]), reg.predict(X[100:]) * 10 + 3, rtol=1e-5
    )


def test_window_standardize_shares_one_model_across_levels():
    # Two copies of a seasonal series, 1e4 apart in level and 100x in spread:
    # with per-window scaling one model forecasts both as well as each alone.
    base = _seasonal_series(200, noise=0.05)
    X, y = make_windows(base, WINDOW)
    X_both = np.concatenate([X, X * 100 + 1e4])
    y_both = np.concatenate([y, y * 100 + 1e4])
    reg = _tiny(standardize="window", max_epochs=10).fit(X_both, y_both)
    small = r2_score(y, reg.predict(X))
    large = r2_score(y * 100 + 1e4, reg.predict(X * 100 + 1e4))
    assert small > 0.9
    assert large > 0.9


def test_window_standardize_constant_windows_keep_the_constant():
    X, y = make_windows(np.full(60, 7.5), window=WINDOW)
    reg = _tiny(standardize="window").fit(X, y)
    np.testing.assert_allclose(reg.predict(X), 7.5, atol=0.05)


# ------------------------------------------------------------- quantiles
@pytest.mark.parametrize("horizon", [1, 3])
def test_predict_quantiles_shapes_and_sorted(horizon):
    X, y = _windows(n_times=80, horizon=horizon)
    if horizon == 1:
        y = y.ravel()
    reg = _tiny(quantiles=[0.9, 0.5, 0.1, 0.25]).fit(X, y)
    np.testing.assert_array_equal(reg.quantiles_, [0.1, 0.25, 0.5, 0.9])
    quantiles = reg.predict_quantiles(X)
    expected = (len(X), 4) if horizon == 1 else (len(X), horizon, 4)
    assert quantiles.shape == expected
    assert np.all(np.diff(quantiles, axis=-1) >= 0)
    # predict is the median column.
    np.testing.assert_array_equal(reg.predict(X), quantiles[..., 2])


def test_quantile_interval_covers_about_80_percent():
    rng = np.random.default_rng(0)
    t = np.arange(1200)
    series = np.sin(2 * np.pi * t / 12) + 0.5 * rng.standard_normal(len(t))
    X, y = make_windows(series, WINDOW)
    reg = _tiny(quantiles=(0.1, 0.5, 0.9), max_epochs=5).fit(X[:900], y[:900])
    low, _, high = reg.predict_quantiles(X[900:]).T
    coverage = np.mean((y[900:] >= low) & (y[900:] <= high))
    assert 0.65 <= coverage <= 0.92
    # The interval has about the width of the noise's 80% band (2 * 1.28 * 0.5).
    assert 0.6 < np.median(high - low) < 2.0


def test_median_only_quantile_model_learns():
    X, y = _windows(n_times=200)
    reg = _tiny(quantiles=(0.5,), max_epochs=5).fit(X[:150], y[:150])
    assert reg.predict_quantiles(X[150:]).shape == (len(X) - 150, 1)
    assert reg.score(X[150:], y[150:]) > 0.8


def test_predict_quantiles_without_quantiles_raises():
    X, y = _windows(n_times=40)
    reg = _tiny().fit(X, y)
    with pytest.raises(ValueError, match="quantiles=None"):
        reg.predict_quantiles(X)


@pytest.mark.parametrize("round_trip", ["pickle", "save"])
def test_quantile_and_window_models_survive_persistence(round_trip, tmp_path):
    X, y = _windows(n_times=60, horizon=2)
    reg = _tiny(standardize="window", quantiles=(0.2, 0.5, 0.8)).fit(X, y)
    if round_trip == "pickle":
        loaded = pickle.loads(pickle.dumps(reg))
    else:
        reg.save(tmp_path / "reg.safetensors")
        loaded = AttentionTimeSeriesRegressor.load(tmp_path / "reg.safetensors")
    np.testing.assert_array_equal(loaded.predict_quantiles(X), reg.predict_quantiles(X))
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


# ------------------------------------------------------ model variants
@pytest.mark.parametrize("positional_encoding", ["sinusoidal", "learned"])
@pytest.mark.parametrize("pooling", ["last", "mean"])
@pytest.mark.parametrize("linear_shortcut", [True, False])
def test_model_variants_fit_and_predict(positional_encoding, pooling, linear_shortcut):
    X, y = _windows(n_times=50)
    reg = _tiny(
        positional_encoding=positional_encoding,
        pooling=pooling,
        linear_shortcut=linear_shortcut,
        max_epochs=2,
    ).fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == (len(X),)
    assert np.all(np.isfinite(pred))
    weights = reg.attention_weights(X)
    assert weights.shape == (len(X), WINDOW)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)


# -------------------------------------------------------------- learning
def test_learns_noisy_seasonal_series_better_than_naive_forecasts():
    series = _seasonal_series(300, noise=0.3, seed=0)
    X, y = make_windows(series, window=24)
    n_test = 48
    X_train, y_train = X[:-n_test], y[:-n_test]
    X_test, y_test = X[-n_test:], y[-n_test:]
    reg = AttentionTimeSeriesRegressor(
        embed_dim=16,
        num_heads=2,
        num_layers=1,
        ff_dim=32,
        max_epochs=20,
        random_state=0,
    ).fit(X_train, y_train)
    mae = np.mean(np.abs(reg.predict(X_test) - y_test))
    seasonal_naive = np.mean(np.abs(X_test[:, -12] - y_test))
    last_value = np.mean(np.abs(X_test[:, -1] - y_test))
    assert mae < seasonal_naive
    assert mae < last_value
    assert r2_score(y_test, reg.predict(X_test)) > 0.5


# ------------------------------------------------------- introspection
@pytest.mark.parametrize("pooling", ["last", "mean"])
@pytest.mark.parametrize(("num_layers", "num_heads"), [(1, 2), (2, 1)])
def test_attention_weights_are_distributions_over_time_steps(
    pooling, num_layers, num_heads
):
    X, y = _windows(n_times=60)
    reg = _tiny(pooling=pooling, num_layers=num_layers, num_heads=num_heads)
    reg.fit(X, y)
    weights = reg.attention_weights(X[:10])
    assert weights.shape == (10, WINDOW)
    assert np.all(weights >= 0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)


def test_transform_and_feature_names_out():
    X, y = _windows(n_times=60)
    reg = _tiny(embed_dim=16)
    embeddings = reg.fit_transform(X, y)
    assert embeddings.shape == (len(X), 16)
    assert embeddings.dtype == np.float32
    np.testing.assert_allclose(reg.transform(X), embeddings)
    names = reg.get_feature_names_out()
    assert len(names) == 16
    assert len(set(names)) == 16


def test_predictions_do_not_depend_on_batch_mates():
    X, y = _windows(n_times=60)
    reg = _tiny().fit(X, y)
    full = reg.predict(X)
    one_by_one = np.array([reg.predict(X[i : i + 1])[0] for i in range(5)])
    np.testing.assert_allclose(one_by_one, full[:5], rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------- determinism
def test_same_random_state_gives_identical_predictions():
    X, y = _windows(n_times=60)
    first = _tiny(random_state=3).fit(X, y).predict(X)
    second = _tiny(random_state=3).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)


def test_fit_leaves_global_torch_rng_untouched():
    X, y = _windows(n_times=40)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _tiny(max_epochs=1).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_different_random_state_gives_different_predictions():
    X, y = _windows(n_times=60)
    first = _tiny(random_state=0, linear_shortcut=False).fit(X, y).predict(X)
    second = _tiny(random_state=1, linear_shortcut=False).fit(X, y).predict(X)
    assert not np.allclose(first, second)


# --------------------------------------------------- incremental training
def test_warm_start_accumulates_epochs_and_continues_training():
    X, y = _windows(n_times=60)
    reg = _tiny(max_epochs=2, warm_start=True, linear_shortcut=False)
    reg.fit(X, y)
    assert reg.n_iter_ == 2
    module = reg.module_
    reg.fit(X, y)
    assert reg.n_iter_ == 4
    assert len(reg.history_) == 4
    assert reg.module_ is module

    fresh = _tiny(max_epochs=2, linear_shortcut=False).fit(X, y)
    assert not np.allclose(reg.predict(X), fresh.predict(X))


def test_without_warm_start_refit_starts_over():
    X, y = _windows(n_times=60)
    reg = _tiny(max_epochs=2)
    first = reg.fit(X, y).predict(X)
    reg.fit(X, y)
    assert reg.n_iter_ == 2
    np.testing.assert_array_equal(reg.predict(X), first)


def test_partial_fit_adds_one_epoch_per_call():
    X, y = _windows(n_times=60)
    reg = _tiny()
    for expected in (1, 2, 3):
        reg.partial_fit(X, y)
        assert reg.n_iter_ == expected
    assert len(reg.history_) == 3
    assert reg.predict(X).shape == (len(X),)


def test_partial_fit_rejects_a_different_window_width():
    X, y = _windows(n_times=60)
    reg = _tiny().partial_fit(X, y)
    with pytest.raises(ValueError, match="features"):
        reg.partial_fit(X[:, 1:], y)
    assert reg.n_iter_ == 1


# -------------------------------------------------------- early stopping
def test_early_stopping_records_valid_loss():
    X, y = _windows(n_times=100)
    reg = _tiny(
        early_stopping=True, max_epochs=30, n_iter_no_change=2, validation_fraction=0.2
    ).fit(X, y)
    assert 1 <= reg.n_iter_ <= 30
    assert all("valid_loss" in epoch for epoch in reg.history_)
    assert np.all(np.isfinite(reg.history_[:, "valid_loss"]))


@pytest.mark.parametrize(("n_samples", "validation_fraction"), [(1, 0.1), (5, 0.9)])
def test_early_stopping_without_training_samples_raises(n_samples, validation_fraction):
    X, y = _windows(n_times=60)
    reg = _tiny(early_stopping=True, validation_fraction=validation_fraction)
    with pytest.raises(ValueError, match="no training sample"):
        reg.fit(X[:n_samples], y[:n_samples])
    assert not hasattr(reg, "net_")


def test_early_stopping_with_one_training_sample_left_works():
    X, y = _windows(n_times=60)
    # ceil(0.5 * 3) = 2 windows held out, 1 left to train on.
    reg = _tiny(early_stopping=True, validation_fraction=0.5, max_epochs=2)
    reg.fit(X[:3], y[:3])
    assert reg.predict(X[:3]).shape == (3,)


# ------------------------------------------------------- device, callbacks
@pytest.mark.parametrize("device", ["cpu", "auto", torch.device("cpu")])
def test_cpu_devices_fit(device):
    X, y = _windows(n_times=40)
    reg = _tiny(device=device, max_epochs=1).fit(X, y)
    assert reg.predict(X).shape == (len(X),)
    assert reg.device is device


class _RecordEpoch(Callback):
    def on_epoch_end(self, net, **kwargs):
        net.history.record("custom", len(net.history))


def test_user_callbacks_run_each_epoch():
    X, y = _windows(n_times=40)
    callback = _RecordEpoch()
    reg = _tiny(max_epochs=3, callbacks=[callback]).fit(X, y)
    assert reg.history_[:, "custom"] == [1, 2, 3]
    assert reg.callbacks[0] is callback


# --------------------------------------------------------------- verbose
def test_verbose_1_prints_one_line_per_epoch(capsys):
    X, y = _windows(n_times=40)
    _tiny(max_epochs=3, verbose=1).fit(X, y)
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    lines = [words for words in lines if words]
    epoch_rows = [int(words[0]) for words in lines if words[0].isdigit()]
    assert epoch_rows == [1, 2, 3]
    # Besides the epoch rows, at most a table header (titles and a rule).
    assert len(lines) - len(epoch_rows) <= 2


def test_verbose_0_prints_nothing(capsys):
    X, y = _windows(n_times=40)
    _tiny(max_epochs=3, verbose=0, early_stopping=True).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


# ------------------------------------------------------------ bad inputs
def _bad_X(kind):
    X, _ = _windows(n_times=40)
    X = X.copy()
    if kind == "nan":
        X[3, 2] = np.nan
    elif kind == "inf":
        X[3, 2] = np.inf
    elif kind == "-inf":
        X[0, 0] = -np.inf
    return X


@pytest.mark.parametrize(
    ("kind", "match"), [("nan", "NaN"), ("inf", "infinity"), ("-inf", "infinity")]
)
def test_non_finite_X_raises_before_training(kind, match):
    _, y = _windows(n_times=40)
    reg = _tiny()
    with pytest.raises(ValueError, match=match):
        reg.fit(_bad_X(kind), y)
    assert not hasattr(reg, "net_")


@pytest.mark.parametrize(("value", "match"), [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_y_raises_before_training(value, match):
    X, y = _windows(n_times=40)
    y = y.copy()
    y[5] = value
    reg = _tiny()
    with pytest.raises(ValueError, match=match):
        reg.fit(X, y)
    assert not hasattr(reg, "net_")


@pytest.mark.parametrize("kind", ["nan", "inf"])
def test_non_finite_X_at_predict_raises(kind):
    X, y = _windows(n_times=40)
    reg = _tiny(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="NaN|infinity"):
        reg.predict(_bad_X(kind))


def test_string_X_raises():
    _, y = _windows(n_times=40)
    X = np.array([["a"] * WINDOW] * len(y))
    reg = _tiny()
    with pytest.raises(ValueError, match="could not convert"):
        reg.fit(X, y)
    assert not hasattr(reg, "net_")


def test_1d_X_raises():
    X, y = _windows(n_times=40)
    reg = _tiny()
    with pytest.raises(ValueError, match="2D"):
        reg.fit(X[:, 0], y)
    assert not hasattr(reg, "net_")


def test_4d_X_raises():
    X, y = _windows(n_times=40)
    reg = _tiny()
    with pytest.raises(ValueError, match="3-D"):
        reg.fit(X[:, :, None, None], y)
    assert not hasattr(reg, "net_")


@pytest.mark.parametrize(
    ("make_bad", "match"),
    [
        pytest.param(lambda X: X[:, 1:], "features", id="shorter-window"),
        pytest.param(
            lambda X: np.concatenate([X, X[:, :1]], axis=1),
            "features",
            id="longer-window",
        ),
    ],
)
def test_wrong_window_at_predict_raises_2d(make_bad, match):
    X, y = _windows(n_times=40)
    reg = _tiny(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=match):
        reg.predict(make_bad(X))


@pytest.mark.parametrize(
    "make_bad",
    [
        pytest.param(lambda X: X[:, :, :1], id="fewer-features"),
        pytest.param(lambda X: np.concatenate([X, X], axis=2), id="more-features"),
        pytest.param(lambda X: X[:, 1:, :], id="shorter-window"),
        pytest.param(lambda X: X[:, :, 0], id="3d-fit-2d-predict"),
    ],
)
def test_wrong_window_at_predict_raises_3d(make_bad):
    X = np.random.default_rng(0).standard_normal((30, 6, 2))
    y = X[:, -1, 0]
    reg = _tiny(max_epochs=1).fit(X, y)
    for method in (reg.predict, reg.transform, reg.attention_weights):
        with pytest.raises(ValueError, match="features|shape"):
            method(make_bad(X))


def test_y_length_mismatch_raises():
    X, y = _windows(n_times=40)
    reg = _tiny()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        reg.fit(X, y[:-1])
    assert not hasattr(reg, "net_")


def test_horizon_mismatch_in_partial_fit_raises():
    X, y = _windows(n_times=40, horizon=2)
    reg = _tiny().partial_fit(X, y)
    with pytest.raises(ValueError, match="output"):
        reg.partial_fit(X, np.column_stack([y, y]))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(embed_dim=30, num_heads=4), "divisible"),
        (dict(pooling="cls"), "pooling"),
        (dict(dropout=2), "dropout"),
        (dict(dropout=-0.1), "dropout"),
        (dict(positional_encoding="rotary"), "positional_encoding"),
        (dict(embed_dim=0), "embed_dim"),
        (dict(max_epochs=0), "max_epochs"),
        (dict(lr=0.0), "lr"),
        (dict(validation_fraction=1.0), "validation_fraction"),
        (dict(standardize="yes"), "standardize"),
        (dict(target_feature=-1), "target_feature"),
        (dict(standardize="window", target_feature=1), "target_feature=1"),
        (dict(quantiles=(0.1, 0.9)), "include 0.5"),
        (dict(quantiles=(0.0, 0.5)), r"quantiles\[0\] is 0.0"),
        (dict(quantiles=(0.5, 1.0)), r"quantiles\[1\] is 1.0"),
        (dict(quantiles=(0.5, float("nan"))), "strictly between"),
        (dict(quantiles=(0.5, 0.5)), "repeat"),
        (dict(quantiles=()), "non-empty"),
        (dict(quantiles=[[0.5]]), "1-D"),
        (dict(device="tpu"), "device"),
    ],
)
def test_invalid_hyperparameters_raise_before_training(params, match):
    X, y = _windows(n_times=40)
    reg = _tiny(**params)
    with pytest.raises(ValueError, match=match):
        reg.fit(X, y)
    assert not hasattr(reg, "net_")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_unavailable_cuda_raises(device):
    X, y = _windows(n_times=40)
    reg = _tiny(device=device)
    with pytest.raises(ValueError, match="CUDA is not available"):
        reg.fit(X, y)
    assert not hasattr(reg, "net_")


@pytest.mark.parametrize(
    "method", ["predict", "transform", "attention_weights", "get_feature_names_out"]
)
def test_methods_before_fit_raise_not_fitted(method):
    X, _ = _windows(n_times=40)
    reg = _tiny()
    args = () if method == "get_feature_names_out" else (X,)
    with pytest.raises(NotFittedError):
        getattr(reg, method)(*args)


def test_last_pooling_skips_end_padding():
    import torch

    from sklearn_transformers._modules import pool

    hidden = torch.arange(12, dtype=torch.float32).reshape(2, 3, 2)
    key_mask = torch.tensor([[True, True, False], [True, True, True]])
    pooled = pool(hidden, key_mask, "last")
    assert torch.equal(pooled, torch.stack([hidden[0, 1], hidden[1, 2]]))


def test_quantiles_with_sample_weight_train_and_zero_weight_ignores_windows():
    X, y = _windows(n_times=160)
    weights = np.ones(len(y))
    weights[:40] = 0.0
    corrupted = y.copy()
    corrupted[:40] += 100.0  # ignored when their weight is 0
    params = dict(quantiles=(0.1, 0.5, 0.9), linear_shortcut=False)
    fitted = _tiny(**params).fit(X, corrupted, sample_weight=weights)
    clean = _tiny(**params).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(fitted.predict(X), clean.predict(X), rtol=1e-5)
    assert np.all(np.diff(fitted.predict_quantiles(X), axis=-1) >= 0)
