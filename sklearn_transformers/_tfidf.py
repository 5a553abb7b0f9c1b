"""TF-IDF weights of token positions, in torch (the module) and numpy (the start).

The text module's attention readout weighs each position's word and word
pair as a TF-IDF vector would: a term that occurs ``c`` times in a document
has the weight ``(1 + log c) * idf`` (sublinear term frequency), shared
evenly by its ``c`` occurrences, and the document is scaled to unit L2 norm.
With uniform attention the logits are then a linear model of the document's
L2-normalised TF-IDF vector, the features of the strongest linear text
baseline; :func:`tfidf_features` gives that vector for the model's start.

``idf`` is scikit-learn's smoothed form, ``log((1 + n) / (1 + df)) + 1``.
"""

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["idf", "position_weights", "tfidf_features"]


def _counts(document, columns, n_documents, n_columns):
    """Sparse ``(n_documents, n_columns)`` counts of each ``(document, column)``."""
    counts = sp.csr_matrix(
        (np.ones(len(document)), (document, columns)), shape=(n_documents, n_columns)
    )
    counts.sum_duplicates()
    return counts


def idf(document, columns, n_columns, weights):
    """Smoothed inverse document frequency ``(n_columns,)``, float32.

    ``document`` and ``columns`` give each token's document and column (word
    id or pair bucket); ``weights`` is each document's weight (a document of
    weight ``k`` counts as ``k`` copies, 0 not at all), so ``n`` and ``df``
    are sums of weights.
    """
    weights = np.asarray(weights, dtype=np.float64)
    present = _counts(document, columns, len(weights), n_columns)
    row_weight = np.repeat(weights, np.diff(present.indptr))  # per stored entry
    df = np.bincount(present.indices, weights=row_weight, minlength=n_columns)
    # A term no training document has gets the largest idf: it has no value
    # to vote with, but it weighs in its document's norm, so a document of
    # unfamiliar terms is read with less confidence (scikit-learn's
    # TfidfVectorizer drops such terms; keeping them measured better
    # calibrated on the bird strikes).
    return (np.log((1.0 + weights.sum()) / (1.0 + df)) + 1.0).astype(np.float32)


def tfidf_features(document, columns, n_documents, idf):
    """Sparse ``(n_documents, len(idf))``: L2-normalised TF-IDF vectors.

    Sublinear term frequency ``1 + log c`` times ``idf``; a document without
    tokens is a row of zeros.
    """
    counts = _counts(document, columns, n_documents, len(idf))
    counts.data = (1.0 + np.log(counts.data)) * idf[counts.indices]
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    return (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ counts).tocsr()


def occurrences(ids, shown):
    """How often each position's id occurs among the ``shown`` positions of
    its row, ``(B, L)`` float (0 where not shown)."""
    batch, length = ids.shape
    # Hidden positions get distinct negative ids, so they group with nothing.
    hidden_ids = -1 - torch.arange(length, device=ids.device).expand(batch, -1)
    keyed = torch.where(shown, ids, hidden_ids)
    ordered, order = keyed.sort(dim=1)
    starts = torch.ones_like(ordered, dtype=torch.bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    run = starts.long().cumsum(dim=1) - 1  # (B, L) run index of each sorted id
    run_length = torch.zeros(batch, length, device=ids.device)
    run_length.scatter_add_(1, run, torch.ones(batch, length, device=ids.device))
    counts = torch.empty_like(run_length)
    counts.scatter_(1, order, run_length.gather(1, run))
    return counts * shown


def position_weights(ids, shown, idf):
    """Per position, its share of the term's TF-IDF weight, and the row's
    squared TF-IDF norm: ``(B, L)`` and ``(B,)``.

    A term occurring ``c`` times has weight ``w = (1 + log c) * idf``; each
    occurrence gets ``w / c`` and adds ``w**2 / c`` to the squared norm.
    """
    count = occurrences(ids, shown).clamp(min=1.0)
    weight = (1.0 + torch.log(count)) * idf[ids] * shown
    return weight / count, (weight * weight / count).sum(dim=1)
