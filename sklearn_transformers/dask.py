"""Score a corpus or a set of windows larger than memory with Dask, partition by partition.

:func:`predict_by_partition` applies a fitted (or loaded) estimator's
``predict``, ``predict_proba``, ``decision_function``, ``transform`` or
``predict_quantiles`` to a Dask collection and returns a lazy collection of
the same kind: a Dask DataFrame / Series (of texts, or of lag features) gives
a Dask Series or DataFrame on the same index, a Dask bag of texts a bag of
results, and a Dask array of windows ``(n_samples, window[, n_features])``
an array whose rows follow the input's. Nothing is computed until the
result is (``.compute()``, ``.to_parquet(...)``, ``.to_textfiles(...)``),
so a corpus that never fits in memory streams through the workers.

The estimator becomes one task of the graph (``dask.delayed``), which every
partition's task reads: the scheduler ships it to each worker once, and the
worker keeps it for all the partitions it scores, instead of serialising the
model into every task. Each partition is scored with the estimator's own
batching, so the results equal ``estimator.<method>(X)`` on the whole input.

Requires the ``dask`` extra (``pip install "sklearn-transformers[dask]"``);
dask is imported when the function is called, not with the package.
"""

import uuid

import numpy as np
import pandas as pd

__all__ = ["predict_by_partition"]

_METHODS = (
    "predict",
    "predict_proba",
    "decision_function",
    "transform",
    "predict_quantiles",
)


def predict_by_partition(estimator, X, method="predict"):
    """Apply a fitted estimator to a Dask collection, one partition at a time.

    Parameters
    ----------
    estimator : fitted estimator
        A fitted or loaded ``TransformerTextClassifier`` or
        ``AttentionTimeSeriesRegressor`` (any fitted scikit-learn estimator
        with ``method`` works the same way).
    X : dask DataFrame, Series, Bag or Array
        The samples: a Dask Series (or one-column DataFrame) of texts, a Dask
        bag of texts, a Dask DataFrame of lag features, or a Dask array of
        windows ``(n_samples, window)`` or ``(n_samples, window,
        n_features)``. An array is rechunked so that every block holds whole
        windows (chunks along the first axis only).
    method : {"predict", "predict_proba", "decision_function", "transform", \
"predict_quantiles"}, default="predict"
        The estimator's method to apply.

    Returns
    -------
    result : dask DataFrame, Series, Bag or Array
        Lazy. For a DataFrame or Series input, a Series for one value per
        sample (named after ``method``) and otherwise a DataFrame whose
        columns are ``classes_`` (``predict_proba`` and a multiclass
        ``decision_function``), ``get_feature_names_out()`` (``transform``)
        or ``step_1, step_2, ...`` (multi-step ``predict``), on the input's
        index and divisions. For a bag, a bag with one result per text. For
        an array, an array of ``len(X)`` rows shaped like ``method``'s output.

    Raises
    ------
    ValueError
        If ``method`` is not one of the above or the estimator lacks it, or
        ``predict_quantiles`` is asked of a DataFrame (its output is 3-D for
        multi-step forecasts; use an array).
    TypeError
        If ``X`` is not a Dask DataFrame, Series, Bag or Array.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> import pandas as pd
    >>> from sklearn_transformers import TransformerTextClassifier
    >>> from sklearn_transformers.dask import predict_by_partition
    >>> X = ["good movie", "great film", "bad movie", "awful film"] * 4
    >>> y = ["pos", "pos", "neg", "neg"] * 4
    >>> clf = TransformerTextClassifier(embed_dim=8, num_heads=2, num_layers=1,
    ...                                 ff_dim=16, max_epochs=2, random_state=0)
    >>> clf = clf.fit(X, y)
    >>> texts = dd.from_pandas(pd.Series(X), npartitions=4)
    >>> labels = predict_by_partition(clf, texts)
    >>> bool((labels.compute().to_numpy() == clf.predict(X)).all())
    True
    """
    from sklearn.utils.validation import check_is_fitted

    if method not in _METHODS or not hasattr(estimator, method):
        raise ValueError(
            f"method={method!r} is not a method of {type(estimator).__name__} "
            f"that predict_by_partition applies; use one of {list(_METHODS)} "
            "that the estimator has."
        )
    check_is_fitted(estimator)
    import dask
    import dask.array as da
    import dask.bag as db
    import dask.dataframe as dd

    # One task holds the estimator; a fresh name avoids hashing the model.
    shipped = dask.delayed(
        estimator, name=f"estimator-{uuid.uuid4().hex}", pure=True, traverse=False
    )
    if isinstance(X, (dd.DataFrame, dd.Series)):
        return _frame(shipped, estimator, X, method, dd)
    if isinstance(X, db.Bag):
        return _bag(shipped, X, method, db)
    if isinstance(X, da.Array):
        return _array(shipped, estimator, X, method, da)
    raise TypeError(
        "X must be a Dask DataFrame, Series, Bag or Array; got "
        f"{type(X).__name__}. For data in memory, call estimator.{method}(X)."
    )


def _frame_output(result, index, method, estimator):
    """``method``'s output on one partition as a pandas Series or DataFrame."""
    result = np.asarray(result)
    if result.ndim == 1:
        return pd.Series(result, index=index, name=method)
    if result.ndim != 2:
        raise ValueError(
            f"{method} returns {result.ndim}-D output, which a DataFrame cannot "
            "hold; pass the windows as a Dask array instead."
        )
    if method in ("predict_proba", "decision_function"):
        columns = list(estimator.classes_)
    elif method == "transform":
        columns = list(estimator.get_feature_names_out())
    else:
        columns = [f"step_{i + 1}" for i in range(result.shape[1])]
    return pd.DataFrame(result, index=index, columns=columns)


def _score_frame(estimator, part, method):
    return _frame_output(
        getattr(estimator, method)(part), part.index, method, estimator
    )


def _frame(shipped, estimator, X, method, dd):
    import dask
    from dask.dataframe.utils import meta_nonempty

    # The result's columns and dtypes, from scoring the first row of dask's
    # made-up sample (its second row is missing for string columns).
    sample = meta_nonempty(X._meta).head(1)
    meta = _score_frame(estimator, sample, method).iloc[:0]
    parts = [
        dask.delayed(_score_frame, pure=True)(shipped, part, method)
        for part in X.to_delayed()
    ]
    return dd.from_delayed(parts, meta=meta, divisions=X.divisions, verify_meta=False)


def _score_list(estimator, texts, method):
    return list(getattr(estimator, method)(list(texts)))


def _bag(shipped, X, method, db):
    import dask

    parts = [
        dask.delayed(_score_list, pure=True)(shipped, part, method)
        for part in X.to_delayed()
    ]
    return db.from_delayed(parts)


def _score_block(estimator, block, method):
    return np.asarray(getattr(estimator, method)(block))


def _array(shipped, estimator, X, method, da):
    import dask

    if X.ndim not in (2, 3):
        raise ValueError(
            f"X must be windows of shape (n_samples, window) or (n_samples, "
            f"window, n_features); got a Dask array of shape {X.shape}."
        )
    X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    # Output shape and dtype per window, from scoring one window of zeros.
    probe = _score_block(estimator, np.zeros((1, *X.shape[1:]), dtype=X.dtype), method)
    blocks = []
    for block, rows in zip(X.to_delayed().ravel(), X.chunks[0], strict=True):
        scored = dask.delayed(_score_block, pure=True)(shipped, block, method)
        blocks.append(
            da.from_delayed(scored, shape=(rows, *probe.shape[1:]), dtype=probe.dtype)
        )
    return da.concatenate(blocks, axis=0)
