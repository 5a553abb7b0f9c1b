"""The logistic regression an attention readout starts from.

The readout starts at a linear model of per-document features (from
scratch: L2-normalised TF-IDF vectors of words and word pairs). Each feature
column may first be scaled by how well it separates the classes, its
log-count ratio as in NBSVM (Wang & Manning, 2012): for class ``k``,
``r_k = log((p_k / |p_k|_1) / (q_k / |q_k|_1))`` with ``p_k`` and ``q_k`` the
numbers of documents (plus one) in and outside class ``k`` that contain the
column. A multinomial model needs one scale per column, so the ratios are
combined as their root mean square over the classes (``|r|`` for two
classes), raised to a power: 0 leaves the TF-IDF vectors as they are, 1
scales them fully. The power and ``C`` are chosen on a held-out part of the
documents by log-loss, then the model is refitted on all of them; the scale
is folded into the coefficients, so the caller gets a model of the unscaled
features.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

__all__ = ["fit_linear_start", "log_count_ratio_scale"]

# Share of the documents held out to choose the power and C.
VALIDATION_FRACTION = 0.2
# Fewest documents of each class for a held-out choice (five of them held
# out): with fewer, the held-out part ranks the candidates by chance, and the
# first is used.
MIN_CLASS_COUNT = 25


def log_count_ratio_scale(features, y, n_classes, sample_weight=None):
    """Root mean square over the classes of each column's log-count ratio.

    ``features``: sparse ``(n, F)``, a column counts as present where it is
    non-zero; ``y``: class indices in ``[0, n_classes)``; a document of
    weight ``k`` counts ``k`` times. Returns ``(F,)``, float64.
    """
    present = sp.csr_matrix(features, copy=True)
    present.data = np.ones_like(present.data, dtype=np.float64)
    weights = np.ones(len(y)) if sample_weight is None else sample_weight
    by_class = sp.csr_matrix(
        (weights, (np.asarray(y), np.arange(len(y)))), shape=(n_classes, len(y))
    )
    counts = np.asarray((by_class @ present).todense())  # (K, F)
    inside = counts + 1.0
    outside = counts.sum(axis=0) - counts + 1.0
    ratios = np.log(inside / inside.sum(axis=1, keepdims=True)) - np.log(
        outside / outside.sum(axis=1, keepdims=True)
    )
    return np.sqrt((ratios**2).mean(axis=0))


def _scaled(features, scale, power):
    return features @ sp.diags(scale**power) if power else features


def _fit(features, y, weights, scale, power, C):
    return LogisticRegression(C=C, max_iter=1000).fit(
        _scaled(features, scale, power), y, sample_weight=weights
    )


def _loss_weights(y, sample_weight, class_weight):
    """Per-document weights of the logistic regression's loss, or None."""
    if class_weight is None:
        return sample_weight
    weights = np.asarray(class_weight, dtype=np.float64)[y]
    return weights if sample_weight is None else weights * sample_weight


def _held_out_losses(
    features, y, sample_weight, class_weight, n_classes, candidates, seed
):
    """Weighted held-out log-loss of each ``(power, C)`` candidate."""
    fit, valid = train_test_split(
        np.arange(len(y)),
        test_size=VALIDATION_FRACTION,
        stratify=y,
        random_state=seed,
    )
    counted = None if sample_weight is None else sample_weight[fit]
    scale = log_count_ratio_scale(features[fit], y[fit], n_classes, counted)
    weights = _loss_weights(y, sample_weight, class_weight)
    w_fit = None if weights is None else weights[fit]
    w_valid = None if weights is None else weights[valid]
    losses = []
    for power, C in candidates:
        model = _fit(features[fit], y[fit], w_fit, scale, power, C)
        proba = np.zeros((len(valid), n_classes))
        proba[:, model.classes_] = model.predict_proba(
            _scaled(features[valid], scale, power)
        )
        losses.append(
            float(
                log_loss(
                    y[valid], proba, sample_weight=w_valid, labels=range(n_classes)
                )
            )
        )
    return losses


def fit_linear_start(
    features, y, n_classes, *, candidates, sample_weight=None, class_weight=None, seed=0
):
    """The start's logistic regression: ``(coef, intercept, report)``.

    ``features``: ``(n, F)``, sparse or dense; ``y``: class indices, every
    class present in a document of non-zero weight; ``candidates``:
    ``(power, C)`` pairs (power 0 for dense features: the log-count ratios
    count non-zero entries), chosen among on a stratified held-out fifth
    when there are several and every class has ``MIN_CLASS_COUNT``
    documents, else the first is used; ``sample_weight``: a document of
    weight ``k`` counts ``k`` times, in the log-count ratios too;
    ``class_weight``: ``(n_classes,)`` weights of the classes in the loss,
    or None. ``coef`` is scikit-learn's ``coef_``, ``(1 or n_classes, F)``,
    on the unscaled features. ``report``: the chosen ``power`` and ``C``
    and each candidate's held-out log-loss (None where none was held out).

    Sparse features are fitted on the columns that occur: the others (most
    of the hashed word-pair buckets) keep a zero coefficient under the L2
    penalty anyway, and carrying them slowed the solver 3-7x.
    """
    candidates = [(float(power), float(C)) for power, C in candidates]
    n_columns = features.shape[1]
    used = None
    if sp.issparse(features):
        used = np.flatnonzero(features.getnnz(axis=0))
        used = used if len(used) else np.arange(1)  # empty documents only
        features = features[:, used]
    if sample_weight is not None:
        # Documents of weight 0 change nothing, held out or not.
        kept = np.flatnonzero(sample_weight > 0)
        features, y, sample_weight = features[kept], y[kept], sample_weight[kept]
    losses = None
    if (
        len(set(candidates)) > 1
        and np.bincount(y, minlength=n_classes).min() >= MIN_CLASS_COUNT
    ):
        losses = _held_out_losses(
            features, y, sample_weight, class_weight, n_classes, candidates, seed
        )
        power, C = candidates[int(np.argmin(losses))]
    else:
        power, C = candidates[0]
    scale = None
    if power:
        scale = log_count_ratio_scale(features, y, n_classes, sample_weight)
    weights = _loss_weights(y, sample_weight, class_weight)
    model = _fit(features, y, weights, scale, power, C)
    coef = model.coef_ * scale**power if power else model.coef_
    if used is not None:
        full = np.zeros((len(coef), n_columns), dtype=np.float32)
        full[:, used] = coef
        coef = full
    report = {
        "power": power,
        "C": C,
        "candidates": [
            {"power": p, "C": c, "log_loss": None if losses is None else losses[i]}
            for i, (p, c) in enumerate(candidates)
        ],
    }
    return coef, model.intercept_, report
