"""Cut series into (past window, future target) pairs; the last window of each."""

import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd

__all__ = ["forecast_index", "last_window", "make_windows", "target_index"]


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def make_windows(
    series, window, horizon=1, *, step=1, target=None, return_groups=False
):
    """Cut a time series, or many, into input windows and the values that follow.

    Window ``i`` covers time steps ``[i*step, i*step + window)`` and its
    target the next ``horizon`` steps, so no window ever contains a value of
    its own target period (no leakage of the future into ``X``). Given many
    series, the windows of each series follow one another in order, and no
    window spans two series: one model can then learn from all of them.

    Parameters
    ----------
    series : array-like, or list, tuple or dict of array-likes
        A 1-D array / list / pandas Series (a univariate series), or a 2-D
        array / DataFrame with time along the rows and one column per feature
        (a multivariate series). Values must be numeric (bool is taken as
        0/1) and finite. A list or tuple of such series (its items arrays,
        pandas objects or lists), or a dict name -> series, gives the windows
        of every series (all 1-D, or all 2-D with the same columns); a series
        too short for one window contributes none.
    window : int
        Time steps per input window.
    horizon : int, default=1
        Future time steps to forecast per window.
    step : int, default=1
        Time steps between the starts of consecutive windows.
    target : column label or int, default=None
        For 2-D input: the column to forecast, a column label for a
        DataFrame or an integer position for an array. May be omitted when
        there is a single column. Ignored for 1-D input.
    return_groups : bool, default=False
        Also return the series each window came from (for ``GroupKFold`` or
        per-series scores).

    Returns
    -------
    X : ndarray of shape (n_windows, window) or (n_windows, window, n_features)
        Input windows, oldest time step first. 2-D input gives 3-D windows
        holding every column, the target's own past included.
    y : ndarray of shape (n_windows,) or (n_windows, horizon)
        The target's next value (``horizon=1``) or next ``horizon`` values.
    groups : ndarray of shape (n_windows,)
        Only with ``return_groups=True``: each window's series, its dict key
        or its position in the list (0 for a single series).

    Raises
    ------
    ValueError
        If the series (every series, for a collection) is too short for one
        window plus horizon, holds NaN or infinite values (naming the series
        and first position), is not 1-D or 2-D, or if ``window``,
        ``horizon``, ``step`` or ``target`` is invalid.

    Warns
    -----
    UserWarning
        When some series of a collection are too short for one window (it
        counts them); their windows are skipped.

    See Also
    --------
    last_window : The most recent window of each series, to forecast past
        its end.
    target_index : The index labels (timestamps) of each window's targets.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_transformers import make_windows
    >>> X, y = make_windows(np.arange(6), window=3)
    >>> X
    array([[0., 1., 2.],
           [1., 2., 3.],
           [2., 3., 4.]])
    >>> y
    array([3., 4., 5.])
    >>> X, y = make_windows(np.arange(6), window=3, horizon=2)
    >>> y
    array([[3., 4.],
           [4., 5.]])
    >>> X, y, groups = make_windows({"a": np.arange(5), "b": np.arange(10, 14)},
    ...                             window=3, return_groups=True)
    >>> y, groups
    (array([ 3.,  4., 13.]), array(['a', 'a', 'b'], dtype=object))
    """
    _check_positive_int(window, "window")
    _check_positive_int(horizon, "horizon")
    _check_positive_int(step, "step")
    keys, items = _as_collection(series)
    if keys is None:
        values, position = _checked_values(series, target)
        _check_length(len(values), window, horizon)
        X, y = _cut(values, position, window, horizon, step)
        return (X, y, np.zeros(len(X), dtype=np.int64)) if return_groups else (X, y)

    parts, group_parts, short = [], [], 0
    for key, item in zip(keys, items, strict=True):
        values, position = _checked_values(item, target, name=key, n_series=len(keys))
        if len(values) < window + horizon:
            short += 1
            continue
        parts.append(_cut(values, position, window, horizon, step))
        group_parts.append(np.full(len(parts[-1][0]), key, dtype=object))
    _check_same_width([p[0] for p in parts])
    if not parts:
        raise ValueError(
            f"none of the {len(keys)} series is long enough for window={window} "
            f"plus horizon={horizon}: each needs at least {window + horizon} time "
            "steps."
        )
    if short:
        warnings.warn(
            f"{short} of {len(keys)} series are shorter than window + horizon = "
            f"{window + horizon} time steps and give no windows.",
            UserWarning,
            stacklevel=2,
        )
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    if not return_groups:
        return X, y
    groups = np.concatenate(group_parts)
    if all(isinstance(key, Integral) for key in keys):
        groups = groups.astype(np.int64)
    return X, y, groups


def last_window(series, window, *, target=None):
    """The most recent ``window`` time steps of each series.

    The input to forecast what comes after the end of the data:
    ``model.predict(last_window(series, window))``.

    Parameters
    ----------
    series : array-like, or list, tuple or dict of array-likes
        One series or a collection of them, as :func:`make_windows` takes.
    window : int
        Time steps per window (the window the model was trained on).
    target : column label or int, default=None
        For 2-D series, the column to forecast; checked as in
        :func:`make_windows`. The window holds every column either way.

    Returns
    -------
    X : ndarray of shape (n_series, window) or (n_series, window, n_features)
        One row per series (one row for a single series), in the order of
        the collection, oldest time step first, shaped like
        :func:`make_windows`' ``X``.

    Raises
    ------
    ValueError
        If a series is shorter than ``window`` (naming it), or holds NaN or
        infinite values in its last ``window`` steps or elsewhere.

    See Also
    --------
    forecast_index : The timestamps that the forecasts stand for.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_transformers import last_window
    >>> last_window(np.arange(6), window=3)
    array([[3., 4., 5.]])
    >>> last_window([np.arange(5), np.arange(10, 14)], window=2)
    array([[ 3.,  4.],
           [12., 13.]])
    """
    _check_positive_int(window, "window")
    keys, items = _as_collection(series)
    if keys is None:
        keys, items = [None], [series]
    rows = []
    for key, item in zip(keys, items, strict=True):
        values, _ = _checked_values(item, target, name=key, n_series=len(keys))
        if len(values) < window:
            where = "" if key is None else f"series {key!r}: "
            raise ValueError(
                f"{where}a series of length {len(values)} is too short for "
                f"window={window}."
            )
        rows.append(values[len(values) - window :])
    _check_same_width(rows)
    return np.stack(rows)


def target_index(series, window, horizon=1, *, step=1):
    """The index labels of the targets of :func:`make_windows`' windows.

    Parameters
    ----------
    series : pandas Series / DataFrame, or list, tuple or dict of them
        The series passed to :func:`make_windows` (arrays count their
        positions 0, 1, ...).
    window, horizon, step : int
        As passed to :func:`make_windows`.

    Returns
    -------
    index : pandas.Index of length n_windows, or DataFrame of shape (n_windows, horizon)
        For ``horizon=1``, the label (e.g. the timestamp) of each window's
        target, row for row with ``y``; for several steps a DataFrame whose
        column ``s`` holds the label of step ``s``. For a collection the rows
        follow :func:`make_windows`' order, skipping short series alike.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_transformers import make_windows, target_index
    >>> s = pd.Series(range(5), index=pd.date_range("2024-01-01", periods=5))
    >>> X, y = make_windows(s, window=3)
    >>> target_index(s, window=3).strftime("%Y-%m-%d").tolist()  # rows of y
    ['2024-01-04', '2024-01-05']
    """
    _check_positive_int(window, "window")
    _check_positive_int(horizon, "horizon")
    _check_positive_int(step, "step")
    keys, items = _as_collection(series)
    if keys is None:
        keys, items = [None], [series]
    blocks = []
    for item in items:
        index = _labels(item)
        n_windows = len(range(0, len(index) - window - horizon + 1, step))
        if n_windows <= 0:
            continue
        starts = np.arange(n_windows) * step + window
        blocks.append(
            pd.DataFrame({s: index[starts + s] for s in range(horizon)})
            if horizon > 1
            else index[starts]
        )
    if not blocks:
        return pd.Index([]) if horizon == 1 else pd.DataFrame(columns=range(horizon))
    if horizon > 1:
        return pd.concat(blocks, ignore_index=True)
    return blocks[0].append(blocks[1:]) if len(blocks) > 1 else blocks[0]


def forecast_index(series, horizon):
    """The index labels of the ``horizon`` steps that follow each series.

    What ``model.predict(last_window(series, window))`` forecasts: the labels
    continue the series' index by its frequency (a ``DatetimeIndex`` or
    ``PeriodIndex`` with a frequency, set or inferable) or by one per step
    (a ``RangeIndex``, or the positions of an array).

    Parameters
    ----------
    series : pandas Series / DataFrame / array, or list, tuple or dict of them
        The series passed to :func:`last_window`.
    horizon : int
        Steps forecast past the end.

    Returns
    -------
    index : pandas.Index of length horizon, or list of them
        One index for a single series; for a collection, a list with one
        index per series, in the order of :func:`last_window`'s rows.

    Raises
    ------
    ValueError
        If a datetime index has no frequency and none can be inferred.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_transformers import forecast_index
    >>> s = pd.Series(range(24), index=pd.period_range("2020-01", periods=24, freq="M"))
    >>> forecast_index(s, horizon=3)
    PeriodIndex(['2022-01', '2022-02', '2022-03'], dtype='period[M]')
    """
    _check_positive_int(horizon, "horizon")
    keys, items = _as_collection(series)
    if keys is None:
        return _next_labels(_labels(series), horizon)
    return [_next_labels(_labels(item), horizon) for item in items]


def _labels(series):
    """The index of a pandas series, else a RangeIndex over its positions."""
    if isinstance(series, (pd.Series, pd.DataFrame)):
        return series.index
    return pd.RangeIndex(len(np.asarray(series)))


def _next_labels(index, horizon):
    if isinstance(index, pd.PeriodIndex):
        return pd.period_range(index[-1] + 1, periods=horizon, freq=index.freq)
    if isinstance(index, pd.DatetimeIndex):
        freq = index.freq or (pd.infer_freq(index) if len(index) >= 3 else None)
        if freq is None:
            raise ValueError(
                "the series' DatetimeIndex has no frequency and none can be "
                "inferred: set one, e.g. series.asfreq('MS')."
            )
        return pd.date_range(index[-1], periods=horizon + 1, freq=freq)[1:]
    if isinstance(index, pd.RangeIndex):
        last = index.start + index.step * len(index)
        return pd.RangeIndex(last, last + index.step * horizon, index.step)
    if pd.api.types.is_integer_dtype(index.dtype) and len(index):
        return pd.RangeIndex(index[-1] + 1, index[-1] + 1 + horizon)
    raise ValueError(
        f"cannot continue an index of type {type(index).__name__}: use a "
        "DatetimeIndex or PeriodIndex with a frequency, or integer labels."
    )


def _as_collection(series):
    """``(keys, items)`` for a list / tuple / dict of series, else (None, None).

    A list or tuple counts as a collection when every item is itself an
    array, a pandas object or a list / tuple (a list of numbers is one series).
    """
    if isinstance(series, dict):
        if not series:
            raise ValueError("series is an empty dict: pass at least one series.")
        return list(series), list(series.values())
    if isinstance(series, (list, tuple)) and series:
        if all(
            isinstance(item, (np.ndarray, pd.Series, pd.DataFrame, list, tuple))
            for item in series
        ):
            return list(range(len(series))), list(series)
    return None, None


def _checked_values(series, target, *, name=None, n_series=1):
    """Float values of one series and its target column (None for 1-D)."""
    prefix = "" if name is None else f"series {name!r}: "
    columns = list(series.columns) if isinstance(series, pd.DataFrame) else None
    try:
        values = _as_float_array(series)
    except ValueError as error:
        raise ValueError(prefix + str(error)) from None
    if values.ndim not in (1, 2):
        raise ValueError(
            prefix + "series must be 1-D (n_times,) or 2-D (n_times, n_features); "
            f"got shape {values.shape}."
        )
    bad = ~np.isfinite(values)
    if bad.any():
        position = np.argwhere(bad)[0]
        where = (
            f"time index {position[0]}"
            if values.ndim == 1
            else f"time index {position[0]}, column {position[1]}"
        )
        raise ValueError(
            prefix + f"series contains NaN or infinite values (first at {where})."
        )
    if values.ndim == 1:
        return values, None
    try:
        return values, _target_position(target, columns, values.shape[1])
    except ValueError as error:
        raise ValueError(prefix + str(error)) from None


def _check_length(n_times, window, horizon):
    if n_times < window + horizon:
        raise ValueError(
            f"series of length {n_times} is too short for window={window} plus "
            f"horizon={horizon}: it needs at least {window + horizon} time steps."
        )


def _check_same_width(arrays):
    shapes = {a.shape[2:] if a.ndim == 3 else () for a in arrays}
    if len(shapes) > 1:
        raise ValueError(
            "the series of a collection must all be 1-D, or all 2-D with the "
            f"same number of columns; got windows of shapes {sorted(shapes)}."
        )


def _cut(values, position, window, horizon, step):
    """Windows and targets of one checked series."""
    target_values = values if position is None else values[:, position]
    starts = np.arange(0, len(values) - window - horizon + 1, step)
    # (n_windows, window) of time indices; the target starts where X ends.
    X = values[starts[:, None] + np.arange(window)]
    y = target_values[starts[:, None] + window + np.arange(horizon)]
    return X, (y[:, 0] if horizon == 1 else y)


def _is_real_dtype(dtype):
    return pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_complex_dtype(dtype)
    )


def _as_float_array(series):
    """The series as float64; bool counts as 0/1, pandas' missing values as NaN."""
    if isinstance(series, (pd.Series, pd.DataFrame)):
        frame = series.to_frame() if isinstance(series, pd.Series) else series
        for column, dtype in frame.dtypes.items():
            if not _is_real_dtype(dtype):
                raise ValueError(
                    f"series must hold numbers; column {column!r} has dtype {dtype}."
                )
        # na_value turns pd.NA of nullable columns into NaN, which is then
        # reported with its position.
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.asarray(series)
    if values.dtype == object:
        if not all(isinstance(v, (Real, np.bool_)) for v in values.ravel()):
            raise ValueError("series must hold numbers; got non-numeric values.")
    elif not _is_real_dtype(values.dtype):
        raise ValueError(f"series must hold numbers, got dtype {values.dtype}.")
    return values.astype(np.float64)


def _target_position(target, columns, n_columns):
    if target is None:
        if n_columns == 1:
            return 0
        raise ValueError(
            f"series has {n_columns} columns: pass target= to name the column "
            "to forecast."
        )
    if columns is not None:
        if target in columns:
            return columns.index(target)
        raise ValueError(f"target={target!r} is not a column of series: {columns}.")
    if isinstance(target, bool) or not isinstance(target, Integral):
        raise ValueError(
            f"target must be an integer column position for an array, got {target!r}."
        )
    if not -n_columns <= target < n_columns:
        raise ValueError(f"target={target} is out of range for {n_columns} columns.")
    return int(target) % n_columns
