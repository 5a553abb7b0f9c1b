"""Run every benchmark and write their tables to ``benchmarks/RESULTS.md``.

The one command::

    python benchmarks/run_all.py            # full run, about an hour on 2 cores
    python benchmarks/run_all.py --quick    # smoke run; writes to a temp file
    python benchmarks/run_all.py --only backbone_quality   # rerun one section

Runs every script in ``SECTIONS`` one after another in this process (never in
parallel: they time themselves; ``search`` starts its own worker processes and
times them; ``memory`` starts a fresh subprocess per size; ``score_at_scale``
starts Dask clusters of 1 and 2 workers), captures the markdown each prints and writes one section per
script, each stamped with its own date and commit, under a header naming the
machine and the command. ``--only`` reruns the named scripts and replaces
their sections in the existing results file, keeping the others as they were
(with their own stamps); sections that no script writes (hand-written
quotes) are kept in every run. The ``ON_REQUEST`` scripts run only when ``--only``
names them: ``keras_seed`` (creates a TensorFlow environment from the package
registry on first use) and ``gpu`` (needs a CUDA device); a full run keeps
their sections as they were. ``--quick`` and ``--threads`` are passed
through; ``timeseries_quality`` takes its thread count from the environment
that ``_threads`` sets, and ``search`` sets the threads of each variant it
times. A full run writes ``benchmarks/RESULTS.md`` unless ``--output`` says
otherwise; a quick run writes to a temporary file unless
``--output`` is given, so a smoke test never overwrites the results.
"""

import argparse
import contextlib
import datetime
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _threads  # noqa: F401  (sets thread variables before numpy and torch load)
import backbone_quality
import faithfulness
import gpu
import keras_seed
import m3
import memory
import persistence
import score_at_scale
import search
import speed
import text_quality
import text_start
import timeseries_quality
import torch

from _common import machine_line

HERE = Path(__file__).resolve().parent
SECTIONS = (
    ("Text quality", text_quality, "text_quality.py"),
    ("Text readout start", text_start, "text_start.py"),
    ("Speed", speed, "speed.py"),
    ("Time-series quality", timeseries_quality, "timeseries_quality.py"),
    ("Pretrained backbone", backbone_quality, "backbone_quality.py"),
    ("Parallel search", search, "search.py"),
    ("Memory", memory, "memory.py"),
    ("Persistence", persistence, "persistence.py"),
    ("Scoring at scale", score_at_scale, "score_at_scale.py"),
    ("Faithfulness", faithfulness, "faithfulness.py"),
    ("M3 competition", m3, "m3.py"),
)
# Sections run only when named in --only, never in a full or quick run: they
# need what CI does not have (keras_seed: the package registry, to create its
# TensorFlow environment once; gpu: a CUDA device). A full run keeps their
# sections from the existing results file.
ON_REQUEST = (
    ("Against the seed's Keras model", keras_seed, "keras_seed.py"),
    ("GPU", gpu, "gpu.py"),
)
# The scripts with a --threads flag; timeseries_quality takes its threads from
# the environment, and search varies them itself.
THREADED = (text_quality, speed, backbone_quality, faithfulness)


def script_args(module, args):
    """Command-line arguments passed through to one benchmark's ``main``."""
    argv = ["--quick"] if args.quick else []
    if module in THREADED:
        argv += ["--threads", str(args.threads)]
    return argv


def run_section(module, argv):
    """Run ``module.main(argv)``; return its printed markdown and seconds."""
    buffer = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buffer):
        module.main(argv)
    return buffer.getvalue().strip(), time.perf_counter() - start


def git_revision():
    """Short commit of the working tree, marked when it has local changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            # The results file itself does not count as a change of the code.
            [
                "git",
                "status",
                "--porcelain",
                "--",
                ":(top)",
                ":(top,exclude)benchmarks/RESULTS.md",
            ],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" with local changes" if dirty else "")


def header(args):
    command = "python benchmarks/run_all.py" + (" --quick" if args.quick else "")
    if args.threads != 1:
        command += f" --threads {args.threads}"
    return "\n".join(
        [
            "# Benchmark results" + (" (quick smoke run)" if args.quick else ""),
            "",
            f"- Machine: {machine_line()}",
            f"- Threads: {args.threads} (torch, OpenMP and BLAS)",
            f"- Reproduce: `{command}` (all sections), or "
            "`python benchmarks/run_all.py --only NAME` (one section, named by "
            "its script)",
        ]
    )


def stamp():
    now = datetime.datetime.now(datetime.timezone.utc)
    return f"run {now:%Y-%m-%d %H:%M} UTC, code {git_revision()}"


def split_sections(text):
    """``{title: section text}`` of an existing results file (``## `` headings)."""
    sections = {}
    for part in text.split("\n## ")[1:]:
        title = part.split("\n", 1)[0].strip()
        sections[title] = "## " + part.strip()
    return sections


def output_path(args):
    if args.output is not None:
        return Path(args.output)
    if args.quick:
        return Path(tempfile.mkdtemp(prefix="benchmarks-")) / "RESULTS.md"
    return HERE / "RESULTS.md"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch / BLAS threads (default 1)"
    )
    parser.add_argument(
        "--only",
        help="comma-separated script names (e.g. backbone_quality): rerun only "
        "these and keep the other sections of the results file",
    )
    parser.add_argument(
        "--output",
        help="where to write (default: benchmarks/RESULTS.md; a temp file "
        "with --quick)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    path = output_path(args)
    only = None if args.only is None else set(args.only.split(","))
    known = {script.removesuffix(".py") for _, _, script in SECTIONS + ON_REQUEST}
    if only is not None and not only <= known:
        parser.error(f"--only: unknown {sorted(only - known)}; known: {sorted(known)}")
    keep_old = path.exists() and (only is not None or not args.quick)
    kept = split_sections(path.read_text()) if keep_old else {}

    parts = [header(args)]
    for title, module, script in SECTIONS + ON_REQUEST:
        name = script.removesuffix(".py")
        on_request = any(script == other for _, _, other in ON_REQUEST)
        requested = name in only if only is not None else not on_request
        if not requested:
            if title in kept:
                parts.append(kept[title])
            continue
        print(f"== {script}", file=sys.stderr, flush=True)
        text, seconds = run_section(module, script_args(module, args))
        print(text + "\n", file=sys.stderr, flush=True)
        parts.append(
            f"## {title}\n\n`python benchmarks/{script}` ({seconds:.0f} s; "
            f"{stamp()})\n\n{text}"
        )
    # Hand-written sections (quoted figures) come from no script: keep them.
    produced = {title for title, _, _ in SECTIONS + ON_REQUEST}
    parts.extend(text for title, text in kept.items() if title not in produced)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(parts) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
