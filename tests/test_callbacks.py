"""The package's own skorch callbacks, as every fit uses them."""

import sys

import numpy as np
import pytest

import sklearn_transformers._callbacks as callbacks
from sklearn_transformers import AttentionTimeSeriesRegressor, make_windows

X, Y = make_windows(np.sin(np.arange(260) / 3.0), window=8)  # 252 windows
TINY = dict(embed_dim=8, num_heads=2, num_layers=1, ff_dim=16, random_state=0)


def test_fit_hands_freed_heap_memory_back_every_50_batches(monkeypatch):
    calls = []
    monkeypatch.setattr(callbacks, "_malloc_trim", lambda: calls.append)
    reg = AttentionTimeSeriesRegressor(**TINY, batch_size=2, max_epochs=2)
    reg.fit(X, Y)  # 126 batches per epoch, 252 in all
    assert len(calls) == 252 // 50 + 2  # every 50 batches, and at each epoch end
    assert set(calls) == {0}  # malloc_trim(0): trim all arenas


def test_no_malloc_trim_is_a_no_op(monkeypatch):
    monkeypatch.setattr(callbacks, "_malloc_trim", lambda: None)
    reg = AttentionTimeSeriesRegressor(**TINY, max_epochs=1).fit(X, Y)
    assert reg.n_iter_ == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_malloc_trim_is_found_on_linux():
    assert callbacks._malloc_trim() is not None
