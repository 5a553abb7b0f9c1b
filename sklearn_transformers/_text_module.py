"""The text classifier's torch module: the attention readout over TF-IDF-weighted values.

:class:`TextClassifierModule` (from scratch) and the backbone's module
(:mod:`._backbone`) share :class:`AttentionReadout` and :class:`ReadoutMixin`;
the encoder blocks come from :mod:`._modules`. Nothing here knows about
scikit-learn or skorch. Shapes use ``B`` (batch), ``L`` (sequence length),
``D`` (``embed_dim``) and ``C`` (classes).
"""

import math

import torch
from torch import nn

from ._modules import (
    LearnedPositionalEncoding,
    TransformerEncoder,
    init_weights,
    pool,
    received_attention,
)
from ._tfidf import position_weights

__all__ = [
    "BIGRAM_BUCKETS",
    "AttentionReadout",
    "ReadoutMixin",
    "TextClassifierModule",
    "bigram_bucket",
    "contribution",
    "linear_values",
]


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
    ``token_values(tokens, shown)`` (the per-class values ``(B, L, C)``;
    ``shown`` marks the read-out tokens),
    ``special_ids``, ``pooling``, ``readout`` (attention pooling) and
    ``head`` / ``head_dropout`` (the other poolings).
    """

    def readout_parts(self, tokens):
        """Attention ``(B, L)``, values ``(B, L, C)``, logits, hidden states."""
        hidden, _, _ = self.encode(tokens)
        shown = ~torch.isin(tokens, self.special_ids)  # (B, L)
        attention = self.readout.attention(hidden, shown)
        values = self.token_values(tokens, shown)  # (B, L, C)
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
    token from the token and the one before it only: ``v_j = s * (w_j *
    values[t_j] + u_j * pair_values[bigram_bucket(t_{j-1}, t_j)])`` (a word
    and a hashed word pair, so "not good" can differ from "good"), where
    ``w_j`` and ``u_j`` are the position's TF-IDF weights (``word_idf`` and
    ``pair_idf``, see :mod:`._tfidf`) and ``s`` scales the document so that
    uniform attention reads out its L2-normalised TF-IDF vector. A
    document's logits are ``bias + sum_j a_j * v_j`` over its tokens other
    than ``special_ids``. :meth:`start_from_linear` starts the tables at a
    linear model of those TF-IDF vectors. The other poolings feed the pooled
    encoder state to a linear ``head``.
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
            self.register_buffer("word_idf", torch.ones(vocab_size))
            self.register_buffer("pair_idf", torch.ones(BIGRAM_BUCKETS))
        else:
            self.head_dropout = nn.Dropout(dropout)
            self.head = nn.Linear(embed_dim, n_classes)
        init_weights(self)
        if pooling == "attention":
            nn.init.zeros_(self.values.weight)
            nn.init.zeros_(self.pair_values.weight)

    def set_idf(self, word_idf, pair_idf):
        """Set the inverse document frequencies of the words and word pairs."""
        with torch.no_grad():
            self.word_idf.copy_(torch.as_tensor(word_idf))
            self.pair_idf.copy_(torch.as_tensor(pair_idf))

    def start_from_linear(self, coef, intercept):
        """Start the values at a linear model of the documents' TF-IDF vectors.

        ``coef`` ``(1 or C, vocab_size + BIGRAM_BUCKETS)`` and ``intercept``
        as scikit-learn's ``LogisticRegression`` gives them, fitted on each
        document's L2-normalised TF-IDF vector of words, then word pairs
        (:func:`._tfidf.tfidf_features`, special tokens left out). Attention
        starts uniform, so the first logits are that model's.
        """
        values, bias = linear_values(coef, intercept)
        words = self.values.num_embeddings
        with torch.no_grad():
            self.values.weight.copy_(values[:, :words].T)
            self.pair_values.weight.copy_(values[:, words:].T)
            self.readout.bias.copy_(bias)

    def token_values(self, tokens, shown):
        """Per-class values ``(B, L, C)`` of each token and the one before it,
        TF-IDF-weighted over the ``shown`` positions ``(B, L)``."""
        previous = torch.cat([tokens[:, :1], tokens[:, :-1]], dim=1)  # (B, L)
        pairs = bigram_bucket(previous, tokens)
        word_weight, word_norm = position_weights(tokens, shown, self.word_idf)
        pair_weight, pair_norm = position_weights(pairs, shown, self.pair_idf)
        # Uniform attention (1 / n) times s = n / norm gives the L2 scaling.
        scale = shown.sum(dim=1) / (word_norm + pair_norm).sqrt().clamp(min=1e-12)
        values = word_weight[..., None] * self.values(tokens) + pair_weight[
            ..., None
        ] * self.pair_values(pairs)
        return values * scale[:, None, None]

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
