"""Transformer and attention models behind the scikit-learn API."""

from .text import TransformerTextClassifier

__all__ = ["TransformerTextClassifier"]
__version__ = "0.1.0"
