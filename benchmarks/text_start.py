"""The text attention readout's linear start, for several ``C``, on several sets.

From scratch, ``TransformerTextClassifier(pooling="attention")`` starts its
readout at a ``LogisticRegression`` (class weights "balanced", as the default
``class_weight``) on each document's L2-normalised TF-IDF vector of words
and hashed word pairs, as the fitted vocabulary and idf give it; with uniform
attention that is the model before its first epoch. This script fits that
logistic regression for each ``C`` of ``--C`` and scores it on the test split,
next to the term-frequency features the start used before (each document's
word and word-pair counts over its length, ``C=100``) and TF-IDF + LR with
``C`` searched (``text_quality.py``'s baseline). The linear fits are
deterministic (no seeds). It chose ``linear_start_C`` in ``_text_encoders``.

Run: ``python benchmarks/text_start.py [--quick] [--datasets fine_food,bird_strikes]
[--C 4,8,16,32,64]``
"""

import argparse

import _threads  # noqa: F401  (sets thread variables before numpy and torch load)
import numpy as np
import scipy.sparse as sp
from _baselines import searched_tfidf
from _text_sets import SETS, check_datasets, load_set
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss

from sklearn_transformers import TransformerTextClassifier
from sklearn_transformers._text_encoders import _frequencies
from sklearn_transformers._text_module import BIGRAM_BUCKETS, bigram_bucket

from _common import machine_line, markdown_table, timed

QUICK_SIZES = (300, 100)  # training, test documents per set


def start_features(X_train, X_test):
    """``{name: (train, test)}``: the start's TF-IDF vectors and the old
    term frequencies, from the default encoder fitted on ``X_train``."""
    model = TransformerTextClassifier(embed_dim=8, num_heads=1, ff_dim=8)
    encoder = model._new_text_encoder()
    ids, offsets, _ = encoder.fit(np.asarray(X_train, dtype=object))
    module = encoder.build_module(
        2,
        embed_dim=8,
        num_heads=1,
        num_layers=1,
        ff_dim=8,
        pooling="attention",
        dropout=0.0,
    )
    encoder.fit_readout_weights(module, ids, offsets)
    test_ids, test_offsets, _ = encoder.encode(np.asarray(X_test, dtype=object))

    def frequencies(ids, offsets):
        ids = np.asarray(ids, dtype=np.int64)
        kept = ~np.isin(ids, encoder.hidden_ids)
        previous = np.concatenate([ids[:1], ids[:-1]])
        words = _frequencies(offsets, kept, ids, len(encoder.vocabulary))
        pairs = bigram_bucket(previous, ids)
        return sp.hstack(
            [words, _frequencies(offsets, kept, pairs, BIGRAM_BUCKETS)]
        ).tocsr()

    return {
        "TF-IDF vectors (the start)": (
            encoder.linear_features(ids, offsets, module),
            encoder.linear_features(test_ids, test_offsets, module),
        ),
        "term frequencies (the start before)": (
            frequencies(ids, offsets),
            frequencies(test_ids, test_offsets),
        ),
    }


def scores(y_test, proba, classes):
    y_pred = classes[proba.argmax(axis=1)]
    return [
        f"{accuracy_score(y_test, y_pred):.3f}",
        f"{log_loss(y_test, proba, labels=classes):.3f}",
        f"{f1_score(y_test, y_pred, average='macro'):.3f}",
    ]


def set_rows(set_name, args):
    X_train, y_train, X_test, y_test = load_set(set_name)
    if args.quick:
        X_train, y_train = X_train[: QUICK_SIZES[0]], y_train[: QUICK_SIZES[0]]
        X_test, y_test = X_test[: QUICK_SIZES[1]], y_test[: QUICK_SIZES[1]]
    classes = np.unique(y_train)
    rows = []
    baseline, fit_s = timed(searched_tfidf(0).fit, X_train, y_train)
    rows.append(
        [set_name, "TF-IDF + LR (C searched)", f"{baseline.C_:g}"]
        + scores(y_test, baseline.predict_proba(X_test), classes)
        + [f"{fit_s:.1f}"]
    )
    grids = {
        "TF-IDF vectors (the start)": args.C,
        "term frequencies (the start before)": [100.0],
    }
    for name, (train, test) in start_features(X_train, X_test).items():
        used = np.flatnonzero(train.getnnz(axis=0))  # as the start fits them
        for C in grids[name]:
            linear = LogisticRegression(C=C, max_iter=1000, class_weight="balanced")
            _, fit_s = timed(linear.fit, train[:, used], y_train)
            rows.append(
                [set_name, name, f"{C:g}"]
                + scores(y_test, linear.predict_proba(test[:, used]), classes)
                + [f"{fit_s:.1f}"]
            )
    return rows


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--datasets", default=",".join(SETS))
    parser.add_argument(
        "--C", default="4,8,16,32,64", help="comma-separated C of the start"
    )
    args = parser.parse_args(argv)
    args.C = [float(c) for c in args.C.split(",")]
    check_datasets(parser, args.datasets)
    return args


def main(argv=None):
    args = parse(argv)
    rows = []
    for set_name in args.datasets.split(","):
        rows += set_rows(set_name, args)
    print(f"{machine_line()}. Class weights 'balanced' in the start's fits.\n")
    print(
        markdown_table(
            ["set", "features", "C", "accuracy", "log-loss", "macro-F1", "fit s"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
