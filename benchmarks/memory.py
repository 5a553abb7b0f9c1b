"""Peak memory of a default text fit at 1,000, 10,000 and 100,000 documents.

Each size runs in a fresh subprocess, which records its peak resident set
size (``VmHWM`` on Linux) after importing the package, after building the
documents, and after ``TransformerTextClassifier(max_epochs=1).fit``. The
table reports the fit's peak over the import baseline and over the loaded
data, and how much the latter grows per 1,000 more documents from one size
to the next: a constant slope means memory grows linearly with the number of
documents (a fit also has a fixed cost of about 200 MiB, independent of the
data: torch's first forward and backward passes, optimizer state).

Documents are the 5,000 fine-food reviews (``modeldata`` training + testing
data), repeated and shuffled with a fixed seed. Every copy after the first of
a review has its sentences shuffled (split after ``.``, ``!`` or ``?``), so
larger corpora are not all duplicates; one-sentence reviews stay duplicates,
and the vocabulary stays that of the reviews, as it would for more reviews of
the same products.

On Linux, glibc's malloc keeps memory that torch has freed, and activations of
batches of every width fragment the heap, so without care a long epoch's
resident memory grows far past what the fit holds. Every fit therefore calls
``malloc_trim`` every 50 batches (``_callbacks.TrimHeap``). Measured on this
machine, one epoch, the two variants run side by side, peak RSS over the
loaded data:

    documents   without the trim   with it (the default)
    10,000      369, 372 MiB       367, 354 MiB
    100,000     2,165 MiB          737 MiB

(setting ``MALLOC_MMAP_THRESHOLD_=131072`` before starting Python, or using
jemalloc, lowers both further: 197 and 339 MiB without the trim).

Run: ``python benchmarks/memory.py [--quick] [--threads 1] [--sizes N ...]``
"""

import argparse
import json
import os
import re
import subprocess
import sys

import _threads  # noqa: F401  (sets thread variables before numpy and torch load)
import numpy as np
import torch

from sklearn_transformers import TransformerTextClassifier

from _common import load_reviews, markdown_table, peak_rss_mib, timed

SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (300,)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def make_corpus(n_docs, seed=0):
    """``n_docs`` reviews and their labels; repeated reviews get shuffled sentences."""
    train_docs, train_y, test_docs, test_y = load_reviews()
    reviews = list(train_docs) + list(test_docs)
    labels = np.concatenate([train_y.to_numpy(), test_y.to_numpy()])
    rng = np.random.default_rng(seed)
    copy = np.arange(n_docs) // len(reviews)  # 0 for a review's first copy
    source = np.resize(np.arange(len(reviews)), n_docs)
    order = rng.permutation(n_docs)
    docs = []
    for i in order:
        text = reviews[source[i]]
        if copy[i]:
            sentences = _SENTENCE_END.split(text)
            text = " ".join(sentences[j] for j in rng.permutation(len(sentences)))
        docs.append(text)
    return docs, labels[source[order]]


def child(n_docs):
    """Body of the fresh subprocess: print the peaks at each stage as JSON."""
    after_import = peak_rss_mib()
    docs, labels = make_corpus(n_docs)
    after_data = peak_rss_mib()
    clf = TransformerTextClassifier(max_epochs=1, random_state=0)
    _, seconds = timed(clf.fit, docs, labels)
    report = dict(
        after_import=after_import,
        after_data=after_data,
        after_fit=peak_rss_mib(),
        fit_s=seconds,
        distinct=len(set(docs)),
        vocabulary=len(clf.vocabulary_),
    )
    print(json.dumps(report))


def measure(n_docs, threads):
    """Run :func:`child` in a fresh interpreter; return its report."""
    command = [sys.executable, __file__, "--child", str(n_docs)]
    command += ["--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_table(sizes, threads):
    rows = []
    previous = None
    for n in sorted(sizes):
        r = measure(n, threads)
        fit_adds = r["after_fit"] - r["after_data"]
        slope = (
            ""
            if previous is None
            else (f"{(fit_adds - previous[1]) / (n - previous[0]) * 1000:.1f}")
        )
        previous = (n, fit_adds)
        rows.append(
            [
                f"{n:,}",
                f"{r['distinct']:,}",
                f"{r['vocabulary']:,}",
                f"{r['after_import']:.0f}",
                f"{r['after_data'] - r['after_import']:.0f}",
                f"{r['after_fit'] - r['after_import']:.0f}",
                f"{fit_adds:.0f}",
                slope,
                f"{r['fit_s']:.0f}",
            ]
        )
    header = [
        "documents",
        "distinct texts",
        "vocabulary",
        "import baseline, MiB",
        "data adds, MiB",
        "peak over baseline, MiB",
        "fit adds, MiB",
        "fit adds per 1,000 more docs, MiB",
        "fit s",
    ]
    return markdown_table(header, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch / BLAS threads (default 1)"
    )
    parser.add_argument("--sizes", type=int, nargs="+", help="numbers of documents")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.child is not None:
        child(args.child)
        return
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    print(memory_table(sizes, args.threads))
    print(
        "\nPeak RSS (`VmHWM`) of a fresh subprocess per size: default "
        "`TransformerTextClassifier`, `max_epochs=1`, `random_state=0`, "
        f"{args.threads} thread(s). 'Import baseline' is the peak after "
        "importing torch, scikit-learn, skorch and the package; 'data adds' "
        "the list of documents; 'fit adds' what `fit` adds on top. Documents: "
        "the 5,000 fine-food reviews repeated and shuffled (seed 0), every "
        "repeat with its sentences shuffled. "
        + (
            f"MALLOC_MMAP_THRESHOLD_={os.environ['MALLOC_MMAP_THRESHOLD_']}."
            if "MALLOC_MMAP_THRESHOLD_" in os.environ
            else "glibc's default malloc settings (see the script's docstring)."
        )
    )


if __name__ == "__main__":
    main()
