"""Accuracy and speed of TransformerTextClassifier vs TF-IDF + LogisticRegression.

Fine-food reviews (``modeldata``), the given train / test split. For each seed,
in one process and alternating: the default ``TransformerTextClassifier
(random_state=seed)`` and TF-IDF (sublinear tf, 1-2-grams, ``min_df=2``) +
``LogisticRegression(C=4)``. Reported: test accuracy, fit seconds and
``predict`` documents per second, the median over the seeds (the accuracy
range too), and the majority-class accuracy. Torch, numpy and BLAS use
``--threads`` threads (default 1, see ``_threads``).

Run: ``python benchmarks/text_quality.py [--quick] [--seeds 3] [--threads 1]``
"""

import argparse

import _threads  # noqa: F401  (sets thread variables before numpy and torch load)
import torch
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline

from sklearn_transformers import TransformerTextClassifier

from _common import load_reviews, machine_line, markdown_table, median, timed

# Tiny settings for the smoke run: they exercise the code, not the model.
QUICK_PARAMS = dict(embed_dim=16, num_heads=2, num_layers=1, ff_dim=32, max_epochs=1)
FIT_SECONDS_TARGET = 180
ACCURACY_MARGIN = 0.02


def tfidf_logistic(seed):
    """The strong linear baseline (the seed only labels the run)."""
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--seeds", type=int, default=3, help="fits per model (median)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch / BLAS threads (default 1)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    X_train, y_train, X_test, y_test = load_reviews()
    params, seeds = {}, args.seeds
    if args.quick:
        X_train, y_train = X_train[:300], y_train[:300]
        X_test, y_test = X_test[:100], y_test[:100]
        params, seeds = QUICK_PARAMS, 1

    def transformer(seed):
        return TransformerTextClassifier(random_state=seed, **params)

    models = {"TF-IDF + LogisticRegression": tfidf_logistic}
    models["TransformerTextClassifier" + (" (tiny)" if params else "")] = transformer
    runs = {name: [] for name in models}
    names = list(models)
    for seed in range(seeds):
        for name in names[seed % 2 :] + names[: seed % 2]:
            runs[name].append(
                evaluate(models[name], seed, X_train, y_train, X_test, y_test)
            )

    majority = DummyClassifier(strategy="most_frequent").fit(X_train, y_train)
    rows = [["majority class", f"{majority.score(X_test, y_test):.3f}", "", ""]]
    rows += [summary_row(name, runs[name]) for name in names]

    print(
        f"Machine: {machine_line()}. Fine-food reviews, given split: "
        f"{len(X_train):,} training, {len(X_test):,} test reviews. Median of "
        f"{seeds} seed(s), the models alternated in one process; accuracy range "
        "over seeds in brackets.\n"
    )
    print(
        markdown_table(
            ["model", "test accuracy", "fit s", "predict documents / s"], rows
        )
    )
    print("\n" + target_note(runs[names[0]], runs[names[1]]))


def target_note(baseline, transformer):
    """Issue 5's quality target: fit < 3 minutes, accuracy >= baseline - 0.02."""
    gap = median(r[0] for r in transformer) - median(r[0] for r in baseline)
    fit_s = median(r[1] for r in transformer)
    accuracy_met = gap >= -ACCURACY_MARGIN
    return (
        f"Targets: fit under {FIT_SECONDS_TARGET} s: "
        f"{'met' if fit_s < FIT_SECONDS_TARGET else 'missed'} ({fit_s:.0f} s); "
        f"accuracy at least TF-IDF's minus {ACCURACY_MARGIN}: "
        f"{'met' if accuracy_met else 'missed'} (difference {gap:+.3f})."
    )


if __name__ == "__main__":
    main()
