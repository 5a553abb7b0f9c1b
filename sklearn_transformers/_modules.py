"""Torch modules: attention, transformer blocks, encoders, pooling.

The text classifier's module lives in :mod:`._text_module`, the series
regressor's in :mod:`._series_module`.

Nothing here knows about scikit-learn or skorch. Every module takes plain
integers and floats, so the estimators can build them from their parameters.

Shapes use ``B`` (batch), ``L`` (sequence length), ``D`` (``embed_dim``),
``H`` (``num_heads``) and ``F`` (input features of a series).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Autocast",
    "LearnedPositionalEncoding",
    "MultiHeadSelfAttention",
    "SinusoidalPositionalEncoding",
    "TransformerBlock",
    "TransformerEncoder",
    "pool",
]


def init_weights(module):
    """Initialise the weights of every sub-module in one place.

    Linear and embedding weights are drawn from N(0, 0.02) (as in GPT-2),
    biases start at zero, LayerNorm at the identity.
    """
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, mean=0.0, std=0.02)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.Embedding):
            nn.init.normal_(sub.weight, mean=0.0, std=0.02)
            if sub.padding_idx is not None:
                with torch.no_grad():
                    sub.weight[sub.padding_idx].zero_()
        elif isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)


class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sine / cosine position signal of Vaswani et al. (2017).

    Adds ``pe[pos, 2i] = sin(pos / 10000^(2i/D))`` and the matching cosine to
    the input. Works for any sequence length; has no parameters.
    """

    def __init__(self, embed_dim):
        super().__init__()
        self.embed_dim = embed_dim

    def table(self, length, device=None, dtype=torch.float32):
        """Return the ``(length, D)`` table of position vectors."""
        position = torch.arange(length, device=device, dtype=torch.float32)
        half = torch.arange(0, self.embed_dim, 2, device=device, dtype=torch.float32)
        freq = torch.exp(-math.log(10000.0) * half / self.embed_dim)
        angles = position[:, None] * freq[None, :]  # (L, ceil(D/2))
        pe = torch.zeros(length, self.embed_dim, device=device)
        pe[:, 0::2] = torch.sin(angles)
        pe[:, 1::2] = torch.cos(angles[:, : self.embed_dim // 2])
        return pe.to(dtype)

    def forward(self, x):
        # x: (B, L, D) -> (B, L, D)
        return x + self.table(x.shape[1], x.device, x.dtype)


class LearnedPositionalEncoding(nn.Module):
    """A trained vector per position, up to ``max_len`` positions."""

    def __init__(self, max_len, embed_dim):
        super().__init__()
        self.embedding = nn.Embedding(max_len, embed_dim)

    def forward(self, x):
        # x: (B, L, D) -> (B, L, D); L <= max_len
        positions = torch.arange(x.shape[1], device=x.device)
        return x + self.embedding(positions)


def make_positional_encoding(kind, max_len, embed_dim):
    """Build the positional encoding named ``kind``."""
    if kind == "sinusoidal":
        return SinusoidalPositionalEncoding(embed_dim)
    if kind == "learned":
        return LearnedPositionalEncoding(max_len, embed_dim)
    raise ValueError(f"unknown positional encoding {kind!r}")


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention through ``F.scaled_dot_product_attention``.

    ``forward(x, key_mask, need_weights=True)`` also returns the attention
    probabilities ``(B, H, L, L)``; that path computes them explicitly and is
    meant for inspection, not for training speed.

    Dropout applies to the output projection, not to the attention
    probabilities: dropping entries of the ``(B, H, L, L)`` matrix draws more
    random numbers than the rest of a training step together, which more
    than halved CPU training speed (``benchmarks/RESULTS.md``).
    """

    def __init__(self, embed_dim, num_heads, dropout):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim)
        self.proj = nn.Linear(embed_dim, embed_dim)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x, key_mask=None, *, causal=False, need_weights=False):
        batch, length, dim = x.shape
        head_dim = dim // self.num_heads
        # (B, L, 3D) -> 3 x (B, H, L, D/H)
        q, k, v = (
            self.qkv(x)
            .view(batch, length, 3, self.num_heads, head_dim)
            .permute(2, 0, 3, 1, 4)
            .unbind(0)
        )
        # key_mask: (B, L) True for real tokens -> (B, 1, 1, L) broadcast over
        # heads and queries; SDPA keeps the positions marked True.
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]
        if causal:
            causal_mask = torch.ones(
                length, length, dtype=torch.bool, device=x.device
            ).tril()
            attn_mask = causal_mask if attn_mask is None else attn_mask & causal_mask
        weights = None
        if need_weights:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(head_dim)  # (B, H, L, L)
            if attn_mask is not None:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            weights = scores.softmax(dim=-1)
            out = weights @ v  # (B, H, L, D/H)
        else:
            out = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=attn_mask,
                dropout_p=0.0,
            )
        out = out.transpose(1, 2).reshape(batch, length, dim)  # (B, L, D)
        return self.resid_dropout(self.proj(out)), weights


class FeedForward(nn.Module):
    """Position-wise two-layer MLP with GELU."""

    def __init__(self, embed_dim, ff_dim, dropout):
        super().__init__()
        self.fc_in = nn.Linear(embed_dim, ff_dim)
        self.fc_out = nn.Linear(ff_dim, embed_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        # (B, L, D) -> (B, L, ff_dim) -> (B, L, D)
        return self.dropout(self.fc_out(F.gelu(self.fc_in(x))))


class TransformerBlock(nn.Module):
    """Pre-LayerNorm residual block: attention, then feed-forward."""

    def __init__(self, embed_dim, num_heads, ff_dim, dropout):
        super().__init__()
        self.norm_attn = nn.LayerNorm(embed_dim)
        self.attn = MultiHeadSelfAttention(embed_dim, num_heads, dropout)
        self.norm_ff = nn.LayerNorm(embed_dim)
        self.ff = FeedForward(embed_dim, ff_dim, dropout)

    def forward(self, x, key_mask=None, *, causal=False, need_weights=False):
        attended, weights = self.attn(
            self.norm_attn(x), key_mask, causal=causal, need_weights=need_weights
        )
        x = x + attended
        x = x + self.ff(self.norm_ff(x))
        return x, weights


class TransformerEncoder(nn.Module):
    """``num_layers`` transformer blocks followed by a final LayerNorm."""

    def __init__(self, embed_dim, num_heads, num_layers, ff_dim, dropout):
        super().__init__()
        self.blocks = nn.ModuleList(
            TransformerBlock(embed_dim, num_heads, ff_dim, dropout)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x, key_mask=None, *, causal=False, need_weights=False):
        """Return the encoded ``(B, L, D)`` sequence and per-layer weights.

        The weights are a list with one ``(B, H, L, L)`` tensor per layer
        when ``need_weights`` is True, else an empty list.
        """
        all_weights = []
        for block in self.blocks:
            x, weights = block(x, key_mask, causal=causal, need_weights=need_weights)
            if need_weights:
                all_weights.append(weights)
        return self.norm(x), all_weights


def pool(hidden, key_mask, how):
    """Pool ``(B, L, D)`` hidden states into ``(B, D)``, ignoring padding.

    ``how`` is ``"mean"`` (over real positions), ``"max"`` (over real
    positions), ``"cls"`` (the first position) or ``"last"`` (the last real
    position; sequences are padded at the end). ``key_mask`` is ``(B, L)``, True for real positions, or None.
    """
    if how == "cls":
        return hidden[:, 0]
    if how == "last":
        if key_mask is None:
            return hidden[:, -1]
        last = key_mask.sum(dim=1).clamp(min=1) - 1  # (B,) last real position
        return hidden[torch.arange(len(hidden), device=hidden.device), last]
    if key_mask is None:
        return hidden.mean(dim=1) if how == "mean" else hidden.amax(dim=1)
    mask = key_mask.unsqueeze(-1)  # (B, L, 1)
    if how == "mean":
        counts = mask.sum(dim=1).clamp(min=1)  # (B, 1)
        return (hidden * mask).sum(dim=1) / counts
    if how == "max":
        return hidden.masked_fill(~mask, float("-inf")).amax(dim=1)
    raise ValueError(f"unknown pooling {how!r}")


def received_attention(weights, key_mask, pooling):
    """Attention each position received, from the last layer's weights.

    ``weights`` is ``(B, H, L, L)``. The heads are averaged. With ``"cls"`` or
    ``"last"`` pooling, the row of the pooled position is returned; otherwise
    the mean over the real query positions. Returns ``(B, L)``, zero at
    padding, each row summing to 1.
    """
    weights = weights.mean(dim=1)  # (B, L, L)
    if pooling == "cls":
        return weights[:, 0]
    if pooling == "last":
        return weights[:, -1]
    if key_mask is None:
        return weights.mean(dim=1)
    query_mask = key_mask.unsqueeze(-1).to(weights.dtype)  # (B, L, 1)
    summed = (weights * query_mask).sum(dim=1)  # (B, L)
    return summed / query_mask.sum(dim=1).clamp(min=1)


class Autocast(nn.Module):
    """Run ``module`` under ``torch.autocast``; return its output as float32.

    The wrapped module keeps float32 weights; autocast picks the lower
    precision for the operations that gain from it (matrix products,
    attention). The output is cast back, so the loss is computed in float32.
    """

    def __init__(self, module, device_type, dtype):
        super().__init__()
        self.module = module
        self.device_type = device_type
        self.dtype = dtype

    def forward(self, *args):
        with torch.autocast(self.device_type, dtype=self.dtype):
            return self.module(*args).float()
