"""Fit-time hooks of AttentionTimeSeriesRegressor: its module and loss."""

import numpy as np
import torch
from sklearn.linear_model import Ridge

from ._series_module import PinballLoss, SeriesRegressorModule


class SeriesFittingMixin:
    """Hooks of :class:`AttentionEstimatorBase` that build the series module.

    The module (started at a ridge autoregression with ``linear_shortcut``)
    and its loss (squared error, or pinball loss over the quantile levels).
    """

    def _new_module(self):
        window, n_features = self.window_shape_
        fitted = self._fitted_params
        return SeriesRegressorModule(
            n_features,
            window,
            self.n_outputs_,
            n_quantiles=len(self._levels()),
            embed_dim=fitted["embed_dim"],
            num_heads=fitted["num_heads"],
            num_layers=fitted["num_layers"],
            ff_dim=fitted["ff_dim"],
            dropout=self.dropout,
            positional_encoding=fitted["positional_encoding"],
            pooling=fitted["pooling"],
        )

    def _build_module(self, data):
        module = self._new_module()
        if self._fitted_params["linear_shortcut"]:
            # Start from the ridge solution: training then begins at a linear
            # autoregression, and attention learns where it should look.
            flat, targets = data.X.flatten(1).numpy(), data.y.numpy()
            ridge = Ridge(alpha=1.0).fit(
                flat,
                targets,
                sample_weight=None if data.w is None else data.w.numpy(),
            )
            residuals = targets - ridge.predict(flat).reshape(targets.shape)
            # Each quantile starts at the ridge forecast plus the quantile of
            # its training residuals.
            offsets = np.quantile(residuals, self._levels(), axis=0).T  # (S, Q)
            if self.quantiles_ is None:
                offsets = np.zeros_like(offsets)
            module.start_from_linear(
                torch.as_tensor(ridge.coef_.reshape(self.n_outputs_, -1)),
                torch.as_tensor(ridge.intercept_.reshape(-1, 1) + offsets),
            )
        return module

    def _criterion(self, data):
        if self.quantiles_ is None:
            return torch.nn.MSELoss, {}
        return PinballLoss, {"levels": self._levels().tolist()}

    def _stratify(self, data):
        return None
