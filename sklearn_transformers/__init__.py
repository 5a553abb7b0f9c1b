"""Transformer and attention models behind the scikit-learn API."""

from .text import TransformerTextClassifier
from .timeseries import AttentionTimeSeriesRegressor, make_windows

__all__ = ["AttentionTimeSeriesRegressor", "TransformerTextClassifier", "make_windows"]
__version__ = "0.1.0"
