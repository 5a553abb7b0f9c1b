"""Helpers of the series regressor: scaling of windows, quantile levels, scores."""

import numpy as np

from ._callbacks import r2_score

__all__ = ["check_quantiles", "mean_std", "nonzero", "point_r2", "window_scaled"]


def nonzero(scale):
    """Replace zero spreads (constant features) by 1."""
    return np.where(scale > 0, scale, 1.0)


def mean_std(values, weights):
    """Mean and spread per feature of ``values (n, steps, features)``, over
    samples and steps, each sample weighted by ``weights`` (None: equally)."""
    if weights is None:
        return values.mean(axis=(0, 1)), nonzero(values.std(axis=(0, 1)))
    w = np.broadcast_to(weights[:, None], values.shape[:2])  # (n, steps)
    mean = np.average(values, axis=(0, 1), weights=w)
    var = np.average((values - mean) ** 2, axis=(0, 1), weights=w)
    return mean, nonzero(np.sqrt(var))


def window_scaled(windows, feature):
    """Scale feature ``feature`` of each window by its own mean and spread.

    Returns the scaled copy and the ``(n, 1)`` level and spread. A window
    whose values are constant (spread not above 1e-10 of its level) keeps a
    spread of 1.
    """
    values = windows[:, :, feature]
    level = values.mean(axis=1, keepdims=True)
    spread = values.std(axis=1, keepdims=True)
    spread = np.where(spread > 1e-10 * np.abs(level), spread, 1.0)
    windows = windows.copy()
    windows[:, :, feature] = (values - level) / spread
    return windows, level, spread


def check_quantiles(quantiles):
    """``quantiles`` as a sorted float array, or None; ValueError if invalid."""
    if quantiles is None:
        return None
    levels = np.asarray(quantiles, dtype=np.float64)
    if levels.ndim != 1 or len(levels) == 0:
        raise ValueError(
            f"quantiles must be a non-empty 1-D sequence of probabilities, got "
            f"{quantiles!r}."
        )
    bad = np.flatnonzero(~((levels > 0) & (levels < 1)))
    if len(bad):
        raise ValueError(
            f"quantiles must lie strictly between 0 and 1; quantiles[{bad[0]}] "
            f"is {float(levels[bad[0]])!r}."
        )
    if len(np.unique(levels)) != len(levels):
        raise ValueError(f"quantiles must not repeat a level, got {quantiles!r}.")
    if 0.5 not in levels:
        raise ValueError(
            "quantiles must include 0.5: predict returns the median forecast; "
            f"got {quantiles!r}."
        )
    return np.sort(levels)


def point_r2(y_pred, y_true, sample_weight=None):
    """R^2 of the point (median) forecast: the first ``horizon`` columns."""
    return r2_score(y_pred[:, : y_true.shape[1]], y_true, sample_weight)
