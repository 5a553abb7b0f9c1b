"""Torch modules: attention, transformer blocks, encoders, pooling and heads.

The series regressor's module lives in :mod:`._series_module`.

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
    "AttentionReadout",
    "Autocast",
    "LearnedPositionalEncoding",
    "MultiHeadSelfAttention",
    "ReadoutMixin",
    "SinusoidalPositionalEncoding",
    "TextClassifierModule",
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


# Word pairs (previous token, token) are hashed into this many value rows.
BIGRAM_BUCKETS = 2**18


def bigram_bucket(previous, token):
    """Value row of the word pair ``(previous, token)``: ids of either kind
    (numpy arrays or torch tensors of int64) in, bucket ids out."""
    return (previous * 1_000_003 + token) % BIGRAM_BUCKETS


def linear_values(coef, intercept):
    """Per-class values ``(C, F)`` and bias ``(C,)`` of a linear classifier.

    ``coef`` is scikit-learn's ``coef_`` (``(1, F)`` for two classes, the
    score of class 1 over class 0, else ``(C, F)``); two classes are split
    symmetrically, ``-coef / 2`` and ``+coef / 2``, which gives the same
    probabilities under softmax.
    """
    coef = torch.as_tensor(coef, dtype=torch.float32)
    intercept = torch.as_tensor(intercept, dtype=torch.float32).reshape(-1)
    if coef.shape[0] == 1:
        coef = torch.cat([-coef / 2, coef / 2])
        intercept = torch.cat([-intercept / 2, intercept / 2])
    return coef, intercept


class AttentionReadout(nn.Module):
    """Class logits as an attention-weighted sum of per-token values.

    ``logits = bias + sum_j a_j * v_j``: the scores behind the attention
    ``a`` (one map per document, ``(B, L)``) come from contextual states,
    through ``num_heads`` learned queries whose maps are averaged (one map
    that means something, as in the Temporal Fusion Transformer; Lim et al.,
    2021); the values ``v_j`` (``(B, L, C)``) are given by the caller, made
    from each token alone. Each token's part of the logits, ``a_j * v_j``, is
    then exact: deleting a token removes its term and no other path carries
    its evidence. The queries start at zero, so attention starts uniform.
    """

    def __init__(self, embed_dim, num_heads, n_classes):
        super().__init__()
        self.num_heads = num_heads
        self.key = nn.Linear(embed_dim, embed_dim)
        self.query = nn.Parameter(torch.zeros(num_heads, embed_dim // num_heads))
        self.bias = nn.Parameter(torch.zeros(n_classes))
        init_weights(self)

    def attention(self, hidden, mask):
        """Attention ``(B, L)`` over the positions ``mask`` marks (zero elsewhere).

        A row without any marked position is all zero.
        """
        batch, length, dim = hidden.shape
        head_dim = dim // self.num_heads
        keys = self.key(hidden).view(batch, length, self.num_heads, head_dim)
        scores = torch.einsum("hd,blhd->bhl", self.query.to(keys.dtype), keys)
        scores = scores.float() / math.sqrt(head_dim)  # (B, H, L)
        scores = scores.masked_fill(~mask[:, None], float("-inf"))
        empty = ~mask.any(dim=1)[:, None, None]  # (B, 1, 1): nothing to attend to
        scores = scores.masked_fill(empty, 0.0)
        weights = scores.softmax(dim=-1).mean(dim=1)  # heads averaged: (B, L)
        return weights * mask

    def forward(self, attention, values):
        # attention (B, L), values (B, L, C) -> logits (B, C)
        return torch.einsum("bl,blc->bc", attention, values.float()) + self.bias


def contribution(attention, values, logits):
    """``|a_j * v_j|`` toward the predicted class, ``(B, L)``.

    ``v_j`` is centred over the classes first (softmax ignores a shift common
    to all classes), so for two classes it is half the token's part of the
    logit difference.
    """
    predicted = logits.argmax(dim=1)  # (B,)
    centred = values - values.mean(dim=2, keepdim=True)  # (B, L, C)
    index = predicted[:, None, None].expand(-1, values.shape[1], 1)
    return attention * centred.gather(2, index).squeeze(2).abs()


class ReadoutMixin:
    """What the text modules share around an :class:`AttentionReadout`.

    The module provides ``encode(tokens) -> (hidden, key_mask, weights)``,
    ``token_values(tokens)`` (the per-class values ``(B, L, C)``),
    ``special_ids``, ``pooling``, ``readout`` (attention pooling) and
    ``head`` / ``head_dropout`` (the other poolings).
    """

    def readout_parts(self, tokens):
        """Attention ``(B, L)``, values ``(B, L, C)``, logits, hidden states."""
        hidden, _, _ = self.encode(tokens)
        shown = ~torch.isin(tokens, self.special_ids)  # (B, L)
        attention = self.readout.attention(hidden, shown)
        values = self.token_values(tokens)  # (B, L, C)
        return attention, values, self.readout(attention, values), hidden

    def embed_documents(self, tokens):
        """Document embeddings ``(B, D)``: pooled states (attention-weighted
        with ``pooling="attention"``)."""
        if self.pooling == "attention":
            attention, _, _, hidden = self.readout_parts(tokens)
            return torch.einsum("bl,bld->bd", attention.to(hidden.dtype), hidden)
        hidden, key_mask, _ = self.encode(tokens)
        return pool(hidden, key_mask, self.pooling)

    def contribution(self, tokens):
        """``|a_j * v_j|`` toward the predicted class, ``(B, L)`` (attention pooling)."""
        attention, values, logits, _ = self.readout_parts(tokens)
        return contribution(attention, values, logits)

    def classify(self, pooled):
        """Logits ``(B, n_classes)`` of pooled embeddings ``(B, D)``."""
        return self.head(self.head_dropout(pooled))

    def forward(self, tokens):
        # tokens: (B, L) -> logits (B, n_classes)
        if self.pooling == "attention":
            return self.readout_parts(tokens)[2]
        return self.classify(self.embed_documents(tokens))


class TextClassifierModule(ReadoutMixin, nn.Module):
    """Token ids in, class logits out.

    Token id ``pad_id`` marks padding; it is masked in attention and pooling,
    so a document's output does not depend on how far its batch is padded.
    Input ``(B, L)`` int64, output ``(B, n_classes)``.

    With ``pooling="attention"`` the logits are an :class:`AttentionReadout`:
    scores from the encoder's contextual states, per-class values of each
    token from the token and the one before it only: ``v_j =
    values[t_j] + pair_values[bigram_bucket(t_{j-1}, t_j)]`` (a word and a
    hashed word pair, so "not good" can differ from "good"). A document's
    logits are ``bias + sum_j a_j * v_j`` over its tokens other than
    ``special_ids``. :meth:`start_from_linear` starts the tables at a linear
    model of the documents' word and word-pair frequencies. The other
    poolings feed the pooled encoder state to a linear ``head``.
    """

    def __init__(
        self,
        vocab_size,
        n_classes,
        *,
        embed_dim,
        num_heads,
        num_layers,
        ff_dim,
        dropout,
        max_len,
        pooling,
        pad_id=0,
        special_ids=(),
    ):
        super().__init__()
        self.pad_id = pad_id
        self.pooling = pooling
        self.embed_dim = embed_dim
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.position = LearnedPositionalEncoding(max_len, embed_dim)
        self.embed_dropout = nn.Dropout(dropout)
        self.encoder = TransformerEncoder(
            embed_dim, num_heads, num_layers, ff_dim, dropout
        )
        self.register_buffer(
            "special_ids",
            torch.as_tensor(sorted({pad_id, *special_ids}), dtype=torch.long),
            persistent=False,
        )
        if pooling == "attention":
            self.readout = AttentionReadout(embed_dim, num_heads, n_classes)
            self.values = nn.Embedding(vocab_size, n_classes)
            self.pair_values = nn.Embedding(BIGRAM_BUCKETS, n_classes)
        else:
            self.head_dropout = nn.Dropout(dropout)
            self.head = nn.Linear(embed_dim, n_classes)
        init_weights(self)
        if pooling == "attention":
            nn.init.zeros_(self.values.weight)
            nn.init.zeros_(self.pair_values.weight)

    def start_from_linear(self, coef, intercept):
        """Start the values at a linear model of word and word-pair frequencies.

        ``coef`` ``(1 or C, vocab_size + BIGRAM_BUCKETS)`` and ``intercept``
        as scikit-learn's ``LogisticRegression`` gives them, fitted on each
        document's token counts, then pair-bucket counts, divided by its
        length (special tokens left out). Attention starts uniform, so the
        first logits are that model's.
        """
        values, bias = linear_values(coef, intercept)
        words = self.values.num_embeddings
        with torch.no_grad():
            self.values.weight.copy_(values[:, :words].T)
            self.pair_values.weight.copy_(values[:, words:].T)
            self.readout.bias.copy_(bias)

    def token_values(self, tokens):
        """Per-class values ``(B, L, C)`` of each token and the one before it."""
        previous = torch.cat([tokens[:, :1], tokens[:, :-1]], dim=1)  # (B, L)
        pairs = bigram_bucket(previous, tokens)
        return self.values(tokens) + self.pair_values(pairs)

    def encode(self, tokens, *, need_weights=False):
        """Return hidden states ``(B, L, D)``, key mask ``(B, L)``, weights."""
        key_mask = tokens != self.pad_id  # (B, L)
        x = self.embed_dropout(self.position(self.embed(tokens)))  # (B, L, D)
        hidden, weights = self.encoder(x, key_mask, need_weights=need_weights)
        return hidden, key_mask, weights

    def contextual_states(self, tokens):
        """The encoder's contextual states ``(B, L, D)`` (padding included)."""
        return self.encode(tokens)[0]

    def attention(self, tokens):
        """The attention that pools the document, ``(B, L)``.

        With ``pooling="attention"`` the readout's; otherwise the attention
        each token received in the last self-attention layer.
        """
        if self.pooling == "attention":
            return self.readout_parts(tokens)[0]
        _, key_mask, weights = self.encode(tokens, need_weights=True)
        return received_attention(weights[-1], key_mask, self.pooling)


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
