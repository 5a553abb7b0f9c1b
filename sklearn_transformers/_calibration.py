"""Temperature scaling of class logits (Guo et al., ICML 2017).

Nothing here knows about scikit-learn estimators or skorch: plain numpy
logits and integer labels in, one positive float out.
"""

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

__all__ = ["fit_temperature"]

# The search range of the temperature: wide enough for any sensible model,
# bounded so that a held-out set the model fits perfectly cannot send it to 0.
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 20.0


def _nll(logits, y, weights, temperature):
    """Weighted mean negative log-likelihood of ``softmax(logits / T)``."""
    log_proba = log_softmax(logits / temperature, axis=1)
    return -np.average(log_proba[np.arange(len(y)), y], weights=weights)


def fit_temperature(logits, y, sample_weight=None):
    """The temperature ``T`` minimising the log-loss of ``softmax(logits / T)``.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
        Class scores of held-out samples.
    y : ndarray of shape (n_samples,)
        Their classes, as integer column indices of ``logits``.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights of the samples in the log-loss.

    Returns
    -------
    temperature : float
        In ``[0.05, 20]``; above 1 softens over-confident logits. 1.0 when
        there is nothing to fit (no samples, or all weights 0).
    """
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.intp)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
    if len(y) == 0 or (sample_weight is not None and sample_weight.sum() <= 0):
        return 1.0
    # The log-loss is smooth and unimodal in log T; search it on a bounded range.
    result = minimize_scalar(
        lambda log_t: _nll(logits, y, sample_weight, np.exp(log_t)),
        bounds=(np.log(MIN_TEMPERATURE), np.log(MAX_TEMPERATURE)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))
