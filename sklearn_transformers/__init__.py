"""Transformer and attention models behind the scikit-learn API."""

from ._version import __version__
from ._windows import forecast_index, last_window, target_index
from .text import TransformerTextClassifier
from .timeseries import AttentionTimeSeriesRegressor, make_windows

__all__ = [
    "AttentionTimeSeriesRegressor",
    "TransformerTextClassifier",
    "__version__",
    "forecast_index",
    "last_window",
    "make_windows",
    "target_index",
]
