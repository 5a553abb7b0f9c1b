"""Smoke tests of the example scripts: each runs in quick mode and writes its figures.

Every script in ``examples/`` runs in a subprocess, from the repository root,
in its smoke mode (``--quick``, or ``SKLEARN_TRANSFORMERS_QUICK=1`` for the
demo, the way ``bash dev.sh demo`` users can set it), with ``--output-dir``
pointing into ``tmp_path``. The test checks the exit code, the results
table's header, and that every PNG the script reports was written there.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# script -> (header of its results table, PNG files it writes)
SCRIPTS = {
    "demo.py": (
        "| data | model | metric | score | fit (s) |",
        {"review_attention.png", "passengers_attention.png", "passengers_forecast.png"},
    ),
    "review_classification.py": (
        "| model | best parameters | validation accuracy | test accuracy | seconds |",
        {
            "attention_correct.png",
            "attention_wrong.png",
            "embeddings_pca.png",
            "history.png",
        },
    ),
    "forecasting.py": (
        "| series | model | CV MAE, TimeSeriesSplit",
        {
            "passengers_forecast.png",
            "passengers_attention.png",
            "electricity_forecast.png",
            "electricity_attention.png",
        },
    ),
    "many_series.py": (
        "| model | sMAPE, 18 months | 80% interval coverage | fit CPU s |",
        {"m3_forecasts.png", "m3_attention.png"},
    ),
    "fine_tuning.py": (
        "| model | test accuracy | fit (s) |",
        {"backbone_attention.png", "backbone_history.png"},
    ),
    "distributed_search.py": (
        "| model | parameters | CV accuracy | test accuracy |",
        {"candidates.png"},
    ),
    "score_at_scale.py": (
        "| data | model | rows | partitions | seconds | rows / s |",
        {"scores.png"},
    ),
    "attention_walkthrough.py": (
        "| concept | weights shape | rows sum to 1 | check |",
        {
            "1_scaled_dot_product.png",
            "2_self_attention.png",
            "3_transformer_block.png",
            "4_positional_encoding.png",
            "5_causal_mask.png",
        },
    ),
}


def test_every_example_is_tested():
    scripts = {path.name for path in EXAMPLES.glob("*.py")}
    assert {name for name in scripts if not name.startswith("_")} == set(SCRIPTS)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_example_runs_in_quick_mode(script, tmp_path):
    if script in ("distributed_search.py", "score_at_scale.py"):
        pytest.importorskip("distributed")  # the dask extra
    header, expected_pngs = SCRIPTS[script]
    out_dir = tmp_path / "figures"  # not there yet: the script creates it
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        # One torch thread: several fight over busy cores (see conftest.py).
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        # This checkout's package, not whichever one is installed.
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    command = [sys.executable, str(EXAMPLES / script), "--output-dir", str(out_dir)]
    if script == "demo.py":
        env["SKLEARN_TRANSFORMERS_QUICK"] = "1"
    else:
        command.append("--quick")
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout
    assert header in output
    assert "quick mode" in output or script == "attention_walkthrough.py"

    reported = {Path(p) for p in re.findall(r"^\s+(\S+\.png)$", output, re.M)}
    assert {path.name for path in reported} == expected_pngs
    for path in reported:
        assert path.parent == out_dir
        assert path.is_file() and path.stat().st_size > 1000
        with path.open("rb") as png:
            assert png.read(8) == b"\x89PNG\r\n\x1a\n"
