"""Tests of sklearn_transformers.plotting: what is drawn, on the Agg backend."""

import importlib
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

import sklearn_transformers.plotting
from sklearn_transformers import (
    AttentionTimeSeriesRegressor,
    TransformerTextClassifier,
    make_windows,
)
from sklearn_transformers.plotting import (
    AttentionDisplay,
    HistoryDisplay,
    plot_attention,
    plot_history,
)

TINY = {"embed_dim": 8, "num_heads": 2, "num_layers": 1, "ff_dim": 16}
DOCS = ["good movie", "great film", "bad movie", "awful film"] * 8
LABELS = ["pos", "pos", "neg", "neg"] * 8


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def clf():
    """Classifier with early stopping, so history_ holds valid_* records."""
    return TransformerTextClassifier(
        **TINY,
        max_epochs=4,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=10,
        random_state=0,
    ).fit(DOCS, LABELS)


@pytest.fixture(scope="module")
def series_data():
    series = np.sin(np.arange(80) * 2 * np.pi / 12)
    return make_windows(series, window=10)


@pytest.fixture(scope="module")
def reg(series_data):
    X, y = series_data
    return AttentionTimeSeriesRegressor(**TINY, max_epochs=3, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def reg3():
    """Regressor on 3-D windows (two features), horizon 2."""
    t = np.arange(80) * 2 * np.pi / 12
    X, y = make_windows(np.c_[np.sin(t), np.cos(t)], window=6, horizon=2, target=0)
    model = AttentionTimeSeriesRegressor(**TINY, max_epochs=2, random_state=0)
    return model.fit(X, y), X


def _labels(ax):
    return [line.get_label() for line in ax.lines]


def _line(ax, label):
    (line,) = [line for line in ax.lines if line.get_label() == label]
    return line


# ------------------------------------------------------------------ import
def test_module_imports_without_matplotlib(monkeypatch):
    # Importing the module must not import matplotlib: it is an optional extra.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    module = importlib.reload(sklearn_transformers.plotting)
    assert module.plot_attention.__name__ == "plot_attention"
    assert module.AttentionDisplay.__name__ == "AttentionDisplay"
    assert module.HistoryDisplay.__name__ == "HistoryDisplay"


CALLS = {
    "plot_attention": lambda clf: plot_attention(clf, ["good film"]),
    "plot_history": plot_history,
    "AttentionDisplay.from_estimator": lambda clf: AttentionDisplay.from_estimator(
        clf, ["good film"]
    ),
    "HistoryDisplay.from_estimator": HistoryDisplay.from_estimator,
}


@pytest.mark.parametrize("func", list(CALLS))
def test_missing_matplotlib_names_the_extra(monkeypatch, clf, func):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"sklearn-transformers\[plot\]") as info:
        CALLS[func](clf)
    assert func in str(info.value)


# ------------------------------------------------------------ bad estimator
@pytest.mark.parametrize(
    "estimator",
    [
        TransformerTextClassifier(**TINY),
        AttentionTimeSeriesRegressor(**TINY),
    ],
)
def test_unfitted_estimator_raises(estimator):
    with pytest.raises(NotFittedError):
        plot_history(estimator)
    with pytest.raises(NotFittedError):
        plot_attention(estimator, ["good film"])


@pytest.mark.parametrize(
    "estimator",
    [LogisticRegression().fit([[0.0], [1.0]], [0, 1]), "not an estimator"],
)
def test_unsupported_estimator_raises_type_error(estimator):
    name = type(estimator).__name__
    with pytest.raises(TypeError, match=f"attention_weights .*got {name}"):
        plot_attention(estimator, [[0.0]])
    with pytest.raises(TypeError, match=f"history_ .*got {name}"):
        plot_history(estimator)


# -------------------------------------------------------------- text plots
def test_text_one_document_draws_each_token_coloured_by_weight(clf):
    doc = "a great movie and an awful film"
    ax = plot_attention(clf, [doc], cmap="Blues")
    tokens, weights = clf.attention_weights([doc])[0]

    assert isinstance(ax, Axes)
    assert [text.get_text() for text in ax.texts] == tokens
    # Colour by the weight relative to the uniform weight 1 / n_tokens, from
    # the uniform weight up to (at least twice) the largest ratio drawn.
    ratios = weights * len(weights)
    norm = Normalize(1, max(2, ratios.max()), clip=True)
    cmap = plt.get_cmap("Blues")
    for text, ratio in zip(ax.texts, ratios, strict=True):
        face = text.get_bbox_patch().get_facecolor()
        np.testing.assert_allclose(face, cmap(norm(ratio)), atol=1e-6)
    predicted = clf.predict([doc])[0]
    assert f"predicted: {predicted}" in ax.get_title(loc="left")
    # The token panel and the colorbar.
    colorbar_ax = ax.figure.axes[1]
    assert colorbar_ax.get_xlabel().startswith("weight / uniform weight")
    assert colorbar_ax.get_xlim() == pytest.approx((1, max(2, ratios.max())))


def test_text_several_documents_one_panel_each(clf):
    docs = ["good film", "an awful , bad movie", ""]
    fig = plot_attention(clf, docs, show_prediction=False)
    attention = clf.attention_weights(docs)

    assert isinstance(fig, Figure)
    assert len(fig.axes) == len(docs) + 1  # panels, then the colorbar
    for i, (ax, (tokens, _)) in enumerate(zip(fig.axes, attention, strict=False)):
        assert [text.get_text() for text in ax.texts] == tokens
        assert ax.get_title(loc="left").startswith(f"document {i}")
        assert "predicted" not in ax.get_title(loc="left")
    assert "no tokens" in fig.axes[2].get_title(loc="left")
    # One colour scale for all panels: up to the largest ratio drawn.
    top = max(weights.max() * len(weights) for _, weights in attention[:2])
    assert fig.axes[-1].get_xlim() == pytest.approx((1, max(2, top)))


def test_text_max_tokens_truncates_and_says_so(clf):
    doc = " ".join(["good", "film", "bad", "movie"] * 5)  # 20 tokens
    ax = plot_attention(clf, [doc], max_tokens=7)
    tokens, _ = clf.attention_weights([doc])[0]

    assert [text.get_text() for text in ax.texts] == tokens[:7]
    assert "first 7 of 20 tokens" in ax.get_title(loc="left")
    ax = plot_attention(clf, [doc], max_tokens=None)
    assert len(ax.texts) == 20
    assert "tokens" not in ax.get_title(loc="left")


def test_text_long_document_wraps_lines(clf):
    doc = " ".join(["great"] * 40)
    ax = plot_attention(clf, [doc], max_tokens=None)
    fig = ax.figure
    fig.canvas.draw()
    extents = [text.get_window_extent() for text in ax.texts]
    rows = {round(extent.y0) for extent in extents}
    assert len(rows) > 1
    # Every token stays inside the figure.
    assert min(extent.x0 for extent in extents) >= 0
    assert max(extent.x1 for extent in extents) <= fig.bbox.width


def test_text_ax_passthrough(clf):
    fig, ax = plt.subplots(figsize=(8, 3))
    doc = "good film , bad movie"
    assert plot_attention(clf, [doc], ax=ax) is ax
    tokens, _ = clf.attention_weights([doc])[0]
    assert [text.get_text() for text in ax.texts] == tokens
    assert len(fig.axes) == 2  # ax and its colorbar


def test_text_ax_keeps_the_lines_that_fit(clf):
    doc = " ".join(["good", "film"] * 60)
    fig, ax = plt.subplots(figsize=(4, 1.5))
    plot_attention(clf, [doc], ax=ax, max_tokens=None)
    n_drawn = len(ax.texts)
    assert 0 < n_drawn < 120
    assert f"first {n_drawn} of 120 tokens" in ax.get_title(loc="left")


def test_text_ax_with_several_documents_raises(clf):
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="X holds 2 documents"):
        plot_attention(clf, ["good film", "bad movie"], ax=ax)


def test_text_tokens_are_drawn_literally():
    clf = TransformerTextClassifier(
        **TINY, max_epochs=1, tokenizer=str.split, random_state=0
    ).fit(["costs $5$ now", "free"] * 4, [1, 0] * 4)
    ax = plot_attention(clf, ["costs $5$ now"])
    ax.figure.canvas.draw()  # no mathtext parsing of "$5$"
    assert [text.get_text() for text in ax.texts] == ["costs", "$5$", "now"]
    assert not any(text.get_parse_math() for text in ax.texts)


@pytest.mark.parametrize("max_tokens", [0, -1])
def test_text_bad_max_tokens(clf, max_tokens):
    with pytest.raises(ValueError, match="max_tokens"):
        plot_attention(clf, ["good film"], max_tokens=max_tokens)


# ------------------------------------------------------------ series plots
@pytest.mark.parametrize("index", [0, 3, -1])
def test_series_window_and_bars(reg, series_data, index):
    X, _ = series_data
    fig = plot_attention(reg, X, index=index)
    weights = reg.attention_weights(X)

    assert isinstance(fig, Figure)
    value_ax, bar_ax = fig.axes
    window = X.shape[1]
    lags = np.arange(-window, 0)
    assert len(bar_ax.patches) == window
    np.testing.assert_allclose(
        [bar.get_height() for bar in bar_ax.patches], weights[index]
    )
    np.testing.assert_allclose(
        [bar.get_x() + bar.get_width() / 2 for bar in bar_ax.patches], lags
    )
    uniform = _line(bar_ax, f"uniform (1/{window})")
    assert uniform.get_linestyle() == "--"
    np.testing.assert_allclose(uniform.get_ydata(), 1 / window)
    assert bar_ax.get_ylabel() == "weight (attention_weights; sums to 1)"
    # The window above, on the same time axis.
    assert value_ax.get_shared_x_axes().joined(value_ax, bar_ax)
    series = _line(value_ax, "series")
    np.testing.assert_allclose(series.get_xdata(), lags)
    np.testing.assert_allclose(series.get_ydata(), X[index])
    forecast = reg.predict(X[[index]])
    np.testing.assert_allclose(_line(value_ax, "forecast").get_ydata()[1:], forecast)
    n = len(X)
    assert f"Window {index % n}" in value_ax.get_title(loc="left")
    assert f"{forecast[0]:.4g}" in value_ax.get_title(loc="left")
    fig.canvas.draw()
    tick_labels = [label.get_text() for label in bar_ax.get_xticklabels()]
    assert any(label.startswith("t-") for label in tick_labels)


def test_series_mean_over_windows(reg, series_data):
    X, _ = series_data
    fig = plot_attention(reg, X, index=None)
    value_ax, bar_ax = fig.axes
    np.testing.assert_allclose(
        [bar.get_height() for bar in bar_ax.patches],
        reg.attention_weights(X).mean(axis=0),
    )
    np.testing.assert_allclose(_line(value_ax, "series").get_ydata(), X.mean(axis=0))
    assert "forecast" not in _labels(value_ax)
    assert f"mean over {len(X)} windows" in bar_ax.get_title(loc="left")


def test_series_ax_passthrough_draws_only_bars(reg, series_data):
    X, _ = series_data
    fig, ax = plt.subplots()
    assert plot_attention(reg, X, ax=ax, index=2) is ax
    assert len(fig.axes) == 1
    np.testing.assert_allclose(
        [bar.get_height() for bar in ax.patches], reg.attention_weights(X)[2]
    )
    assert _labels(ax) == [f"uniform (1/{X.shape[1]})"]


def test_series_3d_features_on_their_own_axes(reg3):
    model, X = reg3
    fig = plot_attention(model, X, index=1, feature_names=["sin", "cos"])
    sin_ax, cos_ax, bar_ax = fig.axes
    assert _labels(sin_ax) == ["sin"]  # no forecast line for 3-D X
    assert _labels(cos_ax) == ["cos"]
    assert (sin_ax.get_ylabel(), cos_ax.get_ylabel()) == ("sin", "cos")
    np.testing.assert_allclose(_line(cos_ax, "cos").get_ydata(), X[1, :, 1])
    assert sin_ax.get_shared_x_axes().joined(sin_ax, bar_ax)
    assert len(bar_ax.patches) == X.shape[1]
    default = plot_attention(model, X, index=1).axes
    assert [_labels(ax) for ax in default[:2]] == [["feature 0"], ["feature 1"]]
    # Two forecast steps in the title.
    assert sin_ax.get_title(loc="left").count(",") == 1


def test_series_feature_in_large_units_does_not_flatten_another():
    # Demand in the thousands next to a temperature around 20: each feature
    # gets its own y-axis, scaled to its own range.
    t = np.arange(120)
    demand = 5000 + 1000 * np.sin(2 * np.pi * t / 24)
    temperature = 20 + 0.5 * np.cos(2 * np.pi * t / 24)
    X, y = make_windows(np.c_[demand, temperature], window=24, target=0)
    reg = AttentionTimeSeriesRegressor(**TINY, max_epochs=1, random_state=0).fit(X, y)
    fig = plot_attention(reg, X, feature_names=["demand", "temperature"])
    demand_ax, temperature_ax, _ = fig.axes
    low, high = temperature_ax.get_ylim()
    assert high - low < 5
    assert demand_ax.get_ylim()[1] > 5000


def test_series_bad_arguments(reg, reg3, series_data):
    X, _ = series_data
    with pytest.raises(ValueError, match=f"index={len(X)} is out of range"):
        plot_attention(reg, X, index=len(X))
    with pytest.raises(TypeError, match="index must be an int or None"):
        plot_attention(reg, X, index=1.5)
    model, X3 = reg3
    with pytest.raises(ValueError, match="feature_names has 1 name"):
        plot_attention(model, X3, feature_names=["sin"])


# ------------------------------------------------------------------ history
def test_history_with_validation(clf):
    fig = plot_history(clf)
    assert isinstance(fig, Figure)
    loss_ax, score_ax = fig.axes
    history = clf.history_
    epochs = history[:, "epoch"]
    # The epoch early stopping restores: the best validation score (default).
    best = epochs[int(np.argmax(history[:, "valid_score"]))]
    for ax, kind in ((loss_ax, "loss"), (score_ax, "score")):
        assert _labels(ax) == ["train", "validation", f"best epoch ({best})"]
        np.testing.assert_allclose(_line(ax, "train").get_xdata(), epochs)
        np.testing.assert_allclose(
            _line(ax, "train").get_ydata(), history[:, f"train_{kind}"]
        )
        np.testing.assert_allclose(
            _line(ax, "validation").get_ydata(), history[:, f"valid_{kind}"]
        )
        np.testing.assert_allclose(_line(ax, f"best epoch ({best})").get_xdata(), best)
        assert ax.get_xlabel() == "epoch"
        assert [text.get_text() for text in ax.get_legend().get_texts()] == _labels(ax)
    assert loss_ax.get_ylabel() == "loss (cross-entropy)"
    assert score_ax.get_ylabel() == "accuracy"
    assert loss_ax.get_title(loc="left") == "Loss"
    assert fig.get_suptitle() == f"TransformerTextClassifier: {len(history)} epochs"


def test_history_without_validation(reg):
    loss_ax, score_ax = plot_history(reg).axes
    assert _labels(loss_ax) == ["train"]
    assert _labels(score_ax) == ["train"]
    np.testing.assert_allclose(
        _line(loss_ax, "train").get_ydata(), reg.history_[:, "train_loss"]
    )
    assert score_ax.get_ylabel() == "R²"
    assert "MSE" in loss_ax.get_ylabel()
    # The figure says why there is no validation curve.
    note = loss_ax.figure.get_supxlabel()
    assert "no data was held out" in note
    assert "early_stopping=True" in note


def test_history_with_validation_has_no_note(clf):
    fig = plot_history(clf)
    assert fig.get_supxlabel() == ""
    ax = plot_history(clf, ax=plt.subplots()[1])
    assert ax.get_title(loc="left") == "Loss"


def test_history_in_ax_without_validation_says_so(reg):
    _, ax = plt.subplots()
    plot_history(reg, ax=ax)
    assert "no held-out data" in ax.get_title(loc="left")


def test_history_ax_passthrough_draws_losses_only(clf):
    fig, ax = plt.subplots()
    assert plot_history(clf, ax=ax) is ax
    assert len(fig.axes) == 1
    assert _labels(ax)[:2] == ["train", "validation"]
    np.testing.assert_allclose(
        _line(ax, "validation").get_ydata(), clf.history_[:, "valid_loss"]
    )


def test_history_counts_epochs_across_partial_fit(series_data):
    X, y = series_data
    model = AttentionTimeSeriesRegressor(**TINY, random_state=0)
    for _ in range(3):
        model.partial_fit(X, y)
    line = _line(plot_history(model).axes[0], "train")
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])


# ----------------------------------------------------------------- displays
def test_attention_display_text_holds_what_it_drew(clf):
    docs = ["good film", "an awful , bad movie"]
    display = AttentionDisplay.from_estimator(clf, docs)
    attention = clf.attention_weights(docs)

    assert display.kind == "text"
    assert display.tokens == [tokens for tokens, _ in attention]
    for got, (_, expected) in zip(display.weights, attention, strict=True):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(display.predictions, clf.predict(docs))
    assert isinstance(display.figure_, Figure)
    assert display.axes_ == display.figure_.axes[:2]
    assert display.ax_ is display.axes_[0]
    assert display.colorbar_.ax is display.figure_.axes[-1]
    # plot draws the same values again, into a given ax.
    one = AttentionDisplay(
        kind="text", tokens=display.tokens[:1], weights=display.weights[:1]
    )
    _, ax = plt.subplots()
    assert one.plot(ax=ax).ax_ is ax
    assert [text.get_text() for text in ax.texts] == display.tokens[0]


def test_text_colour_is_relative_to_the_uniform_weight():
    # A two-token document with uniform weights is drawn pale, however large
    # its weights are; in a long document, a token at 5x uniform is dark.
    short = AttentionDisplay(
        kind="text", tokens=[["great", "film"]], weights=[np.array([0.5, 0.5])]
    ).plot()
    lightest = plt.get_cmap("Reds")(0.0)
    for text in short.ax_.texts:
        np.testing.assert_allclose(text.get_bbox_patch().get_facecolor(), lightest)
    weights = np.full(20, 0.75 / 19)
    weights[3] = 0.25  # 5x the uniform 1/20
    long = AttentionDisplay(
        kind="text", tokens=[[f"w{i}" for i in range(20)]], weights=[weights]
    ).plot()
    red, green, blue, _ = long.ax_.texts[3].get_bbox_patch().get_facecolor()
    assert 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
    assert long.ax_.texts[3].get_color() == "white"
    np.testing.assert_allclose(
        long.ax_.texts[0].get_bbox_patch().get_facecolor(), lightest
    )


def test_series_seasonal_lags_are_marked(reg, series_data):
    X, _ = series_data
    display = AttentionDisplay.from_estimator(
        reg, X, index=None, seasonal_lags=[6, 3], show_prediction=False
    )
    window = X.shape[1]
    bars = reg.attention_weights(X).mean(axis=0)
    np.testing.assert_allclose(display.weights, bars)
    assert len(display.bars_) == window
    seasonal = display.seasonal_bars_
    # Sorted by lag: t-3, then t-6.
    assert [bar.get_x() + bar.get_width() / 2 for bar in seasonal] == [-3, -6]
    np.testing.assert_allclose(
        [bar.get_height() for bar in seasonal], bars[[window - 3, window - 6]]
    )
    assert all(bar.get_hatch() for bar in seasonal)
    notes = [text.get_text() for text in display.ax_.texts]
    assert notes == [f"{bars[window - lag] * window:.1f}x" for lag in (3, 6)]
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert "seasonal lags" in legend
    assert f"uniform (1/{window})" in legend


@pytest.mark.parametrize(
    "lags, error, match",
    [
        ([0], ValueError, "seasonal_lags holds 0"),
        ([11], ValueError, "seasonal_lags holds 11, outside the window's lags 1 to 10"),
        ([1.5], TypeError, "seasonal_lags must hold ints"),
    ],
)
def test_series_bad_seasonal_lags(reg, series_data, lags, error, match):
    X, _ = series_data
    with pytest.raises(error, match=match):
        AttentionDisplay.from_estimator(reg, X, seasonal_lags=lags)


def test_series_attention_options_are_passed_on(reg3):
    model, X = reg3
    display = AttentionDisplay.from_estimator(
        model, X, index=2, method="attention", step=1
    )
    expected = model.attention_weights(X, method="attention", step=1)[2]
    np.testing.assert_allclose(display.weights, expected)
    assert display.kind == "series"
    assert display.index == 2
    np.testing.assert_allclose(display.forecast, model.predict(X[2:3])[0])
    np.testing.assert_allclose(display.values, X[2])


class _Wrapped(ClassifierMixin, BaseEstimator):
    """Not one of the package's classes: attention_weights takes X alone."""

    def __init__(self, inner=None):
        self.inner = inner

    def fit(self, X, y):
        self.inner_ = self.inner
        return self

    def predict(self, X):
        return self.inner_.predict(X)

    def attention_weights(self, X):
        return self.inner_.attention_weights(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags


def test_what_is_drawn_follows_the_tags_not_the_class(clf):
    wrapped = _Wrapped(clf).fit(DOCS, LABELS)
    display = AttentionDisplay.from_estimator(wrapped, ["good film"])
    assert display.kind == "text"
    assert display.tokens == [clf.attention_weights(["good film"])[0][0]]


def test_history_display_holds_the_curves(clf):
    display = HistoryDisplay.from_estimator(clf)
    history = clf.history_
    epochs = history[:, "epoch"]
    for name in ("train_loss", "valid_loss", "train_score", "valid_score"):
        got_epochs, values = getattr(display, name)
        np.testing.assert_array_equal(got_epochs, epochs)
        np.testing.assert_allclose(values, history[:, name])
    assert display.has_validation
    assert (display.loss_name, display.score_name) == ("cross-entropy", "accuracy")
    assert display.n_epochs == len(history)
    assert display.ax_ is display.axes_[0] is display.figure_.axes[0]
    _, ax = plt.subplots()
    assert display.plot(ax=ax).axes_ == [ax]


def test_history_best_epoch_follows_the_early_stopping_metric():
    model = TransformerTextClassifier(
        **TINY,
        max_epochs=4,
        early_stopping=True,
        early_stopping_metric="loss",
        validation_fraction=0.25,
        n_iter_no_change=10,
        random_state=0,
    ).fit(DOCS, LABELS)
    display = HistoryDisplay.from_estimator(model)
    valid_loss = model.history_[:, "valid_loss"]
    assert display.best_epoch == model.history_[:, "epoch"][np.argmin(valid_loss)]


def test_history_display_of_a_regressor_without_validation(reg):
    display = HistoryDisplay.from_estimator(reg)
    assert not display.has_validation
    assert display.best_epoch is None
    assert display.valid_loss[0].size == 0
    assert display.score_name == "R²"
