"""Validation of raw-text input: documents as a list of str."""

from itertools import repeat

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["check_documents"]


def check_documents(X):
    """Validate raw-text input; return it as a list of str.

    Accepts a 1-D list, tuple, numpy array or pandas Series of str, or a
    one-column DataFrame / ``(n, 1)`` array of str.

    Raises
    ------
    TypeError
        For a bare str, sparse or non-iterable input, or a non-str document
        (naming its index).
    ValueError
        For empty input, more than one column, or a None / NaN document
        (naming its index).
    """
    if isinstance(X, (str, bytes)):
        raise TypeError(
            "X must be an iterable of str documents, got a single "
            f"{type(X).__name__}; wrap it in a list: [X]."
        )
    if sp.issparse(X) or isinstance(X, dict):
        raise TypeError(
            f"X must be a 1-D array-like of str documents, got {type(X).__name__}."
        )
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(
                "X must be a 1-D array-like of str documents or a single text "
                f"column; got a DataFrame with {X.shape[1]} columns."
            )
        X = X.iloc[:, 0]
    if isinstance(X, pd.Series):
        X = X.to_numpy(dtype=object)
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        if X.ndim != 1:
            raise ValueError(
                "X must be a 1-D array-like of str documents or a single text "
                f"column; got an array of shape {X.shape}."
            )
        docs = X.tolist()
    else:
        try:
            docs = list(X)
        except TypeError:
            raise TypeError(
                f"X must be a 1-D array-like of str documents, got {type(X).__name__}."
            ) from None
    if not docs:
        raise ValueError("X is empty: at least one document is required.")
    is_str = np.fromiter(
        map(isinstance, docs, repeat(str)), dtype=bool, count=len(docs)
    )
    if not is_str.all():
        i = int(np.argmin(is_str))
        bad = docs[i]
        if (
            bad is None
            or bad is pd.NA
            or (isinstance(bad, (float, np.floating)) and np.isnan(bad))
        ):
            raise ValueError(
                f"X contains a missing document ({bad!r}) at index {i}; fill or "
                "drop missing values first (an empty string is a valid document)."
            )
        raise TypeError(
            f"X must contain str documents; got {type(bad).__name__} {bad!r} "
            f"at index {i}."
        )
    return docs
