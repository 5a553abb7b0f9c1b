"""One rank of the data-parallel tests, started by ``torchrun`` (see test_distributed.py).

Every rank builds the same data and estimators (``make_cases``), joins the
``gloo`` process group, fits each estimator and writes what the test
compares: ``<name>_rank<R>.npz`` with the module's weights, the history's
training losses and predictions. Each rank also calls ``save`` on a file of
its own name (only rank 0's may appear), and fits once more on data of a
different length on each rank, writing the error message it got.
"""

import sys
from pathlib import Path

import numpy as np

CASES = ("text", "series")


def make_cases():
    """``{name: (estimator, X, y)}``: tiny seeded models without dropout,
    64 samples in global batches of 16 (4 steps an epoch, 8 samples a rank)."""
    from sklearn_transformers import (
        AttentionTimeSeriesRegressor,
        TransformerTextClassifier,
        make_windows,
    )

    rng = np.random.default_rng(0)
    words = {0: ["bad", "awful", "dull"], 1: ["good", "great", "superb"]}
    filler = "the a movie plot it was this story and of".split()
    y_text = rng.integers(2, size=64)
    X_text = [
        " ".join([*rng.choice(filler, rng.integers(2, 9)), *rng.choice(words[c], 2)])
        for c in y_text
    ]
    series = np.sin(np.arange(75) / 3) + 0.1 * rng.normal(size=75)
    X_series, y_series = make_windows(series, window=12)
    tiny = dict(
        embed_dim=8,
        num_heads=2,
        num_layers=1,
        ff_dim=16,
        dropout=0.0,
        max_epochs=2,
        batch_size=16,
        random_state=0,
    )
    return {
        # class_weight=None: with class weights each rank's loss is a mean
        # weighted over its own half-batch, so the ranks' average gradient is
        # close to, not equal to, the whole batch's.
        "text": (TransformerTextClassifier(**tiny, class_weight=None), X_text, y_text),
        "series": (AttentionTimeSeriesRegressor(**tiny), X_series, y_series),
    }


def snapshot(estimator, X):
    """What the test compares: weights, training losses and predictions."""
    arrays = {
        f"weight:{name}": value.detach().cpu().numpy()
        for name, value in estimator.module_.state_dict().items()
    }
    arrays["train_loss"] = np.asarray(estimator.history_[:, "train_loss"])
    arrays["predict"] = np.asarray(estimator.predict(X), dtype=float)
    return arrays


def main(out):
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    for name, (estimator, X, y) in make_cases().items():
        estimator.fit(X, y)
        np.savez(out / f"{name}_rank{rank}.npz", **snapshot(estimator, X))
        estimator.save(out / f"{name}_saved_by_rank{rank}.safetensors")
    estimator, X, y = make_cases()["series"]
    try:
        estimator.fit(X[: len(X) - rank], y[: len(y) - rank])
    except ValueError as exc:
        (out / f"error_rank{rank}.txt").write_text(str(exc))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
