"""Tests of make_windows: shapes, values, no leakage of the future, errors."""

import numpy as np
import pandas as pd
import pytest

from sklearn_transformers import make_windows

try:  # hypothesis is a test-only dependency
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    given = None


def _n_windows(n_times, window, horizon, step):
    return (n_times - window - horizon) // step + 1


# ---------------------------------------------------------------- 1-D input
@pytest.mark.parametrize(
    "to_input",
    [
        pytest.param(lambda a: a, id="numpy"),
        pytest.param(lambda a: a.tolist(), id="list"),
        pytest.param(lambda a: tuple(a.tolist()), id="tuple"),
        pytest.param(
            lambda a: pd.Series(a, index=pd.date_range("2020", periods=len(a))),
            id="series",
        ),
    ],
)
def test_1d_input_gives_2d_windows_and_1d_targets(to_input):
    values = np.arange(10) * 1.5
    X, y = make_windows(to_input(values), window=4)
    assert X.shape == (6, 4)
    assert y.shape == (6,)
    assert X.dtype == np.float64
    assert y.dtype == np.float64
    np.testing.assert_array_equal(X[0], values[:4])
    np.testing.assert_array_equal(X[-1], values[5:9])
    np.testing.assert_array_equal(y, values[4:])


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32, bool])
def test_numeric_dtypes_come_back_as_float64(dtype):
    values = (np.arange(8) % 2).astype(dtype)
    X, y = make_windows(values, window=3)
    assert X.dtype == np.float64
    assert y.dtype == np.float64
    np.testing.assert_array_equal(X[0], [0.0, 1.0, 0.0])


@pytest.mark.parametrize("horizon", [2, 3, 5])
def test_horizon_gives_2d_targets(horizon):
    values = np.arange(12.0)
    X, y = make_windows(values, window=4, horizon=horizon)
    n = 12 - 4 - horizon + 1
    assert X.shape == (n, 4)
    assert y.shape == (n, horizon)
    for i in range(n):
        np.testing.assert_array_equal(y[i], values[i + 4 : i + 4 + horizon])


def test_horizon_1_gives_1d_targets():
    _, y = make_windows(np.arange(10.0), window=3, horizon=1)
    assert y.ndim == 1


@pytest.mark.parametrize("step", [1, 2, 3, 7])
def test_step_spaces_window_starts(step):
    values = np.arange(20.0)
    X, y = make_windows(values, window=5, step=step)
    assert len(X) == _n_windows(20, 5, 1, step)
    np.testing.assert_array_equal(X[:, 0], np.arange(len(X)) * step)
    np.testing.assert_array_equal(y, X[:, -1] + 1)


@pytest.mark.parametrize(
    ("n_times", "window", "horizon", "step"),
    [
        (10, 3, 1, 1),
        (10, 9, 1, 1),
        (10, 5, 5, 1),
        (10, 3, 2, 3),
        (11, 3, 2, 3),
        (100, 24, 12, 5),
        (7, 1, 1, 10),
    ],
)
def test_window_count(n_times, window, horizon, step):
    X, y = make_windows(np.arange(n_times), window, horizon, step=step)
    n = _n_windows(n_times, window, horizon, step)
    assert X.shape == (n, window)
    assert len(y) == n


def test_series_of_exactly_window_plus_horizon_gives_one_window():
    X, y = make_windows(np.arange(7.0), window=4, horizon=3)
    assert X.shape == (1, 4)
    assert y.shape == (1, 3)


def test_windows_are_copies_of_the_series():
    values = np.arange(10.0)
    X, y = make_windows(values, window=3)
    X[:] = -1
    y[:] = -1
    np.testing.assert_array_equal(values, np.arange(10.0))


def test_target_is_ignored_for_1d_input():
    X, y = make_windows(np.arange(10.0), window=3, target="anything")
    assert X.shape == (7, 3)


# ---------------------------------------------------------------- 2-D input
def _multivariate(n_times=15):
    t = np.arange(n_times, dtype=float)
    return np.column_stack([t, 100 + t, -t])


@pytest.mark.parametrize("target", [0, 1, 2, -1])
def test_2d_array_with_integer_target(target):
    values = _multivariate()
    X, y = make_windows(values, window=4, horizon=2, target=target)
    n = _n_windows(15, 4, 2, 1)
    assert X.shape == (n, 4, 3)
    assert y.shape == (n, 2)
    column = values[:, target]
    for i in range(n):
        # X holds every column, the target's own past included.
        np.testing.assert_array_equal(X[i], values[i : i + 4])
        np.testing.assert_array_equal(y[i], column[i + 4 : i + 6])


@pytest.mark.parametrize("target", ["load", "temp"])
def test_dataframe_with_column_label_target(target):
    values = _multivariate()
    frame = pd.DataFrame(
        values,
        columns=["load", "temp", "other"],
        index=pd.date_range("2021", periods=15, freq="h"),
    )
    X, y = make_windows(frame, window=5, step=2, target=target)
    n = _n_windows(15, 5, 1, 2)
    assert X.shape == (n, 5, 3)
    assert y.shape == (n,)
    col = frame.columns.get_loc(target)
    np.testing.assert_array_equal(
        X[:, :, col], make_windows(frame[target], 5, step=2)[0]
    )
    np.testing.assert_array_equal(y, make_windows(frame[target], 5, step=2)[1])


def test_dataframe_with_integer_column_labels():
    frame = pd.DataFrame(_multivariate(), columns=[10, 20, 30])
    _, y = make_windows(frame, window=3, target=20)
    np.testing.assert_array_equal(y, 100 + np.arange(3, 15))


def test_dataframe_with_mixed_numeric_dtypes():
    frame = pd.DataFrame(
        {"a": np.arange(8, dtype=np.int64), "b": np.arange(8) * 0.5, "c": [True] * 8}
    )
    X, y = make_windows(frame, window=3, target="b")
    assert X.shape == (5, 3, 3)
    assert X.dtype == np.float64
    np.testing.assert_array_equal(y, np.arange(3, 8) * 0.5)


@pytest.mark.parametrize(
    "series",
    [
        pytest.param(np.arange(10.0)[:, None], id="array"),
        pytest.param(pd.DataFrame({"x": np.arange(10.0)}), id="dataframe"),
    ],
)
def test_single_column_needs_no_target(series):
    X, y = make_windows(series, window=3)
    assert X.shape == (7, 3, 1)
    np.testing.assert_array_equal(y, np.arange(3.0, 10.0))


# ------------------------------------------------------------- no leakage
@pytest.mark.parametrize(
    ("window", "horizon", "step"), [(1, 1, 1), (5, 1, 1), (4, 3, 2), (10, 6, 4)]
)
def test_no_leakage_univariate(window, horizon, step):
    # Values equal their time index, so a value tells when it was observed.
    time_index = np.arange(40)
    X, y = make_windows(time_index, window, horizon, step=step)
    y = y.reshape(len(y), -1)
    assert np.all(X.max(axis=1) < y.min(axis=1))
    # The target starts right where the window ends: nothing is skipped.
    np.testing.assert_array_equal(y.min(axis=1), X.max(axis=1) + 1)


@pytest.mark.parametrize("target", ["a", "b"])
def test_no_leakage_multivariate(target):
    time_index = np.arange(30)
    frame = pd.DataFrame({"a": time_index, "b": time_index + 0.5})
    X, y = make_windows(frame, window=6, horizon=3, step=2, target=target)
    # The latest observation of any column in X precedes the earliest target.
    assert np.all(np.floor(X.max(axis=(1, 2))) < np.floor(y.min(axis=1)))


# ------------------------------------------------------------------ errors
def test_too_short_series_raises():
    with pytest.raises(ValueError, match="too short.*at least 6"):
        make_windows(np.arange(5.0), window=4, horizon=2)


def test_empty_series_raises():
    with pytest.raises(ValueError, match="too short"):
        make_windows([], window=1)


@pytest.mark.parametrize(
    ("series", "match"),
    [
        pytest.param([0.0, 1.0, np.nan, 3.0, 4.0], "NaN.*time index 2", id="nan-list"),
        pytest.param(
            pd.Series([0.0, 1.0, 2.0, 3.0, None]), "NaN.*time index 4", id="nan-series"
        ),
        pytest.param([0.0, np.inf, 2.0, 3.0], "infinite.*time index 1", id="inf"),
        pytest.param([0.0, 1.0, 2.0, -np.inf], "infinite.*time index 3", id="-inf"),
        pytest.param(
            np.array([[0.0, 1.0], [2.0, 3.0], [4.0, np.nan], [6.0, 7.0]]),
            "time index 2, column 1",
            id="nan-2d",
        ),
        pytest.param(
            pd.Series([0.0, 1.0, None, 3.0], dtype="Float64"),
            "NaN.*time index 2",
            id="nullable-float-series",
        ),
        pytest.param(
            pd.DataFrame(
                {
                    "a": [0.0, 1.0, 2.0, 3.0],
                    "b": pd.array([1, 2, None, 4], dtype="Int64"),
                }
            ),
            "NaN.*time index 2, column 1",
            id="nullable-int-dataframe",
        ),
    ],
)
def test_non_finite_values_raise_naming_the_position(series, match):
    with pytest.raises(ValueError, match=match):
        make_windows(
            series, window=2, target="a" if isinstance(series, pd.DataFrame) else 0
        )


@pytest.mark.parametrize("name", ["window", "horizon", "step"])
@pytest.mark.parametrize("value", [0, -1, 2.0, 1.5, True, "3", None])
def test_invalid_window_horizon_step_raise(name, value):
    params = {"window": 3, "horizon": 1, "step": 1, name: value}
    with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
        make_windows(np.arange(20.0), **params)


def test_numpy_integer_window_is_accepted():
    X, y = make_windows(np.arange(10.0), window=np.int64(3), horizon=np.int32(2))
    assert X.shape == (6, 3)
    assert y.shape == (6, 2)


@pytest.mark.parametrize(
    "series",
    [
        pytest.param(_multivariate(), id="array"),
        pytest.param(pd.DataFrame(_multivariate(), columns=list("abc")), id="frame"),
    ],
)
def test_2d_multi_column_without_target_raises(series):
    with pytest.raises(ValueError, match="3 columns.*target="):
        make_windows(series, window=3)


def test_unknown_column_label_raises():
    frame = pd.DataFrame(_multivariate(), columns=["a", "b", "c"])
    with pytest.raises(ValueError, match="target='z' is not a column"):
        make_windows(frame, window=3, target="z")


def test_integer_position_for_labelled_dataframe_raises():
    frame = pd.DataFrame(_multivariate(), columns=["a", "b", "c"])
    with pytest.raises(ValueError, match="not a column"):
        make_windows(frame, window=3, target=0)


@pytest.mark.parametrize("target", [3, -4, 100])
def test_out_of_range_integer_target_raises(target):
    with pytest.raises(ValueError, match="out of range for 3 columns"):
        make_windows(_multivariate(), window=3, target=target)


@pytest.mark.parametrize("target", ["a", 1.0, True])
def test_non_integer_target_for_array_raises(target):
    with pytest.raises(ValueError, match="integer column position"):
        make_windows(_multivariate(), window=3, target=target)


@pytest.mark.parametrize(
    "series",
    [
        pytest.param(np.zeros((10, 2, 2)), id="3d"),
        pytest.param(np.float64(1.0), id="scalar"),
    ],
)
def test_wrong_dimensions_raise(series):
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        make_windows(series, window=2)


@pytest.mark.parametrize(
    "series",
    [
        pytest.param(["a", "b", "c", "d"], id="str"),
        pytest.param(np.array(["1", "2", "3", "4"]), id="numeric-str"),
        pytest.param(np.array([1.0, "x", 3.0, 4.0], dtype=object), id="object"),
        pytest.param(pd.Series(["a", "b", "c", "d"]), id="str-series"),
        pytest.param(
            pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": list("wxyz")}),
            id="str-column",
        ),
        pytest.param(pd.date_range("2020", periods=4), id="datetime"),
    ],
)
def test_non_numeric_data_raises(series):
    with pytest.raises(ValueError, match="must hold numbers"):
        make_windows(series, window=2, target="a")


def test_complex_data_raises():
    # Dropping the imaginary part would silently change the data.
    with pytest.raises(ValueError, match="must hold numbers|complex"):
        make_windows(np.arange(6) + 1j, window=2)


# ---------------------------------------------------------- property test
if given is not None:

    @settings(max_examples=200, deadline=None, database=None)
    @given(
        n_times=st.integers(min_value=2, max_value=80),
        window=st.integers(min_value=1, max_value=40),
        horizon=st.integers(min_value=1, max_value=20),
        step=st.integers(min_value=1, max_value=15),
        n_features=st.integers(min_value=0, max_value=3),
        data=st.data(),
    )
    def test_make_windows_never_leaks_and_shapes_agree(
        n_times, window, horizon, step, n_features, data
    ):
        # Each value is its own time index (times 10, plus the column number,
        # so columns differ but the time index is floor(value / 10)).
        time_index = np.arange(n_times)
        if n_features == 0:
            series = time_index * 10
            target = None
        else:
            series = time_index[:, None] * 10 + np.arange(n_features)
            target = data.draw(st.integers(0, n_features - 1), label="target")

        if n_times < window + horizon:
            with pytest.raises(ValueError, match="too short"):
                make_windows(series, window, horizon, step=step, target=target)
            return

        X, y = make_windows(series, window, horizon, step=step, target=target)
        n = _n_windows(n_times, window, horizon, step)
        assert n >= 1
        expected_X = (n, window) if n_features == 0 else (n, window, n_features)
        assert X.shape == expected_X
        assert y.shape == ((n,) if horizon == 1 else (n, horizon))

        x_times = np.floor_divide(X, 10).reshape(n, -1)
        y_times = np.floor_divide(y, 10).reshape(n, -1)
        # No window holds a value of its own target period or later ...
        assert np.all(x_times.max(axis=1) < y_times.min(axis=1))
        # ... the target follows the window directly, in order ...
        np.testing.assert_array_equal(y_times[:, 0], x_times.max(axis=1) + 1)
        np.testing.assert_array_equal(np.diff(y_times, axis=1), 1)
        # ... windows start every `step` steps and the last one fits.
        np.testing.assert_array_equal(x_times.min(axis=1), np.arange(n) * step)
        assert y_times.max() <= n_times - 1
        if n_features:
            np.testing.assert_array_equal(y % 10, target)

else:  # pragma: no cover

    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_make_windows_never_leaks_and_shapes_agree():
        pass


# ----------------------------------------------------------- many series
def test_collection_windows_never_span_two_series():
    a, b = np.arange(6.0), 100 + np.arange(5.0)
    X, y, groups = make_windows([a, b], window=3, return_groups=True)
    Xa, ya = make_windows(a, window=3)
    Xb, yb = make_windows(b, window=3)
    np.testing.assert_array_equal(X, np.concatenate([Xa, Xb]))
    np.testing.assert_array_equal(y, np.concatenate([ya, yb]))
    np.testing.assert_array_equal(groups, [0, 0, 0, 1, 1])
    # Every window and its target come from one series.
    for row, target, group in zip(X, y, groups, strict=True):
        source = (a, b)[group]
        assert np.isin(row, source).all() and target in source


def test_collection_dict_groups_are_keys_and_line_up_with_group_kfold():
    from sklearn.model_selection import GroupKFold

    series = {"x": np.arange(10.0), "y": np.arange(8.0) * 2, "z": np.arange(7.0)}
    X, y, groups = make_windows(series, window=4, horizon=2, return_groups=True)
    assert X.shape == (5 + 3 + 2, 4) and y.shape == (10, 2)
    assert groups.tolist() == ["x"] * 5 + ["y"] * 3 + ["z"] * 2
    for train, test in GroupKFold(n_splits=3).split(X, y, groups):
        assert not set(groups[train]) & set(groups[test])


def test_collection_of_dataframes_with_target():
    frames = [
        pd.DataFrame({"a": np.arange(6.0), "b": np.arange(6.0) * 10}),
        pd.DataFrame({"a": np.arange(5.0) + 50, "b": np.arange(5.0)}),
    ]
    X, y = make_windows(frames, window=3, target="b")
    assert X.shape == (5, 3, 2)
    np.testing.assert_array_equal(y, [30, 40, 50, 3, 4])


def test_collection_skips_short_series_with_a_counting_warning():
    series = [np.arange(10.0), np.arange(2.0), np.arange(3.0), np.arange(8.0)]
    with pytest.warns(UserWarning, match="2 of 4 series"):
        X, y, groups = make_windows(series, window=4, return_groups=True)
    assert set(groups.tolist()) == {0, 3}
    assert len(X) == 6 + 4


def test_collection_with_no_long_enough_series_raises():
    with pytest.raises(ValueError, match="none of the 2 series"):
        make_windows([np.arange(3.0), np.arange(2.0)], window=4)


def test_collection_names_the_bad_series():
    with pytest.raises(ValueError, match="series 'b'.*NaN.*time index 1"):
        make_windows({"a": np.arange(5.0), "b": [0.0, np.nan, 1.0, 2.0]}, window=2)
    with pytest.raises(ValueError, match="all be 1-D, or all 2-D"):
        make_windows([np.arange(5.0), np.ones((5, 2))], window=2, target=0)


def test_single_series_groups_are_zero():
    X, y, groups = make_windows(np.arange(6.0), window=3, return_groups=True)
    assert groups.tolist() == [0, 0, 0]


def test_last_window_shapes_and_values():
    from sklearn_transformers import last_window

    np.testing.assert_array_equal(last_window(np.arange(6.0), 3), [[3, 4, 5]])
    X = last_window({"a": np.arange(5.0), "b": np.arange(9.0)}, 4)
    np.testing.assert_array_equal(X, [[1, 2, 3, 4], [5, 6, 7, 8]])
    frame = pd.DataFrame({"a": np.arange(6.0), "b": -np.arange(6.0)})
    X3 = last_window([frame, frame], 2, target="a")
    assert X3.shape == (2, 2, 2)
    # Shaped like make_windows' X: a model fitted on those windows predicts it.
    Xw, _ = make_windows([frame, frame], 2, target="a")
    assert X3.shape[1:] == Xw.shape[1:]
    with pytest.raises(ValueError, match="series 'a'.*too short"):
        last_window({"a": np.arange(2.0), "b": np.arange(9.0)}, 4)


def test_target_index_gives_the_timestamps_of_y():
    from sklearn_transformers import target_index

    index = pd.date_range("2020-01-01", periods=8, freq="D")
    s = pd.Series(np.arange(8.0), index=index)
    X, y = make_windows(s, window=3)
    labels = target_index(s, window=3)
    np.testing.assert_array_equal(s.loc[labels].to_numpy(), y)
    X, y = make_windows([s, s.iloc[:6]], window=3, horizon=2, step=2)
    labels = target_index([s, s.iloc[:6]], window=3, horizon=2, step=2)
    assert labels.shape == y.shape
    assert (labels[0] < labels[1]).all()
    np.testing.assert_array_equal(s.loc[labels[1]].to_numpy(), y[:, 1])


def test_forecast_index_continues_each_series():
    from sklearn_transformers import forecast_index

    monthly = pd.Series(
        np.arange(5.0), index=pd.date_range("2020-01-01", periods=5, freq="MS")
    )
    assert forecast_index(monthly, 2).tolist() == list(
        pd.to_datetime(["2020-06-01", "2020-07-01"])
    )
    periods = pd.Series(
        np.arange(4.0), index=pd.period_range("2021Q1", periods=4, freq="Q")
    )
    both = forecast_index([monthly, periods], 1)
    assert str(both[1][0]) == "2022Q1"
    assert forecast_index(np.arange(5.0), 2).tolist() == [5, 6]
    irregular = pd.Series(
        [1.0, 2, 3], index=pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-09"])
    )
    with pytest.raises(ValueError, match="no frequency"):
        forecast_index(irregular, 1)
