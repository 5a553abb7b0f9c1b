"""Smoke test of the benchmarks: the one command runs end to end in quick mode."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = (
    "## Text quality",
    "## Speed",
    "## Time-series quality",
    "## Pretrained backbone",
    "## Parallel search",
    "## Memory",
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
    assert "### Training overhead" in text
    assert "| variant | processes x torch threads | search s |" in text


def test_run_all_only_replaces_the_named_section(tmp_path):
    output = tmp_path / "RESULTS.md"
    output.write_text(
        "# Benchmark results\n\n## Text quality\n\nkept as it was\n\n"
        "## Pretrained backbone\n\nstale figures\n"
    )
    done = run_all("--only", "backbone_quality", "--output", str(output))
    assert done.returncode == 0, done.stderr[-3000:]
    text = output.read_text()
    assert "## Text quality\n\nkept as it was" in text
    assert "stale figures" not in text
    assert "MiniLM-L6 fine-tuned (defaults)" in text
    assert "## Speed" not in text  # not run, and not in the old file


def test_run_all_only_rejects_unknown_names(tmp_path):
    done = run_all("--only", "no_such_benchmark", "--output", str(tmp_path / "R.md"))
    assert done.returncode != 0
    assert "unknown ['no_such_benchmark']" in done.stderr
