"""Smoke test of the benchmarks: the one command runs end to end in quick mode."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = (
    "## Text quality",
    "## Text readout start",
    "## Speed",
    "## Time-series quality",
    "## Pretrained backbone",
    "## Parallel search",
    "## Memory",
    "## Persistence",
    "## Scoring at scale",
    "## Faithfulness",
    "## M3 competition",
)


def run_all(*args):
    return subprocess.run(
        [sys.executable, "benchmarks/run_all.py", "--quick", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_run_all_quick_writes_every_section(tmp_path):
    output = tmp_path / "RESULTS.md"
    done = run_all("--output", str(output))
    assert done.returncode == 0, done.stderr[-3000:]
    text = output.read_text()
    assert text.startswith("# Benchmark results")
    for section in SECTIONS:
        assert section in text
    assert "| model | test accuracy |" in text
    assert (
        "| set | model | accuracy | log-loss | ECE | macro-F1 | worst-class recall |"
        in text
    )
    for text_set in ("fine_food", "trump_tweets", "bird_strikes"):
        assert f"| {text_set} | TF-IDF + LR (C searched) |" in text
        assert f"| {text_set} | a candidate, fitted on all | 0.5 | 16 |" in text
        assert f"| {text_set} | the start (seed 0) |" in text
    assert "### Training overhead" in text
    assert "| variant | processes x torch threads | search s |" in text
    assert "| Dask, 2 worker(s) x 1 thread | 2,000 |" in text
    # On request only: they need the package registry or a GPU.
    assert "## Against the seed's Keras model" not in text
    assert "## GPU" not in text
    assert "### Goals (issue 15)" in text


def test_run_all_only_replaces_the_named_section(tmp_path):
    output = tmp_path / "RESULTS.md"
    output.write_text(
        "# Benchmark results\n\n## Text quality\n\nkept as it was\n\n"
        "## Pretrained backbone\n\nstale figures\n\n"
        "## Quoted measurements\n\nhand-written\n"
    )
    done = run_all("--only", "backbone_quality", "--output", str(output))
    assert done.returncode == 0, done.stderr[-3000:]
    text = output.read_text()
    assert "## Text quality\n\nkept as it was" in text
    assert "stale figures" not in text
    assert "MiniLM-L6 fine-tuned (defaults)" in text
    assert "## Speed" not in text  # not run, and not in the old file
    assert "## Quoted measurements\n\nhand-written" in text  # no script writes it


def test_run_all_only_rejects_unknown_names(tmp_path):
    done = run_all("--only", "no_such_benchmark", "--output", str(tmp_path / "R.md"))
    assert done.returncode != 0
    assert "unknown ['no_such_benchmark']" in done.stderr


def run_gpu_script(*args):
    return subprocess.run(
        [sys.executable, "benchmarks/gpu.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_gpu_script_without_cuda_says_so_and_exits_cleanly():
    done = run_gpu_script()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "No CUDA device on this machine" in done.stdout
    assert "did not run" in done.stdout


def test_gpu_script_runs_its_benchmark_on_the_cpu_in_smoke_mode():
    done = run_gpu_script("--quick", "--allow-cpu")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| model, precision | test accuracy | fit s | s / epoch |" in done.stdout
    for variant in ("from scratch, bfloat16", "MiniLM fine-tuned, float32"):
        assert variant in done.stdout
    assert "weights on the CPU: True" in done.stdout
    assert "predictions agree on 100.0%" in done.stdout
