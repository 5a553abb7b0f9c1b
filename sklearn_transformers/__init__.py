"""Transformer and attention models behind the scikit-learn API."""

from ._windows import forecast_index, last_window, target_index
from .text import TransformerTextClassifier
from .timeseries import AttentionTimeSeriesRegressor, make_windows

__all__ = [
    "AttentionTimeSeriesRegressor",
    "TransformerTextClassifier",
    "forecast_index",
    "last_window",
    "make_windows",
    "target_index",
]
__version__ = "0.1.0"
