"""Wall time of one GridSearchCV run sequentially, in two processes and on Dask.

The same search (4 candidates x 3 folds of a small ``TransformerTextClassifier``
on 2,400 fine-food reviews from ``modeldata``'s training part, ``refit=False``)
timed in one process, the variants one after another:

- ``n_jobs=1`` with 1 torch thread (the reference) and with 2 torch threads;
- ``n_jobs=2``, joblib's loky default: each worker process gets
  ``cores // n_jobs`` threads (the thread variables that ``_threads`` sets are
  lifted for this run, so loky chooses);
- ``n_jobs=2`` oversubscribed on purpose: ``inner_max_num_threads=2``;
- joblib's dask backend on a ``LocalCluster`` of 2 worker processes with 1
  thread each (its start-up is timed apart, not in the search).

Two extra scorers (in ``_common``, which worker processes import without
touching the thread variables that ``_threads`` would set) record, for every fit, the process it ran in and
``torch.get_num_threads()`` there, so the table shows how each variant really
ran. Wall seconds include starting worker processes and importing torch in
them. With ``--repeats`` above 1 the order of the variants rotates and the
table gives medians.

Run: ``python benchmarks/search.py [--quick] [--repeats 1]``
"""

import argparse
import contextlib
import os

import _threads  # noqa: F401  (sets thread variables before numpy and torch load)
import numpy as np
import torch
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV

from sklearn_transformers import TransformerTextClassifier

from _common import (
    load_reviews,
    machine_line,
    markdown_table,
    median,
    process_id,
    timed,
    torch_threads,
)

FULL = dict(
    n_reviews=2400,
    folds=3,
    params=dict(
        embed_dim=32, num_heads=4, num_layers=1, ff_dim=64, max_len=128, max_epochs=4
    ),
    grid={"pooling": ["mean", "max"], "lr": [1e-3, 3e-3]},
)
# Tiny settings for the smoke run: they exercise the code, not the timings.
QUICK = dict(
    n_reviews=200,
    folds=2,
    params=dict(
        embed_dim=8, num_heads=2, num_layers=1, ff_dim=16, max_len=32, max_epochs=1
    ),
    grid={"pooling": ["mean", "max"]},
)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextlib.contextmanager
def torch_threads_set_to(n_threads):
    """Run this process's torch on ``n_threads`` threads, then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def loky_default():
    """Lift the thread variables, so that loky gives workers cores // n_jobs."""
    saved = {
        name: os.environ.pop(name) for name in THREAD_VARIABLES if name in os.environ
    }
    try:
        yield
    finally:
        os.environ.update(saved)


def variants(client, quick):
    """``(name, n_jobs, context)`` of each way to run the search.

    The smoke run leaves out the oversubscribed one: each loky variant starts
    its own worker processes, and that start-up is most of a smoke run.
    """
    yield "n_jobs=1, 1 torch thread", 1, lambda: torch_threads_set_to(1)
    yield "n_jobs=1, 2 torch threads", 1, lambda: torch_threads_set_to(2)
    yield "n_jobs=2, loky default", 2, loky_default
    if not quick:
        yield (
            "n_jobs=2, inner_max_num_threads=2",
            2,
            lambda: parallel_config(backend="loky", inner_max_num_threads=2),
        )
    if client is not None:
        yield (
            "Dask LocalCluster, 2 workers x 1 thread",
            -1,
            lambda: parallel_config(backend="dask"),
        )


def run(settings, n_jobs, context, X, y):
    """Time one search; return ``(seconds, cv_results_)``."""
    search = GridSearchCV(
        TransformerTextClassifier(random_state=0, **settings["params"]),
        settings["grid"],
        cv=settings["folds"],
        scoring={"accuracy": "accuracy", "threads": torch_threads, "pid": process_id},
        refit=False,
        n_jobs=n_jobs,
    )
    with context():
        search, seconds = timed(search.fit, X, y)
    return seconds, search.cv_results_


def how_it_ran(results):
    """'processes x threads' from the recorded process ids and thread counts."""
    splits = [key[: -len("_test_pid")] for key in results if key.endswith("_test_pid")]
    splits = [s for s in splits if s.startswith("split")]
    pids = {pid for s in splits for pid in results[f"{s}_test_pid"]}
    threads = sorted({int(t) for s in splits for t in results[f"{s}_test_threads"]})
    here = " (this process)" if pids == {os.getpid()} else ""
    return f"{len(pids)} x {'/'.join(map(str, threads))}{here}"


def best(results):
    i = int(np.argmin(results["rank_test_accuracy"]))
    return results["params"][i], results["mean_test_accuracy"][i]


def start_cluster():
    """A LocalCluster of 2 one-thread worker processes, or None without dask."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        return None, None, 0.0

    def start():
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        return cluster, Client(cluster)

    (cluster, client), seconds = timed(start)
    return cluster, client, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs of each variant (median)"
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    repeats = 1 if args.quick else args.repeats

    X, y, _, _ = load_reviews()
    X, y = X[: settings["n_reviews"]], y[: settings["n_reviews"]]

    cluster, client, cluster_s = start_cluster()
    try:
        ways = list(variants(client, args.quick))
        seconds = {name: [] for name, _, _ in ways}
        results = {}
        for repeat in range(repeats):
            shift = repeat % len(ways)
            for name, n_jobs, context in ways[shift:] + ways[:shift]:
                wall, results[name] = run(settings, n_jobs, context, X, y)
                seconds[name].append(wall)
    finally:
        if client is not None:
            client.close()
            cluster.close()

    names = [name for name, _, _ in ways]
    reference = median(seconds[names[0]])
    ref_scores = results[names[0]]["mean_test_accuracy"]
    rows = []
    for name in names:
        params, score = best(results[name])
        diff = np.max(np.abs(results[name]["mean_test_accuracy"] - ref_scores))
        rows.append(
            [
                name,
                how_it_ran(results[name]),
                f"{median(seconds[name]):.1f}",
                f"{median(seconds[name]) / reference:.2f}x",
                ", ".join(f"{k}={v}" for k, v in params.items()),
                f"{score:.4f}",
                "identical" if diff == 0 else f"{diff:.1e}",
            ]
        )

    n_candidates = len(results[names[0]]["params"])
    print(
        f"Machine: {machine_line()}. GridSearchCV of TransformerTextClassifier"
        f"({', '.join(f'{k}={v}' for k, v in settings['params'].items())}), "
        f"{n_candidates} candidates x {settings['folds']} folds on the first "
        f"{len(X):,} fine-food training reviews, refit=False. Median of {repeats} "
        "run(s), the variants alternated in one process."
        + (
            f" Dask cluster start-up, not included: {cluster_s:.1f} s."
            if client is not None
            else " Dask is not installed: no Dask row."
        )
        + "\n"
    )
    print(
        markdown_table(
            [
                "variant",
                "processes x torch threads",
                "search s",
                "vs n_jobs=1, 1 thread",
                "best parameters",
                "best CV accuracy",
                "CV scores vs reference",
            ],
            rows,
        )
    )
    same_best = len({str(best(results[name])[0]) for name in names}) == 1
    print(
        "\nEvery variant picks the same best parameters: "
        f"{'yes' if same_best else 'no'}. The last column is the largest "
        "difference of any candidate's mean CV accuracy from the reference row "
        "(torch's results can change in the last bits with the thread count)."
    )


if __name__ == "__main__":
    main()
