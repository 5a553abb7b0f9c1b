"""Faithfulness of the series regressor's attention, next to its forecast error.

ERASER-style measures (DeYoung et al., 2020) adapted to windows of a series,
for AttentionTimeSeriesRegressor with its defaults, one-step-ahead on the last
20% of each series, all in one run:

- MAE of the model, of Ridge on the same lags, of seasonal naive;
- occlusion at k = 10, 20, 50%: replace the top-k% lags by the reported
  weights (every feature of those time steps) with the window's mean and
  measure the mean |change of forecast|, against k% random lags (several
  draws); the ratio attention / random;
- the mean weight on the seasonal lags relative to uniform (lag ``L`` is the
  step ``L`` steps before the target: column ``window - L`` of X);
- sharpness: the median over windows of max weight / uniform weight;
- the Spearman rank correlation, per window (median over windows), between
  the weights and single-lag occlusion (|change of forecast| when that one
  lag is replaced by the window's mean).

Data: AirPassengers (window 24) and elecdemand Demand with WorkDay and
Temperature (windows 96 and 336). ``--before REV`` adds the estimator of an
earlier commit (its package, from ``git archive``) as "before" rows.

Run: ``python benchmarks/faithfulness_series.py [--quick] [--before 506ae2e]``
"""

import argparse
import importlib
import subprocess
import sys
import tempfile
from pathlib import Path

import _threads  # noqa: F401  (thread settings before numpy / torch load)
import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.linear_model import Ridge

from sklearn_transformers import AttentionTimeSeriesRegressor, make_windows

from _common import load_air_passengers, load_elecdemand, machine_line, markdown_table

KS = (10, 20, 50)
HEADER = [
    "task",
    "model",
    "MAE",
    "MAE / Ridge",
    "Ridge MAE",
    "naive / Ridge",
    *(f"occlusion {k}% (top / random)" for k in KS),
    "seasonal lag weight / uniform",
    "sharpness",
    "rank corr",
]


def seasonal_lag_column(window, lag):
    """Column of X holding the value ``lag`` steps before a one-step target."""
    return window - lag


def occlude(X, columns):
    """Copy of 3-D ``X`` with each window's ``columns[i]`` set to its mean."""
    out = X.copy()
    means = X.mean(axis=1)  # (n, F)
    rows = np.arange(len(X))[:, None]
    out[rows, columns] = means[:, None, :]
    return out


def occlusion(predict, X, weights, k, rng, draws):
    """Mean |change| of forecast: top-k% lags by weight, and k% random lags."""
    window = X.shape[1]
    n_lags = max(1, round(k / 100 * window))
    base = predict(X)
    top = np.argsort(-weights, axis=1)[:, :n_lags]
    by_weight = np.abs(predict(occlude(X, top)) - base).mean()
    random = []
    for _ in range(draws):
        picks = np.argsort(rng.random((len(X), window)), axis=1)[:, :n_lags]
        random.append(np.abs(predict(occlude(X, picks)) - base).mean())
    return by_weight, float(np.mean(random))


def single_lag_correlation(predict, X, weights):
    """Median over windows of Spearman(weights, single-lag occlusion effect)."""
    n, window, _ = X.shape
    base = predict(X)
    effects = np.empty((n, window))
    for lag in range(window):
        columns = np.full((n, 1), lag)
        effects[:, lag] = np.abs(predict(occlude(X, columns)) - base)
    rhos = [spearmanr(w, e).statistic for w, e in zip(weights, effects, strict=True)]
    return float(np.nanmedian(rhos))


def measure(model, X_test, y_test, seasonal_lags, rng, args, weights_fn=None):
    """One row of measures for a fitted model on the test windows."""
    flat = X_test.ndim == 2

    def predict(X3):
        return model.predict(X3[:, :, 0] if flat else X3)

    X3 = X_test[:, :, None] if flat else X_test
    window = X3.shape[1]
    mae = float(np.mean(np.abs(predict(X3) - y_test)))
    sub = X3[:: max(1, len(X3) // args.eval_windows)]
    weights = (weights_fn or model.attention_weights)(sub[:, :, 0] if flat else sub)
    row = {"MAE": mae}
    for k in KS:
        top, random = occlusion(predict, sub, weights, k, rng, args.draws)
        row[f"occl {k}%"] = (top, random)
    for lag in seasonal_lags:
        col = seasonal_lag_column(window, lag)
        row[f"lag {lag}"] = float(weights[:, col].mean() * window)
    row["sharpness"] = float(np.median(weights.max(axis=1) * window))
    few = sub[:: max(1, len(sub) // args.corr_windows)]
    few_weights = weights[:: max(1, len(sub) // args.corr_windows)]
    row["rank corr"] = single_lag_correlation(predict, few, few_weights)
    return row


def load_before(rev, name="sklearn_transformers_before"):
    """The package at git revision ``rev``, imported as ``name``."""
    root = Path(__file__).resolve().parents[1]
    target = Path(tempfile.mkdtemp(prefix="before_"))
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", rev, "sklearn_transformers"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    (target / "sklearn_transformers").rename(target / name)
    sys.path.insert(0, str(target))
    return importlib.import_module(name)


def tasks(args):
    """(name, X, y, season for naive, seasonal lags, n_test, max_train)."""
    air = load_air_passengers()
    X, y = make_windows(air, window=24)
    yield "AirPassengers, W24", X, y, 12, (12,), round(0.2 * len(air)), None
    demand = load_elecdemand()
    if args.quick:
        demand = demand.iloc[: 48 * 20]
    n_test = round(0.2 * len(demand))
    X, y = make_windows(demand, window=96, target="Demand")
    yield "elecdemand, W96", X, y, 48, (48,), n_test, args.train_windows
    if not args.quick and not args.no_336:
        X, y = make_windows(demand, window=336, target="Demand")
        yield "elecdemand, W336", X, y, 48, (48, 336), n_test, args.train_336


def split(X, y, n_test, max_train):
    start = 0 if max_train is None else max(len(y) - n_test - max_train, 0)
    return X[start:-n_test], y[start:-n_test], X[-n_test:], y[-n_test:]


def variants(args, before):
    """(label, estimator factory, weights method or None) per model variant."""
    params = {}
    if args.quick:
        params = dict(embed_dim=8, num_heads=2, num_layers=1, ff_dim=16, max_epochs=2)
    out = []
    if before is not None:
        out.append(
            ("before (" + args.before + ")", before.AttentionTimeSeriesRegressor, None)
        )
    out.append(("defaults", AttentionTimeSeriesRegressor, None))
    for extra in args.variant:
        out.append((extra, AttentionTimeSeriesRegressor, extra))
    return params, out


def variant_params(spec):
    """``"standardize=window"`` -> {"standardize": "window"} (several: comma)."""
    params = {}
    for item in filter(None, spec.split(",")):
        key, value = item.split("=")
        params[key] = {"True": True, "False": False}.get(value, value)
    return params


def run_task(task, args, before, rng, with_raw=False):
    """Table rows of one task (and, ``with_raw``, ``{label: measures}``)."""
    name, X, y, season, lags, n_test, max_train = task
    X_train, y_train, X_test, y_test = split(X, y, n_test, max_train)
    flat_train = X_train.reshape(len(X_train), -1)
    ridge = Ridge(alpha=1.0).fit(flat_train, y_train)
    ridge_mae = np.mean(np.abs(ridge.predict(X_test.reshape(len(X_test), -1)) - y_test))
    last = X_test if X_test.ndim == 2 else X_test[:, :, 0]
    naive_mae = np.mean(
        np.abs(last[:, seasonal_lag_column(X.shape[1], season)] - y_test)
    )
    params, models = variants(args, before)
    rows, fitted, raw = [], {}, {}
    for label, cls, spec in models:
        extra = variant_params(spec) if spec else {}
        method = extra.pop("method", None)
        key = (label if cls is not AttentionTimeSeriesRegressor else "", str(extra))
        if key not in fitted:  # a weights-method variant reuses its model
            fitted[key] = cls(random_state=0, **params, **extra).fit(X_train, y_train)
        model = fitted[key]
        weights_fn = None
        if method is not None:

            def weights_fn(Z, model=model, method=method):
                return model.attention_weights(Z, method=method)

        row = measure(model, X_test, y_test, lags, rng, args, weights_fn)
        rows.append(format_row(name, label, row, ridge_mae, naive_mae, lags))
        raw[label] = {**row, "ridge MAE": float(ridge_mae)}
    if with_raw:
        return rows, len(X_train), raw
    return rows, len(X_train)


def format_row(name, label, row, ridge_mae, naive_mae, lags):
    cells = [
        name,
        label,
        f"{row['MAE']:.4g}",
        f"{row['MAE'] / ridge_mae:.2f}",
        f"{ridge_mae:.4g}",
        f"{naive_mae / ridge_mae:.2f}",
    ]
    for k in KS:
        top, random = row[f"occl {k}%"]
        cells.append(f"{top / random:.2f} ({top:.3g} / {random:.3g})")
    lag_cells = [f"{lag}: {row[f'lag {lag}']:.2f}" for lag in lags]
    cells += [
        "; ".join(lag_cells),
        f"{row['sharpness']:.2f}",
        f"{row['rank corr']:.2f}",
    ]
    return cells


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--before", default=None, help="git revision for 'before' rows")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="extra row: comma-separated params, e.g. standardize=True or "
        "method=attention (weights method of the defaults' model class)",
    )
    parser.add_argument("--no-336", action="store_true", help="skip elecdemand W336")
    parser.add_argument("--train-windows", type=int, default=4000)
    parser.add_argument("--train-336", type=int, default=2000)
    parser.add_argument("--eval-windows", type=int, default=400)
    parser.add_argument("--corr-windows", type=int, default=60)
    parser.add_argument("--draws", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.eval_windows, args.corr_windows, args.draws = 40, 5, 2
    before = load_before(args.before) if args.before else None
    rng = np.random.default_rng(0)
    rows, sizes = [], []
    for task in tasks(args):
        task_rows, n_train = run_task(task, args, before, rng)
        rows += task_rows
        sizes.append(f"{task[0]}: {n_train} training windows")
    print(
        f"Machine: {machine_line()}. One-step-ahead forecasts of the last 20% of "
        f"each series; {'; '.join(sizes)}; random_state 0. Occlusion on "
        f"{args.eval_windows} test windows (evenly spaced), {args.draws} random "
        f"draws; rank correlation on {args.corr_windows} of them.\n"
    )
    print(markdown_table(HEADER, rows))


if __name__ == "__main__":
    main()
