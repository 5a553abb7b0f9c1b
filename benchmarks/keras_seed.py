"""The seed tutorial's Keras model next to TransformerTextClassifier, measured here.

Fine-food reviews (``modeldata``), the given split. Both models train with
our default's vocabulary (the built-in word tokenizer, ``min_df=2``),
``max_len=256`` and batch size 32, for the same number of epochs (our
default, 8), one thread each, in fresh processes alternated run by run:

- ``TransformerTextClassifier()`` with its defaults, on the raw reviews;
- the Keras tutorial's model (``_keras_child.py``: post-LayerNorm
  ``TransformerBlock`` with ``key_dim=embed_dim``, dropout 0.1, token +
  position embeddings, global average pooling, softmax head, Adam) on our
  tokenizer's ids padded to ``max_len``, at our default sizes (64 wide,
  4 heads, 2 blocks, feed-forward 128) and at the tutorial's own (32 wide,
  2 heads, 1 block, feed-forward 32).

Reported: test accuracy, wall and CPU seconds per epoch (training only; our
tokenization is outside the epochs, Keras gets ids), predict documents per
second (ours from raw text, tokenizing included; Keras from ids, batches of
256) and peak resident memory of each process. Medians over ``--repeats``
seeds.

TensorFlow and Keras are never dependencies of the package: the script
creates its own virtual environment, ``benchmarks/output/keras-venv``, on
first use (``pip install tensorflow-cpu keras`` from the package registry,
so the first run needs the registry; later runs reuse it). It is therefore
not part of ``run_all.py``'s full or quick runs (CI never needs TensorFlow);
``python benchmarks/run_all.py --only keras_seed`` runs it and rewrites its
section.

Each process's result is kept in ``benchmarks/output/keras_seed_runs.jsonl``
(gitignored), so an interrupted run resumes; ``--fresh`` measures anew.

Run: ``python benchmarks/keras_seed.py [--quick] [--repeats 3] [--fresh]``
"""

import argparse
import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import _threads  # noqa: F401  (sets thread variables before numpy and torch load)
import numpy as np

from _common import load_reviews, machine_line, markdown_table, median

HERE = Path(__file__).resolve().parent
VENV = HERE / "output" / "keras-venv"
RUNS = HERE / "output" / "keras_seed_runs.jsonl"  # results kept for resuming
KERAS_PACKAGES = ("tensorflow-cpu==2.21.0", "keras==3.15.1")
MAX_LEN = 256  # TransformerTextClassifier's max_len="auto" from scratch
EPOCHS = 8  # its max_epochs="auto" from scratch
# (label, embed_dim, num_heads, num_layers, ff_dim) of the Keras runs.
KERAS_SIZES = (
    ("our default sizes", 64, 4, 2, 128),
    ("the tutorial's sizes", 32, 2, 1, 32),
)
SPEEDUP_TARGET = 3.0


def keras_python():
    """The Keras environment's Python, created (needs the registry) if missing."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} (tensorflow-cpu, keras)", file=sys.stderr)
        venv.create(VENV, with_pip=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *KERAS_PACKAGES],
            check=True,
        )
    return python


def write_data(directory, quick):
    """Reviews as text (ours) and as padded ids of our vocabulary (Keras)."""
    from sklearn_transformers._text_encoders import WordEncoder

    X_train, y_train, X_test, y_test = load_reviews()
    if quick:
        X_train, y_train, X_test, y_test = (
            X_train[:200],
            y_train[:200],
            X_test[:100],
            y_test[:100],
        )
    labels = {"great": 1, "other": 0}
    y_train = np.array([labels[v] for v in y_train])
    y_test = np.array([labels[v] for v in y_test])
    encoder = WordEncoder(
        max_len=MAX_LEN, lowercase=True, tokenizer=None, min_df=2, max_features=None
    )
    ids, offsets, _ = encoder.fit(list(X_train))

    def padded(ids, offsets):
        out = np.zeros((len(offsets) - 1, MAX_LEN), dtype=np.int32)
        for i, (start, stop) in enumerate(zip(offsets[:-1], offsets[1:], strict=True)):
            words = ids[start + 1 : stop]  # without the leading [CLS]
            out[i, : len(words)] = words
        return out

    test_ids, test_offsets, _ = encoder.encode(list(X_test))
    np.savez(
        directory / "ids.npz",
        x_train=padded(ids, offsets),
        y_train=y_train,
        x_test=padded(test_ids, test_offsets),
        y_test=y_test,
        vocab_size=len(encoder.vocabulary),
    )
    (directory / "text.json").write_text(
        json.dumps(
            {
                "X_train": list(X_train),
                "y_train": y_train.tolist(),
                "X_test": list(X_test),
                "y_test": y_test.tolist(),
            }
        )
    )
    return len(encoder.vocabulary), len(X_train), len(X_test)


def run_child(command):
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:2]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cached_run(key, command, fresh=False):
    """The result of ``command``, run now or kept from an earlier run.

    A full run takes hours on a busy machine, so each process's result is
    appended to ``RUNS`` (one JSON line, with its model, seed, epochs and
    training size) and an interrupted run resumes where it stopped. The
    package's code and the Keras environment must not change in between;
    ``--fresh`` measures everything again.
    """
    if not fresh and RUNS.exists():
        for line in RUNS.read_text().splitlines():
            record = json.loads(line)
            if record["key"] == key:
                return dict(record["result"], kept=True)
    result = run_child(command)
    RUNS.parent.mkdir(parents=True, exist_ok=True)
    with RUNS.open("a") as runs:
        runs.write(json.dumps({"key": key, "result": result}) + "\n")
    return result


def ours_command(directory, seed, epochs, quick):
    command = [sys.executable, __file__, "--child", str(directory), "--seed", str(seed)]
    return command + ["--epochs", str(epochs)] + (["--quick"] if quick else [])


def keras_command(python, directory, seed, epochs, sizes):
    child = str(HERE / "_keras_child.py")
    return [str(python), child, str(directory / "ids.npz"), str(seed), str(epochs)] + [
        str(v) for v in sizes
    ]


def ours_child(directory, seed, epochs, quick):
    """Fit and time the default estimator; print one JSON line (child process)."""
    import time

    import torch
    from skorch.callbacks import Callback

    from sklearn_transformers import TransformerTextClassifier

    from _common import peak_rss_mib

    torch.set_num_threads(1)

    class EpochCPU(Callback):
        def on_epoch_begin(self, net, **kwargs):
            self._start = time.process_time()

        def on_epoch_end(self, net, **kwargs):
            net.history.record("cpu_dur", time.process_time() - self._start)

    data = json.loads((Path(directory) / "text.json").read_text())
    after_imports = peak_rss_mib()
    params = dict(embed_dim=16, num_heads=2, num_layers=1, ff_dim=32) if quick else {}
    clf = TransformerTextClassifier(
        max_epochs=epochs, random_state=seed, callbacks=[EpochCPU()], **params
    )
    clf.fit(data["X_train"], np.asarray(data["y_train"]))
    predict_s = []
    for _ in range(3):
        start = time.perf_counter()
        y_pred = clf.predict(data["X_test"])
        predict_s.append(time.perf_counter() - start)
    result = {
        "accuracy": float(np.mean(y_pred == np.asarray(data["y_test"]))),
        "epoch_wall": list(clf.history_[:, "dur"]),
        "epoch_cpu": list(clf.history_[:, "cpu_dur"]),
        "predict_docs_per_s": len(data["X_test"]) / median(predict_s),
        "rss_after_imports": after_imports,
        "rss_peak": peak_rss_mib(),
        "versions": f"torch {torch.__version__}",
    }
    print(json.dumps(result))


def summary(name, runs):
    """One table row: medians over runs (accuracy range in brackets)."""
    accuracies = [run["accuracy"] for run in runs]
    spread = f" ({min(accuracies):.3f}-{max(accuracies):.3f})" if len(runs) > 1 else ""
    wall = median(median(run["epoch_wall"]) for run in runs)
    cpu = median(median(run["epoch_cpu"]) for run in runs)
    return {
        "row": [
            name,
            f"{median(accuracies):.3f}{spread}",
            f"{wall:.2f}",
            f"{cpu:.2f}",
            f"{median(run['predict_docs_per_s'] for run in runs):,.0f}",
            f"{median(run['rss_after_imports'] for run in runs):.0f}",
            f"{median(run['rss_peak'] for run in runs):.0f}",
        ],
        "accuracy": median(accuracies),
        "wall": wall,
        "cpu": cpu,
    }


def verdict(value, target):
    if value >= target:
        return "met"
    return f"missed by {100 * (1 - value / target):.1f}%"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--repeats", type=int, default=3, help="seeds per model")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help=f"ignore the runs kept in {RUNS.relative_to(HERE.parent)}",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return ours_child(args.child, args.seed, args.epochs, args.quick)

    python = keras_python()
    epochs, repeats = (1, 1) if args.quick else (EPOCHS, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        vocab_size, n_train, n_test = write_data(directory, args.quick)
        ours = "TransformerTextClassifier " + (
            "(tiny, quick)" if args.quick else "(defaults)"
        )
        commands = {ours: None}
        for label, *sizes in KERAS_SIZES:
            commands[f"Keras tutorial model, {label}"] = sizes
        runs = {name: [] for name in commands}
        names = list(commands)
        for seed in range(repeats):
            for name in names[seed % len(names) :] + names[: seed % len(names)]:
                sizes = commands[name]
                command = (
                    ours_command(directory, seed, epochs, args.quick)
                    if sizes is None
                    else keras_command(python, directory, seed, epochs, sizes)
                )
                key = {"model": name, "seed": seed, "epochs": epochs, "n": n_train}
                runs[name].append(cached_run(key, command, fresh=args.fresh))
                print(f"{name}, seed {seed}: {runs[name][-1]}", file=sys.stderr)

    rows = {name: summary(name, runs[name]) for name in names}
    header = [
        "model",
        "test accuracy",
        "wall s / epoch",
        "CPU s / epoch",
        "predict docs / s",
        "MiB after imports",
        "peak MiB",
    ]
    print(
        f"Machine: {machine_line()}; {runs[names[1]][0]['versions']}. "
        f"Fine-food reviews, given split ({n_train:,} training, {n_test:,} test), "
        f"vocabulary of {vocab_size:,} words (min_df=2), max_len {MAX_LEN}, "
        f"batch 32, {epochs} epoch(s), one thread per process; median of "
        f"{repeats} seed(s), each run a fresh process, the models alternated. "
        "The machine was shared with other jobs while this ran: CPU seconds are "
        "the steadier figure.\n"
    )
    print(markdown_table(header, [rows[name]["row"] for name in names]))
    ours = rows[names[0]]
    lines = []
    for name in names[1:]:
        speedup = rows[name]["cpu"] / ours["cpu"]
        wall_speedup = rows[name]["wall"] / ours["wall"]
        gain = ours["accuracy"] - rows[name]["accuracy"]
        lines.append(
            f"{name}: Keras / ours per epoch {speedup:.2f}x by CPU time "
            f"({wall_speedup:.2f}x wall), target >= {SPEEDUP_TARGET:.0f}x "
            f"{verdict(speedup, SPEEDUP_TARGET)}; accuracy ours minus Keras "
            f"{gain:+.3f}, target >= 0 {'met' if gain >= 0 else 'missed'}."
        )
    print(
        "\nKeras pads every sequence to max_len and does not mask the padding (as "
        "in the tutorial); ours pads each batch to its longest review and masks "
        "it. Keras predicts from ids, ours from raw text (tokenizing included). "
        "Peak MiB is each process's VmHWM.\n"
    )
    print("\n".join(f"- {line}" for line in lines))
    kept = sum(run.get("kept", False) for name in names for run in runs[name])
    if kept:
        print(
            f"\n{kept} of {repeats * len(names)} runs were read from "
            f"`{RUNS.relative_to(HERE.parent)}`, measured by an earlier, "
            "interrupted run of this script (the section's seconds do not "
            "include them)."
        )


if __name__ == "__main__":
    main()
