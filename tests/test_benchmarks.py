"""Smoke test of the benchmarks: the one command runs end to end in quick mode."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("## Text quality", "## Speed", "## Time-series quality", "## Memory")


def test_run_all_quick_writes_every_section(tmp_path):
    output = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "benchmarks/run_all.py", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = output.read_text()
    assert text.startswith("# Benchmark results")
    for section in SECTIONS:
        assert section in text
    assert "| model | test accuracy |" in text
    assert "### Training overhead" in text
