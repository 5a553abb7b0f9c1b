"""Nothing lost, nothing hostile: saving and loading under failure and attack (issue 11).

Case 1: a failed save leaves the earlier file whole (atomic replace).
Case 2: hostile files are refused before they exhaust memory or hang.
Case 4: save refuses what load would refuse, before writing anything.
Case 8: clear errors instead of raw ones.
Case 9: load's peak memory stays near the file's size.
"""

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.torch import save as save_tensors

from sklearn_transformers import (
    AttentionTimeSeriesRegressor,
    TransformerTextClassifier,
    _persistence_file,
    make_windows,
)
from sklearn_transformers._persistence import _digest

TEXT = dict(
    embed_dim=8,
    num_heads=2,
    num_layers=1,
    ff_dim=16,
    max_epochs=1,
    batch_size=8,
    min_df=1,
    random_state=0,
)
X_TEXT = ["good film", "great movie", "bad film", "awful movie"] * 4
Y_TEXT = ["pos", "pos", "neg", "neg"] * 4
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clf():
    return TransformerTextClassifier(**TEXT).fit(X_TEXT, Y_TEXT)


@pytest.fixture
def model_file(clf, tmp_path):
    path = tmp_path / "model.safetensors"
    clf.save(path)
    return path


def _resign(path, fitted=None, tensors=None, out=None):
    """Rewrite a model file with edited fitted state, re-signed, as an attacker could."""
    with safe_open(path, framework="pt") as file:
        metadata = file.metadata()
        stored = {name: file.get_tensor(name) for name in file.keys()}
    if fitted is not None:
        state = json.loads(metadata["fitted"])
        fitted(state)
        metadata["fitted"] = json.dumps(state)
    if tensors is not None:
        tensors(stored)
    metadata["sha256"] = _digest(metadata, stored)
    out = out or path
    out.write_bytes(save_tensors(stored, metadata=metadata))
    return out


# ------------------------------------------------------- case 1: atomic
def _leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file limits")
def test_a_save_that_runs_out_of_space_leaves_the_earlier_file_whole(clf, model_file):
    import resource

    bigger = TransformerTextClassifier(**{**TEXT, "embed_dim": 32}).fit(X_TEXT, Y_TEXT)
    old_bytes = model_file.read_bytes()
    # A real failed write: the process may write no file past 4 KiB, as on a
    # full disk (EFBIG instead of ENOSPC).
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, limits[1]))
    try:
        with pytest.raises(OSError) as info:
            bigger.save(model_file)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert info.value.errno == errno.EFBIG
    assert model_file.read_bytes() == old_bytes
    assert _leftovers(model_file.parent, {model_file.name}) == []
    loaded = TransformerTextClassifier.load(model_file)
    np.testing.assert_array_equal(
        loaded.predict_proba(X_TEXT), clf.predict_proba(X_TEXT)
    )


def test_a_save_that_fails_to_sync_leaves_the_earlier_file(
    clf, model_file, monkeypatch
):
    old_bytes = model_file.read_bytes()

    def fail(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="No space"):
        clf.save(model_file, include_optimizer=False)
    assert model_file.read_bytes() == old_bytes
    assert _leftovers(model_file.parent, {model_file.name}) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_save_keeps_the_mode_of_the_file_it_replaces_and_follows_links(clf, tmp_path):
    target = tmp_path / "v1.safetensors"
    clf.save(target, include_optimizer=False)
    target.chmod(0o640)
    link = tmp_path / "latest.safetensors"
    link.symlink_to(target)
    clf.save(link)
    assert link.is_symlink() and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert TransformerTextClassifier.load(link).n_iter_ == clf.n_iter_
    assert _leftovers(tmp_path, {target.name, link.name}) == []


# ------------------------------------------- case 4: save validates first
@pytest.mark.parametrize(
    "param, value", [("batch_size", 0), ("dropout", 1.5), ("pooling", "median")]
)
def test_save_refuses_what_load_would_refuse_and_writes_nothing(
    clf, tmp_path, param, value
):
    bad = TransformerTextClassifier(**TEXT).fit(X_TEXT, Y_TEXT)
    bad.set_params(**{param: value})
    path = tmp_path / "bad.safetensors"
    with pytest.raises(ValueError, match=f"cannot be saved.*{param}"):
        bad.save(path)
    assert not path.exists() and _leftovers(tmp_path, set()) == []


# ------------------------------------------------ case 2: hostile files
def test_a_vocabulary_id_outside_the_embedding_table_is_refused(model_file):
    def far_id(state):
        state["vocabulary_"]["good"] = 10**9

    _resign(model_file, fitted=far_id)
    with pytest.raises(ValueError, match="vocabulary_ ids"):
        TransformerTextClassifier.load(model_file)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda s: s.update(max_len_=30_000_000), "do not fit"),
        (lambda s: s["_fitted_params"].update(embed_dim=10**6), "do not fit"),
        (lambda s: s["_fitted_params"].update(num_layers=10**7), "layer counts"),
        (lambda s: s["classes_"].update(dtype="<U200000000"), "more than a file"),
        (lambda s: s["classes_"].update(shape=[10**12]), "more than a file"),
    ],
    ids=["max_len_", "embed_dim", "num_layers", "str dtype", "shape"],
)
def test_sizes_in_a_resigned_header_are_checked_before_allocating(
    model_file, edit, match
):
    _resign(model_file, fitted=edit)
    with pytest.raises(ValueError, match=match):
        TransformerTextClassifier.load(model_file)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs FIFOs")
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    outcome = []

    def load():
        try:
            TransformerTextClassifier.load(fifo)
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(timeout=20)
    if thread.is_alive():  # blocked in open(): release it, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(timeout=20)
        pytest.fail("load() blocked on a FIFO")
    assert isinstance(outcome[0], ValueError)
    assert "not a regular file" in str(outcome[0])


@pytest.mark.parametrize("depth", [100_000])
def test_deeply_nested_json_is_a_value_error(model_file, tmp_path, depth):
    nested = "[" * depth + "]" * depth
    header = f'{{"x":{nested}}}'.encode()
    path = tmp_path / "nested.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(ValueError, match="not a safetensors"):
        TransformerTextClassifier.load(path)
    _resign(model_file, fitted=lambda s: None)
    with safe_open(model_file, framework="pt") as file:
        metadata = file.metadata()
        stored = {name: file.get_tensor(name) for name in file.keys()}
    metadata["fitted"] = nested
    metadata["sha256"] = _digest(metadata, stored)
    model_file.write_bytes(save_tensors(stored, metadata=metadata))
    with pytest.raises(ValueError, match="invalid model data"):
        TransformerTextClassifier.load(model_file)


# --------------------------------------------- case 8: clear, not raw
def test_a_directory_is_a_value_error_for_load_and_save(clf, tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        TransformerTextClassifier.load(tmp_path)
    with pytest.raises(ValueError, match="is a directory"):
        clf.save(tmp_path)


def test_text_with_lone_surrogates_saves_and_loads_exactly(tmp_path):
    X = [doc + " \ud800" * (i % 2) for i, doc in enumerate(X_TEXT)]
    clf = TransformerTextClassifier(**TEXT).fit(X, Y_TEXT)
    assert "\ud800" in clf.vocabulary_
    path = tmp_path / "surrogates.safetensors"
    clf.save(path)
    loaded = TransformerTextClassifier.load(path)
    assert loaded.vocabulary_ == clf.vocabulary_
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_a_header_over_the_safetensors_limit_says_what_to_do(model_file, monkeypatch):
    # The real limit is 100 MB of header; a smaller one stands in for it.
    X = [f"word{i} token{i} good" for i in range(2000)]
    wordy = TransformerTextClassifier(**TEXT).fit(X, ["pos", "neg"] * 1000)
    old_bytes = model_file.read_bytes()
    monkeypatch.setattr(_persistence_file, "MAX_HEADER_BYTES", 40_000)
    with pytest.raises(ValueError, match="(?s)vocabulary_.*max_features.*pickle"):
        wordy.save(model_file)
    assert model_file.read_bytes() == old_bytes


# ------------------------------- cases 2 and 9: memory, in a fresh process
MEASURE = textwrap.dedent(
    """
    import json, resource, sys
    import torch
    torch.set_num_threads(1)
    import sklearn_transformers as st

    def status(key):
        with open("/proc/self/status") as f:
            line = next(line for line in f if line.startswith(key + ":"))
        return int(line.split()[1]) * 1024

    # Leave 2 GiB of address space: a runaway allocation fails, not the machine.
    limit = status("VmSize") + (2 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    results = {}
    for label, cls, path in json.loads(sys.argv[1]):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak (VmHWM) to the current size
        before = status("VmRSS")
        try:
            getattr(st, cls).load(path)
            outcome = "loaded"
        except ValueError:
            outcome = "ValueError"
        except BaseException as exc:
            outcome = type(exc).__name__
        results[label] = [outcome, status("VmHWM") - before]
    print(json.dumps(results))
    """
)


def _measure(cases):
    run = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(cases)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux peak-RSS reset"
)
def test_hostile_and_valid_files_load_in_memory_bounded_by_the_file(
    model_file, tmp_path
):
    # The first load imports and initialises what loading needs: not counted.
    cases = [["warm-up", "TransformerTextClassifier", str(model_file)]]
    zero = tmp_path / "zero.safetensors"
    zero.symlink_to("/dev/zero")
    cases.append(["/dev/zero", "TransformerTextClassifier", str(zero)])
    junk = tmp_path / "junk.safetensors"
    with open(junk, "wb") as f:  # 1 GiB, sparse: its first 8 bytes rule it out
        f.write(b"\xff" * 8)
        f.truncate(1 << 30)
    cases.append(["1 GiB junk", "TransformerTextClassifier", str(junk)])
    for label, edit in {
        "max_len_": lambda s: s.update(max_len_=30_000_000),
        "str dtype": lambda s: s["classes_"].update(dtype="<U200000000"),
    }.items():
        path = _resign(model_file, fitted=edit, out=tmp_path / f"{label}.safetensors")
        cases.append([label, "TransformerTextClassifier", str(path)])

    # A valid file of about 20 MB: weights and optimizer state.
    X, y = make_windows(np.sin(np.arange(40) / 3), window=8)
    big = AttentionTimeSeriesRegressor(
        embed_dim=256, num_heads=4, num_layers=2, ff_dim=1024, max_epochs=1
    ).fit(X, y)
    big_path = tmp_path / "big.safetensors"
    big.save(big_path)
    cases.append(["valid", "AttentionTimeSeriesRegressor", str(big_path)])

    results = _measure(cases)
    file_size = big_path.stat().st_size
    for label, (outcome, peak) in results.items():
        if label == "warm-up":
            assert outcome == "loaded"
        elif label == "valid":
            assert outcome == "loaded"
            # Weights go straight into the module: about one copy of the file.
            assert peak < 1.4 * file_size, (peak, file_size)
        else:
            assert outcome == "ValueError", (label, outcome)
            assert peak < 64 << 20, (label, peak)
