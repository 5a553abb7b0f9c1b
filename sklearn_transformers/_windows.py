"""make_windows: cut a time series into (past window, future target) pairs."""

from numbers import Integral, Real

import numpy as np
import pandas as pd

__all__ = ["make_windows"]


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def make_windows(series, window, horizon=1, *, step=1, target=None):
    """Cut a time series into input windows and the values that follow them.

    Window ``i`` covers time steps ``[i*step, i*step + window)`` and its
    target the next ``horizon`` steps, so no window ever contains a value of
    its own target period (no leakage of the future into ``X``).

    Parameters
    ----------
    series : array-like of shape (n_times,) or (n_times, n_features)
        A 1-D array / list / pandas Series (a univariate series), or a 2-D
        array / DataFrame with time along the rows and one column per feature
        (a multivariate series). Values must be numeric (bool is taken as
        0/1) and finite.
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

    Returns
    -------
    X : ndarray of shape (n_windows, window) or (n_windows, window, n_features)
        Input windows, oldest time step first. 2-D input gives 3-D windows
        holding every column, the target's own past included.
    y : ndarray of shape (n_windows,) or (n_windows, horizon)
        The target's next value (``horizon=1``) or next ``horizon`` values.

    Raises
    ------
    ValueError
        If the series is too short for one window plus horizon, holds NaN or
        infinite values (naming the first position), is not 1-D or 2-D, or if
        ``window``, ``horizon``, ``step`` or ``target`` is invalid.

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
    """
    _check_positive_int(window, "window")
    _check_positive_int(horizon, "horizon")
    _check_positive_int(step, "step")

    columns = list(series.columns) if isinstance(series, pd.DataFrame) else None
    values = _as_float_array(series)
    if values.ndim not in (1, 2):
        raise ValueError(
            "series must be 1-D (n_times,) or 2-D (n_times, n_features); got "
            f"shape {values.shape}."
        )
    bad = ~np.isfinite(values)
    if bad.any():
        position = np.argwhere(bad)[0]
        where = (
            f"time index {position[0]}"
            if values.ndim == 1
            else f"time index {position[0]}, column {position[1]}"
        )
        raise ValueError(f"series contains NaN or infinite values (first at {where}).")
    n_times = values.shape[0]
    if n_times < window + horizon:
        raise ValueError(
            f"series of length {n_times} is too short for window={window} plus "
            f"horizon={horizon}: it needs at least {window + horizon} time steps."
        )

    if values.ndim == 1:
        target_values = values
    else:
        target_values = values[:, _target_position(target, columns, values.shape[1])]

    starts = np.arange(0, n_times - window - horizon + 1, step)
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
