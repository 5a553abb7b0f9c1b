"""Torch modules of the series regressor: attention readout over lag tokens.

Nothing here knows about scikit-learn or skorch. Shapes use ``B`` (batch),
``W`` (window), ``F`` (features per step), ``D`` (``embed_dim``), ``H``
(heads), ``S`` (horizon steps) and ``Q`` (quantiles; 1 for a point forecast).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._modules import TransformerEncoder, init_weights, make_positional_encoding, pool

__all__ = ["PinballLoss", "SeriesRegressorModule"]


class SeriesRegressorModule(nn.Module):
    """Windows ``(B, W, F)`` in, forecasts ``(B, Q * S)`` out.

    The forecast is the attention path, by construction. Each lag (time
    step) becomes a token: its features projected to ``D`` dimensions plus a
    position signal. Transformer blocks encode the tokens; their states give
    the keys. One learned query per horizon step attends over the keys, with
    the interpretable multi-head attention of the Temporal Fusion Transformer
    (Lim et al., 2021): the heads' attention maps are averaged into one map
    ``a`` per step, and all heads share the values. Each lag's value ``v_j``
    is computed from that lag's own, non-contextual input (a per-lag linear
    map of its features plus a small MLP of its token), so that::

        forecast[s, q] = bias[s, q] + sum_j a[s, j] * v[s, q, j]

    is an exact sum of per-lag contributions ``a[s, j] * v[s, q, j]``:
    removing a lag removes its term, and no other path carries its
    information to the output.

    The query starts at zero and the MLP's output layer at zero.
    :meth:`start_from_linear` starts the readout at a linear autoregression
    ``sum_j w_j . x_j``: the attention at ``|w_j| / sum |w|`` (through the
    per-lag score bias) and the values at ``w_j . x_j * sum |w| / |w_j|``, so
    the first forecast is the linear one and the first attention map is the
    linear model's profile over the lags.

    The output is quantile-major: column block ``q`` (``S`` columns) holds
    quantile ``q``; block 0 is the point (median) forecast.
    """

    def __init__(
        self,
        n_features,
        window,
        horizon,
        *,
        n_quantiles=1,
        embed_dim,
        num_heads,
        num_layers,
        ff_dim,
        dropout,
        positional_encoding,
        pooling,
    ):
        super().__init__()
        self.horizon = horizon
        self.n_quantiles = n_quantiles
        self.num_heads = num_heads
        self.embed_dim = embed_dim
        self.pooling = pooling
        self.input_proj = nn.Linear(n_features, embed_dim)
        self.position = make_positional_encoding(positional_encoding, window, embed_dim)
        self.input_dropout = nn.Dropout(dropout)
        self.encoder = TransformerEncoder(
            embed_dim, num_heads, num_layers, ff_dim, dropout
        )
        self.key = nn.Linear(embed_dim, embed_dim)
        self.query = nn.Parameter(torch.zeros(horizon, embed_dim))
        # A learned score per horizon step and lag, added to every head's.
        self.score_bias = nn.Parameter(torch.zeros(horizon, window))
        outputs = horizon * n_quantiles
        # Per-lag linear values: (S, Q, W, F).
        self.value_weight = nn.Parameter(
            torch.zeros(horizon, n_quantiles, window, n_features)
        )
        self.value_in = nn.Linear(embed_dim, ff_dim)
        self.value_out = nn.Linear(ff_dim, outputs)
        self.bias = nn.Parameter(torch.zeros(horizon, n_quantiles))
        init_weights(self)
        nn.init.normal_(self.value_weight, std=0.02)
        nn.init.zeros_(self.value_out.weight)

    def start_from_linear(self, coef, intercept):
        """Start at a linear forecast: ``coef (S, W * F)``, ``intercept (S, Q)``.

        With the query at zero each head's attention is ``softmax(score_bias)``;
        a bias of ``log |w_j|`` (``|w_j|`` the L1 norm of lag ``j``'s
        coefficients, floored at 1e-6 of their sum) makes it
        ``|w_j| / sum |w|``, and values ``w_j . x_j * sum |w| / |w_j|`` then
        reproduce the linear forecast exactly.
        """
        horizon, quantiles, window, features = self.value_weight.shape
        coef = coef.reshape(horizon, window, features).to(torch.float64)
        size = coef.abs().sum(dim=2)  # (S, W)
        floor = 1e-6 * size.sum(dim=1, keepdim=True) + 1e-12
        size = torch.maximum(size, floor)
        total = size.sum(dim=1, keepdim=True)
        values = coef * (total / size)[:, :, None]  # (S, W, F)
        with torch.no_grad():
            self.score_bias.copy_(size.log())
            self.value_weight.copy_(values[:, None].expand_as(self.value_weight))
            self.bias.copy_(intercept.reshape(horizon, quantiles))

    def tokens(self, x):
        """Non-contextual lag tokens ``(B, W, D)``."""
        return self.input_dropout(self.position(self.input_proj(x)))

    def readout(self, x):
        """Attention ``a (B, S, W)`` and per-lag values ``v (B, S, Q, W)``."""
        batch, window, _ = x.shape
        tokens = self.tokens(x)
        hidden, _ = self.encoder(tokens)
        head_dim = self.embed_dim // self.num_heads
        keys = self.key(hidden).view(batch, window, self.num_heads, head_dim)
        query = self.query.view(self.horizon, self.num_heads, head_dim)
        scores = torch.einsum("shd,bwhd->bhsw", query, keys) / math.sqrt(head_dim)
        scores = scores + self.score_bias  # (B, H, S, W)
        attention = scores.softmax(dim=-1).mean(dim=1)  # heads averaged: (B, S, W)
        linear = torch.einsum("bwf,sqwf->bsqw", x, self.value_weight)
        mlp = self.value_out(F.gelu(self.value_in(tokens)))  # (B, W, S * Q)
        mlp = mlp.view(batch, window, self.horizon, self.n_quantiles)
        values = linear + mlp.permute(0, 2, 3, 1)
        return attention, values

    def forward(self, x):
        # x: (B, W, F) -> (B, Q * S), quantile-major
        attention, values = self.readout(x)
        out = torch.einsum("bsw,bsqw->bsq", attention, values) + self.bias
        return out.transpose(1, 2).flatten(1)

    def attention(self, x):
        """The attention of each horizon step's query over the lags, ``(B, S, W)``."""
        return self.readout(x)[0]

    def contribution(self, x):
        """``|a_j * v_j|`` of the point forecast per step and lag, ``(B, S, W)``."""
        attention, values = self.readout(x)
        return attention * values[:, :, 0].abs()

    def embed_windows(self, x):
        """Pooled encoder states ``(B, D)``."""
        hidden, _ = self.encoder(self.tokens(x))
        return pool(hidden, None, self.pooling)


class PinballLoss(nn.Module):
    """Mean pinball (quantile) loss over quantile levels ``levels``.

    ``forward(pred (B, Q * S), target (B, S))`` with ``pred`` quantile-major
    as :class:`SeriesRegressorModule` returns it. With the single level 0.5
    it is half the mean absolute error. ``reduction="none"`` returns the
    per-sample loss ``(B, Q * S)`` (for sample weights), "mean" its mean.
    """

    def __init__(self, levels, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "none"):
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}.")
        self.reduction = reduction
        self.register_buffer("levels", torch.as_tensor(levels, dtype=torch.float32))

    def forward(self, pred, target):
        batch, horizon = target.shape
        pred = pred.view(batch, len(self.levels), horizon)
        diff = target[:, None, :] - pred  # (B, Q, S)
        levels = self.levels[None, :, None]
        loss = torch.maximum(levels * diff, (levels - 1) * diff)
        return loss.mean() if self.reduction == "mean" else loss.flatten(1)
