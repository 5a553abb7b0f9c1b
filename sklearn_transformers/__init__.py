"""Transformer and attention models behind the scikit-learn API."""

from ._version import __version__
from .text import TransformerTextClassifier
from .timeseries import AttentionTimeSeriesRegressor, make_windows

__all__ = [
    "AttentionTimeSeriesRegressor",
    "TransformerTextClassifier",
    "__version__",
    "make_windows",
]
