"""Attention over the time steps of a window, drawn as bars under the window.

The drawing half of :class:`~sklearn_transformers.plotting.AttentionDisplay`
for series. The bars carry a dashed line at the uniform weight ``1 / window``
and can mark the seasonal lags; each feature of a multivariate window gets
its own axes, so a feature in large units does not flatten the others.
matplotlib is imported inside the functions that draw.
"""

from numbers import Integral

import numpy as np

__all__ = ["check_seasonal_lags", "draw_series_attention", "select_windows"]


def select_windows(weights, windows, index):
    """The bars and values to draw: window ``index``, or the mean over all.

    ``weights`` is ``(n_windows, window)``, ``windows`` ``(n_windows, window,
    n_features)``. Returns ``(bars, values, spread, index)`` with ``spread``
    the standard deviation of the values for the mean (else None) and
    ``index`` made non-negative (None for the mean).
    """
    n_windows = len(weights)
    if index is None:
        return weights.mean(axis=0), windows.mean(axis=0), windows.std(axis=0), None
    if not isinstance(index, Integral) or isinstance(index, bool):
        raise TypeError(f"index must be an int or None, got {index!r}.")
    if not -n_windows <= index < n_windows:
        raise ValueError(
            f"index={index} is out of range for X with {n_windows} window(s)."
        )
    index = int(index) % n_windows
    return weights[index], windows[index], None, index


def check_seasonal_lags(seasonal_lags, window):
    """``seasonal_lags`` as a sorted tuple of ints in ``[1, window]``."""
    if seasonal_lags is None:
        return ()
    if isinstance(seasonal_lags, Integral):
        seasonal_lags = (seasonal_lags,)
    lags = tuple(seasonal_lags)
    for lag in lags:
        if not isinstance(lag, Integral) or isinstance(lag, bool):
            raise TypeError(f"seasonal_lags must hold ints, got {lag!r}.")
        if not 1 <= lag <= window:
            raise ValueError(
                f"seasonal_lags holds {lag}, outside the window's lags 1 to "
                f"{window} (lag L is L steps before the first forecast step)."
            )
    return tuple(sorted(set(int(lag) for lag in lags)))


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


def draw_bars(ax, bars, *, cmap, seasonal_lags, title):
    """Attention bars with the uniform line and the seasonal lags marked.

    Returns ``(bar container, seasonal bar container or None)``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    window = len(bars)
    lags = np.arange(-window, 0)
    colour = plt.get_cmap(cmap)(0.65)
    container = ax.bar(lags, bars, width=0.8, color=colour, label="weight")
    uniform = 1 / window
    ax.axhline(
        uniform, linestyle="--", color="0.3", linewidth=1, label=f"uniform (1/{window})"
    )
    seasonal = None
    if seasonal_lags:
        at = np.array(seasonal_lags)
        seasonal = ax.bar(
            -at,
            bars[window - at],
            width=0.8,
            fill=False,
            hatch="///",
            edgecolor="black",
            linewidth=1.2,
            label="seasonal lag" + ("s" if len(at) > 1 else ""),
        )
        for lag in at:
            ax.annotate(
                f"{bars[window - lag] / uniform:.1f}x",
                xy=(-lag, bars[window - lag]),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize="small",
            )
    ax.set_ylim(bottom=0)
    ax.margins(y=0.12)
    ax.set_ylabel("weight (attention_weights; sums to 1)")
    ax.set_xlabel("time step (t: the first forecast step)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(_time_formatter))
    _legend_above(ax)
    ax.set_title(title, loc="left")
    return container, seasonal


def draw_values(axes, values, *, spread, forecast, feature_names, title):
    """The window (or the mean window with a band) on one axes per feature.

    A forecast is drawn after the values when the window has one feature.
    """
    window = len(values)
    lags = np.arange(-window, 0)
    for j, (ax, name) in enumerate(zip(axes, feature_names, strict=True)):
        (line,) = ax.plot(lags, values[:, j], marker="o", markersize=3, label=name)
        if spread is not None:
            ax.fill_between(
                lags,
                values[:, j] - spread[:, j],
                values[:, j] + spread[:, j],
                color=line.get_color(),
                alpha=0.2,
            )
        ax.set_ylabel(name if len(axes) > 1 else "value")
        ax.grid(alpha=0.3)
    if forecast is not None and len(axes) == 1:
        # The forecast continues the series: dotted from its last value.
        axes[0].plot(
            np.arange(-1, forecast.size),
            np.r_[values[-1, 0], forecast],
            linestyle=":",
            marker="*",
            markersize=10,
            markevery=range(1, forecast.size + 1),
            color="C3",
            label="forecast",
        )
    for ax in axes:
        _legend_above(ax)
    axes[0].set_title(title, loc="left")


def series_figure(n_features):
    """A figure of one value axes per feature above the attention axes."""
    import matplotlib.pyplot as plt

    heights = (3, 2) if n_features == 1 else (*[1.6] * n_features, 2)
    figure, axes = plt.subplots(
        n_features + 1,
        1,
        sharex=True,
        figsize=(8, 1.5 + sum(heights)),
        height_ratios=heights,
        layout="constrained",
    )
    return figure, list(axes)


def draw_series_attention(display, *, ax, cmap, seasonal_lags):
    """Draw ``display``'s window and bars.

    With ``ax`` only the bars are drawn, in it. Returns ``(figure, axes,
    bar_ax, (bars, seasonal_bars))``.
    """
    lags = check_seasonal_lags(seasonal_lags, len(display.weights))
    if display.index is None:
        what = f"mean over {display.n_windows} windows"
    else:
        what = f"window {display.index}"
    bar_title = f"Attention: {what}"
    if ax is not None:
        bars = draw_bars(
            ax, display.weights, cmap=cmap, seasonal_lags=lags, title=bar_title
        )
        return ax.figure, [ax], ax, bars
    figure, axes = series_figure(display.values.shape[1])
    bars = draw_bars(
        axes[-1], display.weights, cmap=cmap, seasonal_lags=lags, title=bar_title
    )
    if display.index is None:
        title = f"Mean of {display.n_windows} windows (band: 1 std)"
    else:
        title = f"Window {display.index}"
        if display.forecast is not None:
            forecast = display.forecast
            shown = ", ".join(f"{v:.4g}" for v in forecast[:3])
            title += f" | forecast: {shown}{', ...' if forecast.size > 3 else ''}"
    draw_values(
        axes[:-1],
        display.values,
        spread=display.spread,
        forecast=display.forecast,
        feature_names=display.feature_names,
        title=title,
    )
    figure.align_ylabels()
    return figure, axes, axes[-1], bars
