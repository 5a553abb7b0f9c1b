"""Load memory over file size, and vocabulary building time over vocabulary size.

Load: a regressor of a given width is fitted for one epoch and saved (with
the optimizer state, two thirds of the file); a fresh subprocess imports the
package, loads one small file (so that first-use costs are not counted),
resets its peak resident set size (``/proc/self/clear_refs``, Linux) and
loads the large file. The table reports the load's peak RSS over its RSS
before, divided by the file's size: 1.0 means one copy of the file.

Vocabulary: ``build_vocabulary`` over synthetic documents of 10 tokens each,
every token new (so the vocabulary grows as fast as it can), at three sizes.
CPU time (``time.process_time``, median of three runs) per million tokens,
and its ratio to the smallest size's: 1.0 is linear growth.

Run: ``python benchmarks/persistence.py [--quick]``. Linux only (the load
part reads ``/proc``).
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import _threads  # noqa: F401  (sets thread variables before numpy and torch load)
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn_transformers import AttentionTimeSeriesRegressor, make_windows  # noqa: E402
from sklearn_transformers._vocabulary import build_vocabulary  # noqa: E402

LOAD = textwrap.dedent(
    """
    import json, sys
    import torch
    torch.set_num_threads(1)
    from sklearn_transformers import AttentionTimeSeriesRegressor as R

    def status(key):
        with open("/proc/self/status") as f:
            line = next(line for line in f if line.startswith(key + ":"))
        return int(line.split()[1]) * 1024

    R.load(sys.argv[1])  # first use: imports, allocator warm-up
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status("VmRSS")
    R.load(sys.argv[2])
    print(json.dumps(status("VmHWM") - before))
    """
)


def _saved(folder, name, width, layers):
    X, y = make_windows(np.sin(np.arange(48) / 3), window=8)
    reg = AttentionTimeSeriesRegressor(
        embed_dim=width,
        num_heads=4,
        num_layers=layers,
        ff_dim=4 * width,
        max_epochs=1,
        random_state=0,
    ).fit(X, y)
    path = Path(folder) / f"{name}.safetensors"
    reg.save(path)
    return path


def load_memory(quick):
    sizes = [(128, 2)] if quick else [(256, 4), (512, 4), (512, 8)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        small = _saved(folder, "small", 8, 1)
        for width, layers in sizes:
            path = _saved(folder, f"w{width}l{layers}", width, layers)
            run = subprocess.run(
                [sys.executable, "-c", LOAD, str(small), str(path)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            peak = json.loads(run.stdout.strip().splitlines()[-1])
            size = path.stat().st_size
            rows.append((width, layers, size, peak))
    print(
        "| embed_dim x layers | file (MiB) | load peak over before (MiB) | peak / file |"
    )
    print("|---|---:|---:|---:|")
    for width, layers, size, peak in rows:
        print(
            f"| {width} x {layers} | {size / 2**20:.1f} | {peak / 2**20:.1f} "
            f"| {peak / size:.2f} |"
        )


def _documents(n_docs, offset):
    for i in range(n_docs):
        yield [f"t{offset}_{i}_{j}" for j in range(10)]


def vocabulary_time(quick):
    sizes = [5_000, 10_000, 20_000] if quick else [50_000, 100_000, 200_000]
    rows = []
    for n_docs in sizes:
        times = []
        for repeat in range(3):
            start = time.process_time()
            build_vocabulary(_documents(n_docs, repeat), max_len=10)
            times.append(time.process_time() - start)
        rows.append((n_docs * 10, statistics.median(times)))
    base = rows[0][1] / rows[0][0]
    print(
        "| distinct tokens | CPU s (median of 3) | s per million | ratio to smallest |"
    )
    print("|---:|---:|---:|---:|")
    for tokens, seconds in rows:
        per = seconds / tokens
        print(f"| {tokens:,} | {seconds:.2f} | {per * 1e6:.2f} | {per / base:.2f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--threads", type=int, default=None, help="ignored")
    args = parser.parse_args(argv)
    print("Peak memory of `load` (fresh process; one-time costs excluded):\n")
    load_memory(args.quick)
    print("\nVocabulary building, every token new (10 per document):\n")
    vocabulary_time(args.quick)


if __name__ == "__main__":
    main()
