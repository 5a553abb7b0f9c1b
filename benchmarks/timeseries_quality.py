"""Forecast quality and fit time of AttentionTimeSeriesRegressor vs baselines.

One-step-ahead forecasts on the last 20% of each series, the estimator with
its default hyperparameters next to seasonal naive and Ridge on the same lags,
all in one run:

- AirPassengers, window 24 (monthly; seasonal naive = 12 months back),
  trained on all windows before the last 29 months;
- elecdemand ``Demand``, window 96 (half-hourly; seasonal naive = one day
  back), univariate and with ``Temperature`` and ``WorkDay`` as extra
  features; and window 336 for Ridge, the window that suits it.

Run: ``python benchmarks/timeseries_quality.py [--quick] [--seeds 3]``
"""

import argparse

from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error

from sklearn_transformers import AttentionTimeSeriesRegressor, make_windows

from _common import (
    load_air_passengers,
    load_elecdemand,
    machine_line,
    markdown_table,
    median,
    timed,
)


def split(X, y, n_test, max_train=None):
    """The last ``n_test`` windows are the test set; training uses at most
    the ``max_train`` windows just before it."""
    start = 0 if max_train is None else max(len(y) - n_test - max_train, 0)
    return X[start:-n_test], y[start:-n_test], X[-n_test:], y[-n_test:]


def seasonal_naive(X_test, season):
    """The value ``season`` steps before the target (window must cover it)."""
    window = X_test.shape[1]
    last = X_test if X_test.ndim == 2 else X_test[:, :, 0]
    return last[:, window - season]


def evaluate(
    name,
    X,
    y,
    season,
    n_test,
    *,
    seeds,
    estimator_params,
    ridge_X=None,
    ridge_y=None,
    max_train=None,
):
    """Rows of (model, MAE, MAE / Ridge, fit seconds) for one task."""
    X_train, y_train, X_test, y_test = split(X, y, n_test, max_train)
    flat_train = X_train.reshape(len(X_train), -1)
    flat_test = X_test.reshape(len(X_test), -1)
    ridge, ridge_s = timed(Ridge(alpha=1.0).fit, flat_train, y_train)
    ridge_mae = mean_absolute_error(y_test, ridge.predict(flat_test))
    rows = [
        [
            name,
            "seasonal naive",
            f"{mean_absolute_error(y_test, seasonal_naive(X_test, season)):.4g}",
            "",
            "",
        ],
        [
            name,
            f"Ridge, same {X.shape[1]} lags",
            f"{ridge_mae:.4g}",
            "1.00",
            f"{ridge_s:.2f}",
        ],
    ]
    if ridge_X is not None:  # Ridge at the window that suits it, same test targets
        wide_train, wide_y, wide_test, _ = split(ridge_X, ridge_y, n_test, max_train)
        wide = Ridge(alpha=1.0).fit(wide_train.reshape(len(wide_train), -1), wide_y)
        wide_mae = mean_absolute_error(
            y_test, wide.predict(wide_test.reshape(len(wide_test), -1))
        )
        rows.append(
            [
                name,
                f"Ridge, {ridge_X.shape[1]} lags",
                f"{wide_mae:.4g}",
                f"{wide_mae / ridge_mae:.2f}",
                "",
            ]
        )
    maes, times = [], []
    for seed in range(seeds):
        model = AttentionTimeSeriesRegressor(random_state=seed, **estimator_params)
        _, seconds = timed(model.fit, X_train, y_train)
        maes.append(mean_absolute_error(y_test, model.predict(X_test)))
        times.append(seconds)
    mae = median(maes)
    spread = f" ({min(maes):.4g}-{max(maes):.4g})" if seeds > 1 else ""
    rows.append(
        [
            name,
            "AttentionTimeSeriesRegressor",
            f"{mae:.4g}{spread}",
            f"{mae / ridge_mae:.2f}",
            f"{median(times):.1f}",
        ]
    )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument(
        "--seeds", type=int, default=3, help="AirPassengers fits (median)"
    )
    parser.add_argument(
        "--elec-seeds", type=int, default=1, help="elecdemand fits per task (median)"
    )
    parser.add_argument(
        "--train-windows",
        type=int,
        default=4000,
        help="elecdemand: train every model on the windows of this many half-hours "
        "before the test period (all 14,000 take ~8 min per attention fit on 2 cores)",
    )
    args = parser.parse_args(argv)
    params = {}
    seeds, elec_seeds = args.seeds, args.elec_seeds
    if args.quick:
        params = dict(embed_dim=8, num_heads=2, num_layers=1, ff_dim=16, max_epochs=2)
        seeds = elec_seeds = 1

    rows = []
    air = load_air_passengers()
    X, y = make_windows(air, window=24)
    # The last 20% of the series (29 months) are forecast one step ahead.
    rows += evaluate(
        "AirPassengers, window 24",
        X,
        y,
        12,
        round(0.2 * len(air)),
        seeds=seeds,
        estimator_params=params,
    )

    demand = load_elecdemand()
    if args.quick:
        demand = demand.iloc[: 48 * 20]
    n_test = round(0.2 * len(demand))
    X, y = make_windows(demand["Demand"], window=96)
    X336, y336 = (
        make_windows(demand["Demand"], window=336) if not args.quick else (None, None)
    )
    rows += evaluate(
        "elecdemand Demand, window 96",
        X,
        y,
        48,
        n_test,
        seeds=elec_seeds,
        estimator_params=params,
        ridge_X=X336,
        ridge_y=y336,
        max_train=args.train_windows,
    )
    X, y = make_windows(demand, window=96, target="Demand")
    X336, y336 = (
        make_windows(demand, window=336, target="Demand")
        if not args.quick
        else (None, None)
    )
    rows += evaluate(
        "elecdemand + Temperature, WorkDay, window 96",
        X,
        y,
        48,
        n_test,
        seeds=elec_seeds,
        estimator_params=params,
        ridge_X=X336,
        ridge_y=y336,
        max_train=args.train_windows,
    )

    print(
        f"Machine: {machine_line()}; median of {seeds} (AirPassengers) and "
        f"{elec_seeds} (elecdemand) seed(s) for the estimator "
        "(min-max in brackets). One-step-ahead forecasts of the last 20% of each "
        f"series; elecdemand models train on the {args.train_windows} windows "
        "before the test period.\n"
    )
    print(
        markdown_table(["task", "model", "MAE", "MAE / Ridge same lags", "fit s"], rows)
    )


if __name__ == "__main__":
    main()
