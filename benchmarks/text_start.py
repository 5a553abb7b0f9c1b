"""The text attention readout's linear start, candidate by candidate, on several sets.

From scratch, ``TransformerTextClassifier(pooling="attention")`` starts its
readout at a ``LogisticRegression`` (class weights "balanced", as the default
``class_weight``) on each document's L2-normalised TF-IDF vector of words
and hashed word pairs, as the fitted vocabulary and idf give it, each column
scaled by its log-count ratio (NBSVM) to a power; with uniform attention that
is the model before its first epoch. The power and ``C`` are chosen among
``linear_start_candidates`` (``_text_encoders``) by log-loss on a held-out
fifth of the training documents (``_linear_start``). This script scores on
the test split each candidate fitted on all the training documents, the
start as the model chooses it (one row per seed of the held-out split), the
term-frequency features of an earlier start (each document's word and
word-pair counts over its length, ``C=100``), and the baselines of
``text_quality.py``: TF-IDF + LR and NBSVM, ``C`` searched.

Run: ``python benchmarks/text_start.py [--quick] [--datasets fine_food,bird_strikes]
[--seeds 3]``
"""

import argparse

import _threads  # noqa: F401  (sets thread variables before numpy and torch load)
import numpy as np
import scipy.sparse as sp
from _baselines import searched_nbsvm, searched_tfidf
from _text_sets import SETS, check_datasets, load_set
from scipy.special import softmax
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.utils.class_weight import compute_class_weight

from sklearn_transformers import TransformerTextClassifier
from sklearn_transformers._linear_start import fit_linear_start
from sklearn_transformers._text_encoders import WordEncoder, _frequencies
from sklearn_transformers._text_module import BIGRAM_BUCKETS, bigram_bucket

from _common import machine_line, markdown_table, timed

QUICK_SIZES = (300, 100)  # training, test documents per set


def start_features(X_train, X_test):
    """``{name: (train, test)}``: the start's TF-IDF vectors and the old
    term frequencies, from the default encoder fitted on ``X_train``."""
    model = TransformerTextClassifier(embed_dim=8, num_heads=1, num_layers=1, ff_dim=8)
    encoder = model._new_text_encoder()
    ids, offsets, _ = encoder.fit(np.asarray(X_train, dtype=object))
    # A small module of the readout: it holds the idf the features use.
    sizes = ("embed_dim", "num_heads", "num_layers", "ff_dim")
    params = model.get_params()
    module = encoder.build_module(
        2, pooling="attention", dropout=0.0, **{name: params[name] for name in sizes}
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
    for name, search in (("TF-IDF + LR", searched_tfidf), ("NBSVM", searched_nbsvm)):
        baseline, fit_s = timed(search(0).fit, X_train, y_train)
        rows.append(
            [set_name, f"{name} (C searched)", "", f"{baseline.C_:g}"]
            + scores(y_test, baseline.predict_proba(X_test), classes)
            + [f"{fit_s:.1f}"]
        )
    features = start_features(X_train, X_test)
    y = np.searchsorted(classes, y_train)
    balanced = compute_class_weight("balanced", classes=classes, y=y_train)

    def start_row(name, train, test, candidates, seed=0):
        (coef, intercept, report), fit_s = timed(
            fit_linear_start,
            train,
            y,
            len(classes),
            candidates=candidates,
            class_weight=balanced,
            seed=seed,
        )
        logits = np.asarray(test @ coef.T) + intercept
        if logits.shape[1] == 1:  # two classes: the score of class 1 over 0
            logits = np.hstack([np.zeros_like(logits), logits])
        return (
            [set_name, name, f"{report['power']:g}", f"{report['C']:g}"]
            + scores(y_test, softmax(logits, axis=1), classes)
            + [f"{fit_s:.1f}"]
        )

    train, test = features["TF-IDF vectors (the start)"]
    candidates = WordEncoder.linear_start_candidates
    for candidate in sorted(candidates):
        rows.append(start_row("a candidate, fitted on all", train, test, [candidate]))
    for seed in range(args.seeds):
        rows.append(
            start_row(f"the start (seed {seed})", train, test, candidates, seed)
        )
    train, test = features["term frequencies (the start before)"]
    rows.append(
        start_row("term frequencies (an earlier start)", train, test, [(0, 100)])
    )
    return rows


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--datasets", default=",".join(SETS))
    parser.add_argument(
        "--seeds", type=int, default=3, help="held-out splits of the start's choice"
    )
    args = parser.parse_args(argv)
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
            [
                "set",
                "model",
                "power",
                "C",
                "accuracy",
                "log-loss",
                "macro-F1",
                "fit s",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
