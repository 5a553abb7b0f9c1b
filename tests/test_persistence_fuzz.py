"""Fuzzing ``load`` over mutated valid model files (issue 11).

Whatever the bytes, ``load`` either returns a fitted estimator or raises
``ValueError``; it never raises anything else, never allocates (in Python
and numpy memory, which ``tracemalloc`` sees) more than a bounded multiple
of the file's size, and never runs past the deadline. Torch tensors are only
allocated once the shapes in the header have been checked against the file,
which the tests of ``test_persistence_safety`` measure in a fresh process.

Two kinds of mutation: raw bytes (flipped, overwritten, cut, appended), which
the checksum mostly catches, and edits of the fitted state or parameters
that are re-signed, as an attacker would, so they reach the decoding and
consistency checks behind the checksum.
"""

import json
import tracemalloc
from datetime import timedelta

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save as save_tensors  # noqa: E402

from sklearn_transformers import (  # noqa: E402
    AttentionTimeSeriesRegressor,
    TransformerTextClassifier,
    make_windows,
)
from sklearn_transformers._persistence import _digest  # noqa: E402

FUZZ = settings(
    max_examples=40,
    deadline=timedelta(seconds=5),
    derandomize=True,  # the same examples on every run: no flaky CI
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TINY = dict(embed_dim=8, num_heads=2, num_layers=1, ff_dim=16, max_epochs=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    clf = TransformerTextClassifier(**TINY, min_df=1, random_state=0).fit(
        ["good film", "bad film", "great movie", "awful movie"] * 3,
        ["pos", "neg", "pos", "neg"] * 3,
    )
    X, y = make_windows(np.sin(np.arange(40) / 3), window=6, horizon=2)
    reg = AttentionTimeSeriesRegressor(
        **TINY, quantiles=(0.1, 0.5, 0.9), random_state=0
    ).fit(X, y)
    paths = {}
    for name, estimator in [("text", clf), ("series", reg)]:
        paths[name] = folder / f"{name}.safetensors"
        estimator.save(paths[name])
    return {
        name: (type(est), path.read_bytes())
        for name, est, path in [
            ("text", clf, paths["text"]),
            ("series", reg, paths["series"]),
        ]
    }


def _load_bounded(cls, raw, path):
    """Load ``raw`` from ``path``: ValueError or an estimator, in bounded memory."""
    path.write_bytes(raw)
    tracemalloc.start()
    try:
        cls.load(path)
    except ValueError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 16 * len(raw) + (32 << 20), peak


edits = st.lists(
    st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
    min_size=1,
    max_size=8,
)


@FUZZ
@given(
    kind=st.sampled_from(["text", "series"]),
    edits=edits,
    cut=st.one_of(st.none(), st.floats(0, 1)),
    tail=st.binary(max_size=16),
)
def test_load_of_mutated_bytes_raises_only_value_error(
    files, tmp_path, kind, edits, cut, tail
):
    cls, raw = files[kind]
    mutated = bytearray(raw)
    for where, byte in edits:
        mutated[int(where * len(mutated))] = byte
    if cut is not None:
        mutated = mutated[: int(cut * len(mutated))]
    _load_bounded(cls, bytes(mutated) + tail, tmp_path / "mutated.safetensors")


hostile_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.sampled_from([0, -1, 10**9, 2**31, 2**63, 30_000_000]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.sampled_from(["<U200000000", "<f8", "|O", "V8", "<M8[ns]", "auto"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
        st.fixed_dictionaries(
            {
                "__type__": st.sampled_from(
                    ["ndarray", "tuple", "dict", "str", "scalar", "history", "x"]
                ),
                "dtype": st.sampled_from(["<U200000000", "<f8", "|O", "<i8", "|S4"]),
                "shape": st.lists(st.integers(-1, 10**12), max_size=3),
                "items": st.lists(children, max_size=3),
                "str": st.lists(st.text(max_size=3), max_size=3),
                "codes": st.lists(st.integers(-5, 0x110000), max_size=3),
                "bytes": st.sampled_from(["", "AAAA", "!!", "AAAAAAAAAAA="]),
            }
        ),
    ),
    max_leaves=12,
)


def _paths(value, prefix=()):
    """Every (key path) inside a decoded JSON value."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:3]):
            yield from _paths(item, (*prefix, i))


def _set(value, path, new):
    for key in path[:-1]:
        value = value[key]
    value[path[-1]] = new


@FUZZ
@given(
    kind=st.sampled_from(["text", "series"]),
    entry=st.sampled_from(["fitted", "params", "optimizer"]),
    choice=st.integers(0, 10**6),
    new=hostile_values,
)
def test_load_of_resigned_edits_raises_only_value_error(
    files, tmp_path, kind, entry, choice, new
):
    cls, raw = files[kind]
    path = tmp_path / "source.safetensors"
    path.write_bytes(raw)
    with safe_open(path, framework="pt") as file:
        metadata = file.metadata()
        tensors = {name: file.get_tensor(name) for name in file.keys()}
    state = json.loads(metadata[entry])
    paths = [p for p in _paths(state) if p]
    if paths:
        _set(state, paths[choice % len(paths)], new)
    else:
        state = new
    metadata[entry] = json.dumps(state)
    metadata["sha256"] = _digest(metadata, tensors)
    _load_bounded(cls, save_tensors(tensors, metadata=metadata), path)
