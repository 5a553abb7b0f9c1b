"""What every example shares: its command line and how it saves figures."""

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


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


def save(fig, path, figures, dpi=100):
    """Write ``fig`` to ``path``, close it and record the path in ``figures``."""
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    figures.append(path)
