"""Plots of what the fitted estimators learned: attention and training history.

matplotlib is an optional dependency (``pip install 'sklearn-transformers[plot]'``),
imported inside the functions that draw, never when this module is imported.
The functions read only fitted attributes and public methods of the
estimators (``attention_weights``, ``predict``, ``history_``, ``classes_``).
"""

from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .text import TransformerTextClassifier
from .timeseries import AttentionTimeSeriesRegressor

__all__ = ["plot_attention", "plot_history"]

_SUPPORTED = (TransformerTextClassifier, AttentionTimeSeriesRegressor)

# Token layout, in units of the font size (em). Tokens are drawn in a
# monospace font, so their widths are known before anything is rendered and
# lines can be wrapped (and figures sized) without a renderer.
_FONT_SIZE = 11.0  # points
_CHAR_WIDTH = 0.6  # advance of one monospace character
_BOX_PAD = 0.25  # padding of a token's background box
_GAP = 0.35  # space between two token boxes
_LINE_HEIGHT = 2.0  # baseline-to-baseline distance of wrapped lines

# Text figure geometry, in inches.
_TEXT_FIG_WIDTH = 9.0
_MARGIN = 0.25
_TITLE_HEIGHT = 0.45
_COLORBAR_BLOCK = 0.9
_COLORBAR_WIDTH = 3.5


def _import_pyplot(caller):
    """Import pyplot, or raise an ImportError that names the ``plot`` extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib: pip install 'sklearn-transformers[plot]'"
        ) from exc
    return plt


def _check_estimator(estimator, caller):
    """Raise TypeError for an unsupported estimator, NotFittedError if unfitted."""
    if not isinstance(estimator, _SUPPORTED):
        raise TypeError(
            f"{caller} supports TransformerTextClassifier and "
            f"AttentionTimeSeriesRegressor, got {type(estimator).__name__}. "
            "Pass the fitted estimator itself (e.g. pipeline[-1] or "
            "search.best_estimator_)."
        )
    check_is_fitted(estimator)


# --------------------------------------------------------------- attention
def plot_attention(
    estimator,
    X,
    *,
    ax=None,
    index=0,
    max_tokens=60,
    cmap="Reds",
    show_prediction=True,
    feature_names=None,
):
    """Plot the attention a fitted estimator pays to its input.

    For a :class:`~sklearn_transformers.TransformerTextClassifier`, every
    document of ``X`` is drawn as its kept tokens, each on a background whose
    colour shows the attention weight it received (see
    :meth:`~sklearn_transformers.TransformerTextClassifier.attention_weights`);
    lines wrap, one panel per document, with a colorbar for the weight scale.
    The colour scale, shared by all panels, runs from 0 to the largest weight
    drawn; as each document's weights sum to 1, long documents look paler.

    For an :class:`~sklearn_transformers.AttentionTimeSeriesRegressor`, one
    window of ``X`` (or the mean over all windows) is drawn as two panels
    sharing the time axis: the window's values above, and the attention
    weight of each time step as bars below, with a dashed line at the uniform
    weight ``1 / window``.

    Parameters
    ----------
    estimator : TransformerTextClassifier or AttentionTimeSeriesRegressor
        A fitted estimator.
    X : array-like of str of shape (n_samples,), or array-like of shape \
(n_samples, window) or (n_samples, window, n_features)
        Documents for the classifier, windows for the regressor, as their
        ``predict`` takes them.
    ax : matplotlib Axes, default=None
        Where to draw. None creates a figure. Text: only allowed when ``X``
        holds one document (a ``ValueError`` otherwise); the tokens and a
        colorbar are drawn in (and beside) ``ax``, wrapped to its width;
        lines that do not fit its height are left out (the title says how
        many tokens are drawn).
        Series: only the attention bars are drawn in ``ax``.
    index : int or None, default=0
        Series only (ignored for text, where ``X`` itself selects the
        documents): which window of ``X`` to draw. None draws the mean
        attention over all windows of ``X``, above it the mean window with a
        band of one standard deviation.
    max_tokens : int or None, default=60
        Text only: draw at most the first ``max_tokens`` tokens of each
        document (the panel title says so when a document has more). None
        draws all kept tokens.
    cmap : str or matplotlib Colormap, default="Reds"
        Colormap of the token backgrounds (text); the bars (series) take its
        colour at 0.65.
    show_prediction : bool, default=True
        Put the predicted label (text) or forecast (series, with ``index``
        given) in the panel title, calling ``estimator.predict``. For 2-D
        series windows the forecast is also drawn after the window.
    feature_names : list of str, default=None
        Series only: legend names of the window's features (one name per
        feature of ``X``). None uses "series" for 2-D ``X`` and
        "feature 0", "feature 1", ... for 3-D ``X``.

    Returns
    -------
    plot : matplotlib Axes or Figure
        Text: the Axes of the one document, or the Figure when ``X`` holds
        several documents (one Axes per document, then the colorbar's).
        Series: the Figure of the two panels (``fig.axes`` is ``[values,
        attention]``), or ``ax`` when it was given.

    Raises
    ------
    TypeError
        If ``estimator`` is not one of the package's estimators.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ImportError
        If matplotlib is not installed.
    ValueError
        For ``ax`` with several documents, an ``index`` out of range, or
        ``feature_names`` of the wrong length.

    See Also
    --------
    plot_history : Loss and score per training epoch.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_transformers import (
    ...     AttentionTimeSeriesRegressor, TransformerTextClassifier, make_windows)
    >>> from sklearn_transformers.plotting import plot_attention
    >>> X = ["good movie", "great film", "bad movie", "awful film"] * 8
    >>> y = ["pos", "pos", "neg", "neg"] * 8
    >>> clf = TransformerTextClassifier(embed_dim=8, num_heads=2, num_layers=1,
    ...                                 ff_dim=16, max_epochs=2, random_state=0)
    >>> ax = plot_attention(clf.fit(X, y), ["a great movie"])
    >>> [text.get_text() for text in ax.texts]
    ['[UNK]', 'great', 'movie']
    >>> fig = plot_attention(clf, ["great film", "bad movie"])
    >>> len(fig.axes)  # one panel per document, then the colorbar
    3
    >>> X, y = make_windows(np.sin(np.arange(120) / 2), window=12)
    >>> reg = AttentionTimeSeriesRegressor(embed_dim=8, num_heads=2, num_layers=1,
    ...                                    ff_dim=16, max_epochs=2, random_state=0)
    >>> fig = plot_attention(reg.fit(X, y), X, index=-1)
    >>> values_ax, attention_ax = fig.axes
    >>> len(attention_ax.patches)  # one bar per time step
    12
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    _check_estimator(estimator, "plot_attention")
    plt = _import_pyplot("plot_attention")
    if isinstance(estimator, TransformerTextClassifier):
        return _plot_text_attention(
            plt,
            estimator,
            X,
            ax=ax,
            max_tokens=max_tokens,
            cmap=cmap,
            show_prediction=show_prediction,
        )
    return _plot_series_attention(
        plt,
        estimator,
        X,
        ax=ax,
        index=index,
        cmap=cmap,
        show_prediction=show_prediction,
        feature_names=feature_names,
    )


def _wrap_tokens(tokens, width):
    """Lay token boxes out in lines of at most ``width`` points.

    Returns the ``(x, line)`` of each box's left edge (x in points), the
    number of lines (at least 1) and the right end of the widest line.
    """
    positions, x, line, extent = [], 0.0, 0, 0.0
    for token in tokens:
        box = (len(token) * _CHAR_WIDTH + 2 * _BOX_PAD) * _FONT_SIZE
        if x > 0 and x + box > width:
            x, line = 0.0, line + 1
        positions.append((x, line))
        extent = max(extent, x + box)
        x += box + _GAP * _FONT_SIZE
    return positions, line + 1, extent


def _draw_tokens(ax, tokens, weights, positions, cmap, norm):
    """Draw each token as a text box coloured by its weight; hide the axis."""
    from matplotlib.transforms import offset_copy

    ax.set_axis_off()
    line_height = _LINE_HEIGHT * _FONT_SIZE
    for token, weight, (x, line) in zip(tokens, weights, positions, strict=True):
        background = cmap(norm(weight))
        red, green, blue, _ = background
        dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
        ax.text(
            0,
            1,
            token,
            transform=offset_copy(
                ax.transAxes,
                fig=ax.figure,
                x=x + _BOX_PAD * _FONT_SIZE,
                y=-(line + 0.5) * line_height,
                units="points",
            ),
            ha="left",
            va="center",
            family="monospace",
            fontsize=_FONT_SIZE,
            color="white" if dark else "black",
            parse_math=False,  # a "$" in a token is a dollar sign
            bbox={
                "boxstyle": f"square,pad={_BOX_PAD}",
                "facecolor": background,
                "edgecolor": "0.8",
                "linewidth": 0.5,
            },
        )


def _text_title(i, n_docs, n_tokens, n_shown, label):
    parts = [f"document {i}" if n_docs > 1 else "document"]
    if label is not None:
        parts.append(f"predicted: {label}")
    if n_tokens == 0:
        parts.append("no tokens")
    elif n_shown < n_tokens:
        parts.append(f"first {n_shown} of {n_tokens} tokens")
    return " | ".join(parts)


def _plot_text_attention(plt, estimator, X, *, ax, max_tokens, cmap, show_prediction):
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    if max_tokens is not None and (
        not isinstance(max_tokens, Integral) or isinstance(max_tokens, bool)
    ):
        raise TypeError(f"max_tokens must be an int or None, got {max_tokens!r}.")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens={max_tokens} must be at least 1 (or None).")
    attention = estimator.attention_weights(X)
    n_docs = len(attention)
    if ax is not None and n_docs > 1:
        raise ValueError(
            f"ax was given but X holds {n_docs} documents; pass one document "
            "per ax, or ax=None for a figure with one panel per document."
        )
    labels = estimator.predict(X) if show_prediction else [None] * n_docs
    shown = [(tok[:max_tokens], w[:max_tokens]) for tok, w in attention]
    # One colour scale for all panels, from 0 to the largest weight drawn.
    vmax = max((w.max() for _, w in shown if len(w)), default=0.0)
    norm = Normalize(vmin=0.0, vmax=vmax if vmax > 0 else 1.0)
    cmap = plt.get_cmap(cmap)
    mappable = ScalarMappable(norm=norm, cmap=cmap)

    if ax is not None:
        fig = ax.figure
        fig.colorbar(mappable, ax=ax, fraction=0.04, pad=0.02, label="attention weight")
        bbox = ax.get_window_extent()
        width, height = bbox.width * 72 / fig.dpi, bbox.height * 72 / fig.dpi
        positions, _, _ = _wrap_tokens(shown[0][0], width)
        # Draw the lines that fit in ax; the title says how many tokens.
        n_lines = max(1, int(height // (_LINE_HEIGHT * _FONT_SIZE)))
        n_fit = sum(line < n_lines for _, line in positions)
        tokens, weights = shown[0][0][:n_fit], shown[0][1][:n_fit]
        _draw_tokens(ax, tokens, weights, positions[:n_fit], cmap, norm)
        title = _text_title(0, 1, len(attention[0][0]), n_fit, labels[0])
        ax.set_title(title, loc="left")
        return ax

    titles = [
        _text_title(i, n_docs, len(tokens), len(shown[i][0]), labels[i])
        for i, (tokens, _) in enumerate(attention)
    ]
    max_width = (_TEXT_FIG_WIDTH - 2 * _MARGIN) * 72  # points
    layouts = [_wrap_tokens(tokens, max_width) for tokens, _ in shown]
    # As wide as the widest line, title or colorbar needs, at most 9 inches.
    extent = max(
        [_COLORBAR_WIDTH * 72]
        + [extent for _, _, extent in layouts]
        + [len(title) * 0.55 * 12 for title in titles]
    )
    fig_width = min(_TEXT_FIG_WIDTH, extent / 72 + 2 * _MARGIN)
    line_height = _LINE_HEIGHT * _FONT_SIZE / 72  # inches
    heights = [n_lines * line_height for _, n_lines, _ in layouts]
    fig_height = 0.1 + sum(heights) + _TITLE_HEIGHT * n_docs + _COLORBAR_BLOCK
    fig = plt.figure(figsize=(fig_width, fig_height))
    left = _MARGIN / fig_width
    top = fig_height - 0.1
    axes = []
    for i, ((tokens, weights), (positions, _, _)) in enumerate(
        zip(shown, layouts, strict=True)
    ):
        top -= _TITLE_HEIGHT + heights[i]
        panel = fig.add_axes(
            (left, top / fig_height, 1 - 2 * left, heights[i] / fig_height)
        )
        _draw_tokens(panel, tokens, weights, positions, cmap, norm)
        panel.set_title(titles[i], loc="left")
        axes.append(panel)
    cax = fig.add_axes(
        (
            left,
            (_COLORBAR_BLOCK - 0.3) / fig_height,
            _COLORBAR_WIDTH / fig_width,
            0.14 / fig_height,
        ),
        label="colorbar",
    )
    fig.colorbar(mappable, cax=cax, orientation="horizontal", label="attention weight")
    return axes[0] if n_docs == 1 else fig


def _time_formatter(value, _):
    """Tick label of a time step: t-3, t-2, t-1, t, t+1."""
    step = int(round(value))
    return "t" if step == 0 else f"t{step:+d}"


def _legend_above(ax):
    """Legend in one row above the right end of ``ax``, clear of the data."""
    n_entries = len(ax.get_legend_handles_labels()[1])
    ax.legend(
        loc="lower right",
        bbox_to_anchor=(1, 1),
        ncol=min(n_entries, 4),
        fontsize="small",
        frameon=False,
        borderaxespad=0.2,
    )


def _plot_series_attention(
    plt, estimator, X, *, ax, index, cmap, show_prediction, feature_names
):
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    weights = estimator.attention_weights(X)  # validates X
    windows = np.asarray(X, dtype=np.float64)
    n_windows, window = weights.shape
    values = windows if windows.ndim == 3 else windows[:, :, None]
    n_features = values.shape[2]
    if feature_names is None:
        if windows.ndim == 2:
            feature_names = ["series"]
        else:
            feature_names = [f"feature {j}" for j in range(n_features)]
    elif len(feature_names) != n_features:
        raise ValueError(
            f"feature_names has {len(feature_names)} name(s), but the windows of "
            f"X have {n_features} feature(s)."
        )
    if index is not None:
        if not isinstance(index, Integral) or isinstance(index, bool):
            raise TypeError(f"index must be an int or None, got {index!r}.")
        if not -n_windows <= index < n_windows:
            raise ValueError(
                f"index={index} is out of range for X with {n_windows} window(s)."
            )
        index = int(index) % n_windows
        bars = weights[index]
        what = f"window {index}"
    else:
        bars = weights.mean(axis=0)
        what = f"mean over {n_windows} windows"

    lags = np.arange(-window, 0)
    bar_ax = ax
    if ax is None:
        fig, (value_ax, bar_ax) = plt.subplots(
            2,
            1,
            sharex=True,
            figsize=(8, 5.5),
            height_ratios=(3, 2),
            layout="constrained",
        )
    bar_ax.bar(lags, bars, width=0.8, color=plt.get_cmap(cmap)(0.65), label="attention")
    bar_ax.axhline(
        1 / window,
        linestyle="--",
        color="0.3",
        linewidth=1,
        label=f"uniform (1/{window})",
    )
    bar_ax.set_ylim(bottom=0)
    bar_ax.set_ylabel("attention weight")
    bar_ax.set_xlabel("time step (t: the first forecast step)")
    bar_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    bar_ax.xaxis.set_major_formatter(FuncFormatter(_time_formatter))
    _legend_above(bar_ax)
    if ax is not None:
        bar_ax.set_title(f"Attention: {what}", loc="left")
        return ax

    if index is not None:
        for j, name in enumerate(feature_names):
            value_ax.plot(
                lags, values[index, :, j], marker="o", markersize=3, label=name
            )
        title = f"Window {index}"
        if show_prediction:
            forecast = np.ravel(estimator.predict(windows[index : index + 1]))
            shown = ", ".join(f"{v:.4g}" for v in forecast[:3])
            more = ", ..." if forecast.size > 3 else ""
            title += f" | forecast: {shown}{more}"
            if windows.ndim == 2:
                # The forecast continues the series: dotted from its last value.
                value_ax.plot(
                    np.arange(-1, forecast.size),
                    np.r_[values[index, -1, 0], forecast],
                    linestyle=":",
                    marker="*",
                    markersize=10,
                    markevery=range(1, forecast.size + 1),
                    color="C3",
                    label="forecast",
                )
    else:
        mean, std = values.mean(axis=0), values.std(axis=0)
        for j, name in enumerate(feature_names):
            (line,) = value_ax.plot(
                lags, mean[:, j], marker="o", markersize=3, label=name
            )
            value_ax.fill_between(
                lags,
                mean[:, j] - std[:, j],
                mean[:, j] + std[:, j],
                color=line.get_color(),
                alpha=0.2,
            )
        title = f"Mean of {n_windows} windows (band: 1 std)"
    value_ax.set_title(title, loc="left")
    value_ax.set_ylabel("value")
    _legend_above(value_ax)
    value_ax.grid(alpha=0.3)
    bar_ax.set_title(f"Attention: {what}", loc="left")
    fig.align_ylabels()
    return fig


# ----------------------------------------------------------------- history
def _history_curve(history, key):
    """Epochs and values of ``key`` in the rows of ``history`` that hold it."""
    rows = [row for row in history if key in row]
    return (
        np.array([row["epoch"] for row in rows], dtype=int),
        np.array([row[key] for row in rows], dtype=np.float64),
    )


def plot_history(estimator, *, ax=None):
    """Plot loss and score per training epoch from ``estimator.history_``.

    Draws ``train_loss`` and, when the estimator held out data for early
    stopping, ``valid_loss``; beside them ``train_score`` and
    ``valid_score`` (accuracy for the classifier, R^2 for the regressor). A
    dotted vertical line marks the epoch of the lowest validation loss (whose
    weights ``early_stopping`` restores). Epochs are counted as in
    ``history_``: cumulative over ``warm_start`` fits and ``partial_fit``.

    Training scores are measured on the training batches while the model
    learns (with dropout), so they can trail the validation scores.

    Parameters
    ----------
    estimator : TransformerTextClassifier or AttentionTimeSeriesRegressor
        A fitted estimator.
    ax : matplotlib Axes, default=None
        None creates a figure with two panels, loss and score. With ``ax``
        given, only the losses are drawn, in ``ax``.

    Returns
    -------
    plot : matplotlib Figure or Axes
        The Figure (``fig.axes`` is ``[loss, score]``) when ``ax`` is None,
        else ``ax``.

    Raises
    ------
    TypeError
        If ``estimator`` is not one of the package's estimators.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ImportError
        If matplotlib is not installed.

    See Also
    --------
    plot_attention : Attention weights of a fitted estimator.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from sklearn_transformers import TransformerTextClassifier
    >>> from sklearn_transformers.plotting import plot_history
    >>> X = ["good movie", "great film", "bad movie", "awful film"] * 8
    >>> y = ["pos", "pos", "neg", "neg"] * 8
    >>> clf = TransformerTextClassifier(embed_dim=8, num_heads=2, num_layers=1,
    ...                                 ff_dim=16, max_epochs=3, early_stopping=True,
    ...                                 validation_fraction=0.25, random_state=0)
    >>> fig = plot_history(clf.fit(X, y))
    >>> loss_ax, score_ax = fig.axes
    >>> [line.get_label() for line in loss_ax.lines][:2]
    ['train', 'validation']
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    _check_estimator(estimator, "plot_history")
    plt = _import_pyplot("plot_history")
    from matplotlib.ticker import MaxNLocator

    history = estimator.history_
    classifier = isinstance(estimator, TransformerTextClassifier)
    if classifier:
        loss_name, score_name = "cross-entropy", "accuracy"
    else:
        standardized = getattr(estimator, "standardize", False)
        loss_name = "MSE, standardised y" if standardized else "MSE"
        score_name = "R²"

    valid_epochs, valid_loss = _history_curve(history, "valid_loss")
    best = None
    if valid_loss.size:
        best = valid_epochs[np.argmin(valid_loss)]

    def draw(panel, kind, ylabel):
        for prefix, label, style in (
            ("train", "train", {"marker": "o"}),
            ("valid", "validation", {"marker": "s"}),
        ):
            epochs, values = _history_curve(history, f"{prefix}_{kind}")
            if epochs.size:
                panel.plot(epochs, values, markersize=3, label=label, **style)
        if best is not None:
            panel.axvline(
                best, linestyle=":", color="0.3", label=f"best epoch ({best})"
            )
        panel.set_xlabel("epoch")
        panel.set_ylabel(ylabel)
        panel.xaxis.set_major_locator(MaxNLocator(integer=True))
        panel.grid(alpha=0.3)
        panel.legend(fontsize="small")

    if ax is not None:
        draw(ax, "loss", f"loss ({loss_name})")
        ax.set_title("Loss", loc="left")
        return ax

    fig, (loss_ax, score_ax) = plt.subplots(
        1, 2, sharex=True, figsize=(10, 4), layout="constrained"
    )
    draw(loss_ax, "loss", f"loss ({loss_name})")
    loss_ax.set_title("Loss", loc="left")
    draw(score_ax, "score", score_name)
    score_ax.set_title(score_name[0].upper() + score_name[1:], loc="left")
    fig.suptitle(f"{type(estimator).__name__}: {len(history)} epochs")
    return fig
