"""Devices and precision: bfloat16 autocast, batches sent to the device, CUDA.

The CUDA tests skip on machines without a CUDA device (CI has none); the
bfloat16 tests run on the CPU, where autocast supports bfloat16 too.
"""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_transformers import (
    AttentionTimeSeriesRegressor,
    TransformerTextClassifier,
    make_windows,
)
from sklearn_transformers._data import BatchIterator, DenseData, RaggedTokens

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"
)

TINY = dict(embed_dim=16, num_heads=2, num_layers=1, ff_dim=32, random_state=0)
TEXTS = ["good film", "great movie", "bad film", "awful movie"] * 8
LABELS = ["pos", "pos", "neg", "neg"] * 8
X_SERIES, Y_SERIES = make_windows(np.sin(np.arange(120) / 3.0), window=12)

each_estimator = pytest.mark.parametrize(
    "make, X, y",
    [
        (TransformerTextClassifier, TEXTS, LABELS),
        (AttentionTimeSeriesRegressor, X_SERIES, Y_SERIES),
    ],
    ids=["text", "series"],
)
each_data_set = pytest.mark.parametrize(
    "data",
    [
        DenseData(np.zeros((5, 3), dtype=np.float32), np.arange(5)),
        RaggedTokens(np.arange(1, 8), [0, 3, 3, 7], np.arange(3)),
    ],
    ids=["dense", "ragged"],
)


def record_output_dtypes(layer):
    """Collect the dtype of every output of ``layer`` while a hook is on it."""
    dtypes = []
    layer.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    return dtypes


class RecordDtypes(Callback):
    """Hook the first feed-forward layer at train begin; record output dtypes."""

    def __init__(self):
        self.dtypes = []

    def on_train_begin(self, net, **kwargs):
        inner = getattr(net.module_, "module", net.module_)  # under Autocast
        inner.encoder.blocks[0].ff.fc_in.register_forward_hook(
            lambda module, args, out: self.dtypes.append(out.dtype)
        )


def first_linear(module):
    return next(m for m in module.modules() if isinstance(m, torch.nn.Linear))


@each_estimator
def test_bfloat16_autocast_in_training_and_inference(make, X, y):
    est = make(**TINY, max_epochs=2, precision="bfloat16").fit(X, y)
    # Weights stay float32; only the computation runs in bfloat16.
    assert all(p.dtype == torch.float32 for p in est.module_.parameters())
    dtypes = record_output_dtypes(first_linear(est.module_.encoder))
    out = est.predict(X[:5])
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert isinstance(out, np.ndarray) and len(out) == 5
    assert est.transform(X[:5]).dtype == np.float32


def test_float32_precision_computes_in_float32():
    clf = TransformerTextClassifier(**TINY, max_epochs=1).fit(TEXTS, LABELS)
    dtypes = record_output_dtypes(first_linear(clf.module_.encoder))
    clf.predict(TEXTS[:3])
    assert set(dtypes) == {torch.float32}


def test_bfloat16_training_steps_run_under_autocast():
    recorder = RecordDtypes()
    clf = TransformerTextClassifier(
        **TINY, max_epochs=1, precision="bfloat16", callbacks=[recorder]
    )
    clf.fit(TEXTS, LABELS)
    # The callback list is copied into the loop; read the copy's record.
    used = next(cb for _, cb in clf.net_.callbacks_ if isinstance(cb, RecordDtypes))
    assert used.dtypes and set(used.dtypes) == {torch.bfloat16}


def test_bfloat16_regressor_stays_close_to_float32():
    kwargs = dict(**TINY, max_epochs=3)
    full = AttentionTimeSeriesRegressor(**kwargs).fit(X_SERIES, Y_SERIES)
    half = AttentionTimeSeriesRegressor(**kwargs, precision="bfloat16")
    half.fit(X_SERIES, Y_SERIES)
    assert half.score(X_SERIES, Y_SERIES) > 0.9
    np.testing.assert_allclose(half.predict(X_SERIES), full.predict(X_SERIES), atol=0.1)


def test_invalid_precision_raises_before_training():
    clf = TransformerTextClassifier(**TINY, precision="float16")
    with pytest.raises(ValueError, match="precision"):
        clf.fit(TEXTS, LABELS)


@each_data_set
def test_batch_iterator_sends_batches_to_its_device(data):
    batches = list(BatchIterator(data, 2, device="cpu"))
    assert batches and all(X.device.type == "cpu" for X, _ in batches)
    assert sum(len(X) for X, _ in batches) == len(data)


@needs_cuda
@each_data_set
def test_batch_iterator_copies_batches_to_cuda(data):
    for X, y in BatchIterator(data, 2, device="cuda"):
        assert X.device.type == "cuda" and y.device.type == "cuda"


@needs_cuda
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
@each_estimator
def test_cuda_fit_predicts_numpy_close_to_cpu(make, X, y, precision):
    gpu = make(**TINY, max_epochs=3, device="cuda", precision=precision).fit(X, y)
    assert next(gpu.module_.parameters()).device.type == "cuda"
    out = gpu.predict(X)
    assert isinstance(out, np.ndarray)
    cpu = make(**TINY, max_epochs=3, precision=precision).fit(X, y)
    if isinstance(gpu, TransformerTextClassifier):
        np.testing.assert_allclose(
            gpu.predict_proba(X), cpu.predict_proba(X), atol=0.05
        )
    else:
        np.testing.assert_allclose(out, cpu.predict(X), atol=0.1)
