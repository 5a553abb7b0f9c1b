"""What the plotting modules share: the lazy pyplot import and the type check."""

__all__ = ["import_pyplot", "unsupported"]


def import_pyplot(caller):
    """Import pyplot, or raise an ImportError that names the ``plot`` extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib: pip install 'sklearn-transformers[plot]'"
        ) from exc
    return plt


def unsupported(estimator, caller, needs):
    return TypeError(
        f"{caller} needs an estimator with {needs} (TransformerTextClassifier or "
        f"AttentionTimeSeriesRegressor), got {type(estimator).__name__}. Pass "
        "the fitted estimator itself (e.g. pipeline[-1] or search.best_estimator_)."
    )
