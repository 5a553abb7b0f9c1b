"""Documents per second scoring a large corpus on Dask, with 1 and 2 workers.

A default ``TransformerTextClassifier`` (2 epochs: scoring speed does not
depend on training length) is fitted on the 4,000 fine-food training
reviews, saved and loaded back; the loaded model labels 200,000 reviews (the
5,000 of ``modeldata`` repeated with their sentences shuffled, as in
``memory.py``) held in a Dask Series of 40 partitions, through
``sklearn_transformers.dask.predict_by_partition``, on a ``LocalCluster`` of
1 and then 2 worker processes with one thread each. The partitions are
persisted on the workers before the clock starts (as if read there from
storage), and the workers have scored a small warm-up set (imports, the
model's first transfer), so the time is the scoring. The reference is the
same model's ``predict`` in this process, one thread, on 20,000 of the
documents. Reported: wall seconds, documents per second, the workers' summed
CPU seconds (``time.process_time`` in each worker) and documents per CPU
second.

Run: ``python benchmarks/score_at_scale.py [--quick] [--documents 200000]``
"""

import argparse
import tempfile
import time
from pathlib import Path

import _threads  # noqa: F401  (sets thread variables before numpy and torch load)
import pandas as pd
import torch
from memory import make_corpus

from sklearn_transformers import TransformerTextClassifier

from _common import load_reviews, machine_line, markdown_table

PARTITION_SIZE = 5_000
REFERENCE_DOCS = 20_000
QUICK = dict(documents=2_000, partition=500, reference=500)
QUICK_PARAMS = dict(embed_dim=16, num_heads=2, num_layers=1, ff_dim=32, max_epochs=1)


def fitted_and_loaded(quick):
    """The default classifier fitted on the training reviews, saved, loaded."""
    X_train, y_train, _, _ = load_reviews()
    params = QUICK_PARAMS if quick else {"max_epochs": 2}
    if quick:
        X_train, y_train = X_train[:300], y_train[:300]
    clf = TransformerTextClassifier(random_state=0, **params).fit(X_train, y_train)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clf.safetensors"
        clf.save(path, include_optimizer=False)
        return TransformerTextClassifier.load(path)


def workers_cpu(client):
    return sum(client.run(time.process_time).values())


def score_on_cluster(clf, docs, n_workers, partition):
    """Wall s, workers' CPU s and start-up s of scoring ``docs`` on n workers."""
    import dask.dataframe as dd
    from distributed import Client, LocalCluster, wait

    from sklearn_transformers.dask import predict_by_partition

    start = time.perf_counter()
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    with cluster, Client(cluster) as client:
        warm = dd.from_pandas(pd.Series(docs[: 4 * n_workers]), npartitions=n_workers)
        predict_by_partition(clf, warm).compute()
        startup = time.perf_counter() - start
        series = dd.from_pandas(
            pd.Series(docs), npartitions=max(1, len(docs) // partition)
        ).persist()
        wait(series)
        cpu_before = workers_cpu(client)
        start = time.perf_counter()
        labels = predict_by_partition(clf, series).compute()
        wall = time.perf_counter() - start
        cpu = workers_cpu(client) - cpu_before
    if len(labels) != len(docs):
        raise RuntimeError(f"scored {len(labels)} of {len(docs)} documents")
    return wall, cpu, startup


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--documents", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    n_docs, partition, reference = args.documents, PARTITION_SIZE, REFERENCE_DOCS
    if args.quick:
        n_docs, partition, reference = QUICK.values()

    clf = fitted_and_loaded(args.quick)
    docs, _ = make_corpus(n_docs)
    rows = []
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    clf.predict(docs[:reference])
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    rows.append(
        [
            "`predict` in this process (reference)",
            f"{reference:,}",
            f"{wall:.1f}",
            f"{reference / wall:,.0f}",
            f"{cpu:.1f}",
            f"{reference / cpu:,.0f}",
            "",
        ]
    )
    for n_workers in (1, 2):
        wall, cpu, startup = score_on_cluster(clf, docs, n_workers, partition)
        rows.append(
            [
                f"Dask, {n_workers} worker(s) x 1 thread",
                f"{n_docs:,}",
                f"{wall:.1f}",
                f"{n_docs / wall:,.0f}",
                f"{cpu:.1f}",
                f"{n_docs / cpu:,.0f}",
                f"{startup:.1f}",
            ]
        )
    header = [
        "scoring",
        "documents",
        "wall s",
        "documents / s",
        "CPU s (workers)",
        "documents / CPU s",
        "cluster start + warm-up s",
    ]
    print(
        f"Machine: {machine_line()}. Model: the default TransformerTextClassifier "
        f"fitted on the 4,000 training reviews ({'tiny, ' if args.quick else ''}"
        "saved and loaded), `predict` (labels). Partitions of "
        f"{partition:,} documents, persisted on the workers before timing; one "
        "run per row. The machine was shared with other jobs while this ran, "
        "so wall-clock figures (and the gain from a second worker on 2 cores) "
        "understate what idle cores give; documents per CPU second are the "
        "steadier figure. A worker's CPU seconds include its background "
        "threads (heartbeats, dask's sampling profiler), which grow with wall "
        "time.\n"
    )
    print(markdown_table(header, rows))
    speedup = float(rows[1][2]) / float(rows[2][2])
    print(f"\n2 workers / 1 worker, wall: {speedup:.2f}x faster.")


if __name__ == "__main__":
    main()
