"""Tests of hyperparameter search in parallel: joblib's processes and a Dask cluster.

For both estimators, a seeded ``GridSearchCV`` gives the same ``cv_results_``
(every score, rank and parameter column; not the timings) with ``n_jobs=1``,
twice with ``n_jobs=2`` (loky processes), and through joblib's dask backend on
a ``LocalCluster`` of two one-thread worker processes.

Every search also records two "scores" measured where the fit ran: the
process id (so the tests see that the fits left the parent process) and
``torch.get_num_threads()`` (so they see how many threads each fit had).
Torch takes its thread count from ``MKL_NUM_THREADS``, else
``OMP_NUM_THREADS``, when it loads; loky sets both for its workers
(``cpu_count() // n_jobs`` unless the parent sets them) and dask's nanny sets
both to 1.
"""

import os

import numpy as np
import pytest
import torch
from joblib import cpu_count, parallel_config
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from sklearn_transformers import (
    AttentionTimeSeriesRegressor,
    TransformerTextClassifier,
    make_windows,
)

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

WORDS = {
    0: ["bad", "awful", "dull", "boring"],
    1: ["good", "great", "superb", "love"],
}
FILLER = "the a movie plot it was this story and of to acting music".split()


def torch_threads(estimator, X, y):
    """Scorer: the torch threads of the process that fitted ``estimator``."""
    return torch.get_num_threads()


def process_id(estimator, X, y):
    """Scorer: the id of the process that fitted ``estimator``."""
    return os.getpid()


def _reviews(n_samples=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(2, size=n_samples)
    X = [
        " ".join([*rng.choice(FILLER, 6), *rng.choice(WORDS[label], 2)]) for label in y
    ]
    return X, y


def _windows():
    t = np.arange(90)
    series = np.sin(2 * np.pi * t / 12) + 0.1 * np.random.default_rng(0).normal(size=90)
    return make_windows(series, window=12)


def text_search(n_jobs):
    """4 candidates x 2 folds of a tiny seeded text classifier."""
    clf = TransformerTextClassifier(
        embed_dim=8,
        num_heads=2,
        num_layers=1,
        ff_dim=16,
        max_epochs=2,
        batch_size=8,
        random_state=0,
    )
    grid = {"pooling": ["mean", "max"], "lr": [1e-3, 1e-2]}
    scoring = {"score": "neg_log_loss", "threads": torch_threads, "pid": process_id}
    search = GridSearchCV(clf, grid, cv=2, scoring=scoring, refit="score")
    return search.set_params(n_jobs=n_jobs), *_reviews()


def timeseries_search(n_jobs):
    """4 candidates x 2 time-ordered folds of a tiny seeded regressor."""
    reg = AttentionTimeSeriesRegressor(
        embed_dim=8,
        num_heads=2,
        num_layers=1,
        ff_dim=16,
        max_epochs=2,
        random_state=0,
    )
    grid = {
        "pooling": ["last", "mean"],
        "positional_encoding": ["sinusoidal", "learned"],
    }
    scoring = {"score": "r2", "threads": torch_threads, "pid": process_id}
    cv = TimeSeriesSplit(n_splits=2)
    search = GridSearchCV(reg, grid, cv=cv, scoring=scoring, refit="score")
    return search.set_params(n_jobs=n_jobs), *_windows()


SEARCHES = {"text": text_search, "timeseries": timeseries_search}


def run_search(name, n_jobs):
    search, X, y = SEARCHES[name](n_jobs)
    return search.fit(X, y), X


def comparable(cv_results):
    """The columns that must not depend on where the fits ran."""
    return {
        key: value
        for key, value in cv_results.items()
        if not key.endswith("_time") and "_pid" not in key
    }


def assert_same_results(first, second):
    first, second = comparable(first), comparable(second)
    assert first.keys() == second.keys()
    assert first.pop("params") == second.pop("params")
    for key in first:
        np.testing.assert_array_equal(np.asarray(first[key]), np.asarray(second[key]))


def fit_pids(cv_results):
    """The ids of the processes that ran the fits (``split<i>_test_pid``)."""
    return {
        pid
        for key, pids in cv_results.items()
        if key.startswith("split") and key.endswith("_test_pid")
        for pid in pids
    }


@pytest.fixture(scope="module")
def sequential():
    """The ``n_jobs=1`` search of each estimator, fitted once for the module."""
    return {name: run_search(name, n_jobs=1)[0] for name in SEARCHES}


@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_search_with_two_processes_is_deterministic(name, sequential):
    first, X = run_search(name, n_jobs=2)
    second, _ = run_search(name, n_jobs=2)
    assert_same_results(first.cv_results_, second.cv_results_)
    assert_same_results(first.cv_results_, sequential[name].cv_results_)
    assert first.best_params_ == sequential[name].best_params_
    assert np.all(np.isfinite(first.cv_results_["mean_test_score"]))
    # The fits ran in the worker processes, one torch thread each (conftest.py
    # sets one thread, and loky passes the parent's setting on).
    assert os.getpid() not in fit_pids(first.cv_results_)
    np.testing.assert_array_equal(first.cv_results_["mean_test_threads"], 1)
    # The best candidate is refitted in this process and predicts.
    assert first.predict(X[:5]).shape == (5,)


def test_search_in_worker_processes_shares_the_cores_by_default(monkeypatch):
    """Without thread variables in the parent, loky gives each of the n_jobs
    workers cpu_count() // n_jobs threads: 1 on two cores, no oversubscription."""
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    search, _ = run_search("timeseries", n_jobs=2)
    expected = max(cpu_count() // 2, 1)
    np.testing.assert_array_equal(search.cv_results_["mean_test_threads"], expected)


@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_search_on_dask_cluster_matches_sequential(name, sequential, dask_client):
    with parallel_config(backend="dask"):
        search, X = run_search(name, n_jobs=-1)
    assert_same_results(search.cv_results_, sequential[name].cv_results_)
    assert search.best_params_ == sequential[name].best_params_
    # Every fit ran on a dask worker, with the one thread dask's nanny sets.
    workers = set(dask_client.run(os.getpid).values())
    assert fit_pids(search.cv_results_) <= workers
    np.testing.assert_array_equal(search.cv_results_["mean_test_threads"], 1)
    assert search.predict(X[:5]).shape == (5,)
