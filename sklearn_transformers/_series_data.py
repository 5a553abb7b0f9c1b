"""Data of AttentionTimeSeriesRegressor: windows, scaling, quantile levels."""

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from ._data import DenseData
from ._series_scaling import check_quantiles, mean_std, window_scaled


def _check_not_a_series(X):
    """Point a 1-D ``X`` (a series, not windows of it) to :func:`make_windows`."""
    ndim = getattr(X, "ndim", None)
    if ndim is None and isinstance(X, (list, tuple)) and len(X):
        ndim = 1 if all(np.isscalar(value) for value in X) else None
    if ndim == 1:
        raise ValueError(
            f"X is 1-D (shape ({len(X)},)): the regressor expects 2D windows "
            "(n_samples, window) or 3D windows (n_samples, window, n_features). "
            "Reshape your data: cut a series into windows with "
            "X, y = make_windows(series, window), or pass one window w as "
            "np.reshape(w, (1, -1))."
        )


class SeriesDataMixin:
    """Hooks of the series regressor that check, window and scale its data.

    Validates ``X`` and ``y``, learns and applies the standardisation
    (``x_mean_``, ``y_scale_``, ...), orders the quantile levels and turns the
    module's outputs back into forecasts in units of y. Placed before
    :class:`AttentionEstimatorBase` in the MRO.
    """

    def _prepare_data(self, X, y, sample_weight, *, reset):
        _check_not_a_series(X)
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            allow_nd=True,
            dtype=[np.float64, np.float32],
            multi_output=True,
            y_numeric=True,
        )
        weights = self._sample_weight(sample_weight, X)
        windows = self._as_windows(X, reset=reset)
        y = np.asarray(y, dtype=np.float64)
        targets = y.reshape(len(y), -1)  # (n, horizon)
        if reset:
            self._check_target_feature(windows.shape[2])
            self.quantiles_ = check_quantiles(self.quantiles)
            self.n_outputs_ = targets.shape[1]
            self._y_ndim = y.ndim
            self._fit_scaling(windows, targets, weights)
        elif targets.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {targets.shape[1]} output(s), but {type(self).__name__} "
                f"was fitted with {self.n_outputs_}."
            )
        inputs, level, spread = self._scale(windows)
        targets = ((targets - level) / spread - self.y_mean_) / self.y_scale_
        return DenseData(inputs, torch.as_tensor(targets, dtype=torch.float32), weights)

    def _check_target_feature(self, n_features):
        if self.standardize == "window" and self.target_feature >= n_features:
            raise ValueError(
                f"target_feature={self.target_feature} is out of range for windows "
                f"with {n_features} feature(s)."
            )

    def _fit_scaling(self, windows, targets, weights):
        """Set ``x_mean_``, ``x_scale_``, ``y_mean_`` and ``y_scale_``."""
        n_features = windows.shape[2]
        self.x_mean_, self.x_scale_ = np.zeros(n_features), np.ones(n_features)
        self.y_mean_ = np.zeros(self.n_outputs_)
        self.y_scale_ = np.ones(self.n_outputs_)
        if not self.standardize:
            return
        if self.standardize == "window":
            # Statistics of what the model sees: windows and targets relative
            # to each window's own level and spread.
            windows, level, spread = window_scaled(windows, self.target_feature)
            targets = (targets - level) / spread
        self.x_mean_, self.x_scale_ = mean_std(windows, weights)
        if self.standardize == "window":
            self.x_mean_[self.target_feature] = 0.0
            self.x_scale_[self.target_feature] = 1.0
        self.y_mean_, self.y_scale_ = mean_std(targets[:, None], weights)

    def _as_windows(self, X, *, reset):
        """Check the window shape; return X as ``(n, window, n_features)``."""
        if X.ndim not in (2, 3):
            raise ValueError(
                "X must be 2-D (n_samples, window) or 3-D (n_samples, window, "
                f"n_features); got shape {X.shape}."
            )
        windows = X if X.ndim == 3 else X[:, :, None]
        if reset:
            self.window_shape_ = windows.shape[1:]
        elif windows.shape[1:] != self.window_shape_:
            raise ValueError(
                f"X has windows of shape {windows.shape[1:]} (window, n_features), "
                f"but {type(self).__name__} was fitted with {self.window_shape_}."
            )
        if self._fitted_params.get("lag_order") == "newest_first":
            windows = windows[:, ::-1]
        return windows

    def _scale(self, windows):
        """Standardised windows as a tensor, and each window's level and spread.

        Level and spread are ``(n, 1)`` arrays with ``standardize="window"``,
        else 0 and 1.
        """
        level, spread = 0.0, 1.0
        if self.standardize == "window":
            windows, level, spread = window_scaled(windows, self.target_feature)
        inputs = (windows - self.x_mean_) / self.x_scale_
        return torch.as_tensor(inputs, dtype=torch.float32), level, spread

    def _levels(self):
        """Quantile levels in the module's output order: the median first."""
        if self.quantiles_ is None:
            return np.array([0.5])
        return np.concatenate([[0.5], self.quantiles_[self.quantiles_ != 0.5]])

    def _quantile_forecasts(self, X):
        """All forecasts ``(n, horizon, n_levels)`` in units of y, levels sorted."""
        data, level, spread = self._encode(X)
        out = self._run_module_dense(data, "forward").astype(np.float64)
        levels = self._levels()
        out = out.reshape(len(out), len(levels), self.n_outputs_)
        out = out[:, np.argsort(levels)].transpose(0, 2, 1)  # (n, S, Q)
        out = out * self.y_scale_[:, None] + self.y_mean_[:, None]
        out = out * np.reshape(spread, (-1, 1, 1)) + np.reshape(level, (-1, 1, 1))
        # Sorting rearranges crossing quantiles into a monotone set
        # (Chernozhukov et al. 2010); it never moves a forecast past another.
        return np.sort(out, axis=-1)
