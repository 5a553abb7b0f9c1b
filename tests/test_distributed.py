"""Data-parallel training: one estimator trained by two processes with DDP.

``torchrun`` starts two ranks of ``_ddp_worker.py`` on this machine with the
``gloo`` backend (CPU). Each fits a tiny text classifier and a tiny series
regressor on the same data. The test checks that both ranks end with the
same weights and history, that they match a single-process fit with the same
parameters (the same global batches; dropout off, so only the order of the
floating-point sums differs), that only rank 0 wrote the saved model and that
it loads and predicts as the ranks do, and that data of different lengths on
the ranks is a ValueError on every rank.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _ddp_worker import CASES, make_cases, snapshot

from sklearn_transformers import AttentionTimeSeriesRegressor, TransformerTextClassifier
from sklearn_transformers._data import DenseData
from sklearn_transformers._distributed import ShardedBatchIterator

WORKER = Path(__file__).resolve().parent / "_ddp_worker.py"
ROOT = WORKER.parents[1]
CLASSES = {"text": TransformerTextClassifier, "series": AttentionTimeSeriesRegressor}


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Run the two ranks once; return the folder they wrote to."""
    out = tmp_path_factory.mktemp("ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(WORKER),
        str(out),
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def load(path):
    with np.load(path) as arrays:
        return dict(arrays)


@pytest.mark.parametrize("name", CASES)
def test_both_ranks_end_with_identical_weights_and_history(ranks, name):
    first = load(ranks / f"{name}_rank0.npz")
    second = load(ranks / f"{name}_rank1.npz")
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


@pytest.mark.parametrize("name", CASES)
def test_data_parallel_fit_matches_one_process_on_the_same_global_batches(ranks, name):
    estimator, X, y = make_cases()[name]
    alone = snapshot(estimator.fit(X, y), X)
    parallel = load(ranks / f"{name}_rank0.npz")
    assert alone.keys() == parallel.keys()
    # Adam divides by the root of tiny second moments, so the rounding of
    # summing two half-batches shows at about 1e-5 in some weights.
    for key in alone:
        np.testing.assert_allclose(
            parallel[key], alone[key], rtol=1e-3, atol=2e-4, err_msg=key
        )
    # Other global batches (and initial weights) land far outside that.
    other = snapshot(estimator.set_params(random_state=1).fit(X, y), X)
    weights = [key for key in alone if key.startswith("weight:")]
    apart = max(np.abs(other[key] - alone[key]).max() for key in weights)
    assert apart > 10 * 2e-4


@pytest.mark.parametrize("name", CASES)
def test_rank_zero_alone_saves_and_the_file_predicts_as_the_ranks(ranks, name):
    assert not (ranks / f"{name}_saved_by_rank1.safetensors").exists()
    loaded = CLASSES[name].load(ranks / f"{name}_saved_by_rank0.safetensors")
    _, X, _ = make_cases()[name]
    expected = load(ranks / f"{name}_rank1.npz")["predict"]
    np.testing.assert_array_equal(np.asarray(loaded.predict(X), dtype=float), expected)


def test_different_data_on_the_ranks_is_an_error_on_every_rank(ranks):
    for rank in (0, 1):
        message = (ranks / f"error_rank{rank}.txt").read_text()
        assert "same training data" in message
        assert "rank 0 has 63 samples and rank 1 has 62" in message


@pytest.mark.parametrize(
    ("n_samples", "batch_size", "world_size"), [(64, 16, 2), (65, 16, 2), (50, 8, 3)]
)
def test_shards_cover_every_global_batch_once_and_none_is_empty(
    n_samples, batch_size, world_size
):
    data = DenseData(np.zeros((n_samples, 1)))

    def iterator(rank):  # the first pass of each rank's iterator
        return ShardedBatchIterator(
            data, batch_size, rank=rank, world_size=world_size, shuffle=True, seed=3
        )

    per_rank = [iterator(r).batch_indices() for r in range(world_size)]
    global_batches = iterator(0).global_batches()
    assert all(len(batches) == len(iterator(0)) for batches in per_rank)
    assert len(global_batches) == len(iterator(0))
    for step, global_batch in enumerate(global_batches):
        parts = [batches[step] for batches in per_rank]
        assert all(len(part) > 0 for part in parts)
        assert sorted(np.concatenate(parts)) == sorted(global_batch)
    everything = np.concatenate([np.concatenate(b) for b in per_rank])
    assert sorted(everything) == list(range(n_samples))
