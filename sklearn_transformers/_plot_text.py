"""Attention over documents, drawn as tokens on coloured backgrounds.

The drawing half of :class:`~sklearn_transformers.plotting.AttentionDisplay`
for text. Each token's colour shows its weight relative to the uniform weight
``1 / n_tokens`` of its document, so documents of any length share one scale:
a token at or below the uniform weight is drawn without colour, whatever the
document's length. matplotlib is imported inside the functions that draw.
"""

from numbers import Integral

import numpy as np

__all__ = ["check_max_tokens", "draw_text_attention", "relative_weights"]

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

# The colour scale runs from the uniform weight to at least twice it.
_MIN_TOP_RATIO = 2.0
COLORBAR_LABEL = "weight / uniform weight (1 / tokens)"


def check_max_tokens(max_tokens):
    """Raise TypeError / ValueError for a ``max_tokens`` that is not None or >= 1."""
    if max_tokens is None:
        return
    if not isinstance(max_tokens, Integral) or isinstance(max_tokens, bool):
        raise TypeError(f"max_tokens must be an int or None, got {max_tokens!r}.")
    if max_tokens < 1:
        raise ValueError(f"max_tokens={max_tokens} must be at least 1 (or None).")


def relative_weights(weights):
    """Each weight over its document's uniform weight: ``w * n_tokens``."""
    weights = np.asarray(weights, dtype=np.float64)
    return weights * len(weights)


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


def _draw_tokens(ax, tokens, ratios, positions, cmap, norm):
    """Draw each token as a text box coloured by its ratio; hide the axis."""
    from matplotlib.transforms import offset_copy

    ax.set_axis_off()
    line_height = _LINE_HEIGHT * _FONT_SIZE
    for token, ratio, (x, line) in zip(tokens, ratios, positions, strict=True):
        background = cmap(norm(ratio))
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


def draw_text_attention(tokens, weights, predictions, *, ax, max_tokens, cmap):
    """Draw documents' tokens coloured by attention relative to uniform.

    ``tokens`` and ``weights`` hold one entry per document, ``predictions``
    one label per document or None. With ``ax``, the one document is drawn
    in it (wrapped to its width; lines past its height are left out);
    otherwise a new figure gets one panel per document and a colorbar below.

    Returns ``(figure, panels, colorbar)``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    n_docs = len(tokens)
    if ax is not None and n_docs != 1:
        raise ValueError(
            f"ax was given but X holds {n_docs} documents; pass one document "
            "per ax, or ax=None for a figure with one panel per document."
        )
    if predictions is None:
        predictions = [None] * n_docs
    ratios = [relative_weights(w)[:max_tokens] for w in weights]
    shown = [list(t[:max_tokens]) for t in tokens]
    # One colour scale for all panels, from the uniform weight up.
    top = max((r.max() for r in ratios if len(r)), default=_MIN_TOP_RATIO)
    norm = Normalize(vmin=1.0, vmax=max(top, _MIN_TOP_RATIO), clip=True)
    cmap = plt.get_cmap(cmap)
    mappable = ScalarMappable(norm=norm, cmap=cmap)
    if ax is not None:
        colorbar = ax.figure.colorbar(
            mappable, ax=ax, fraction=0.04, pad=0.02, label=COLORBAR_LABEL
        )
        n_fit = _draw_in_ax(ax, shown[0], ratios[0], cmap, norm)
        ax.set_title(
            _text_title(0, 1, len(tokens[0]), n_fit, predictions[0]), loc="left"
        )
        return ax.figure, [ax], colorbar
    titles = [
        _text_title(i, n_docs, len(tokens[i]), len(shown[i]), predictions[i])
        for i in range(n_docs)
    ]
    figure, panels, cax = _text_figure(shown, ratios, titles, cmap, norm)
    colorbar = figure.colorbar(
        mappable, cax=cax, orientation="horizontal", label=COLORBAR_LABEL
    )
    return figure, panels, colorbar


def _draw_in_ax(ax, tokens, ratios, cmap, norm):
    """Draw the tokens that fit in ``ax``, wrapped to its width; return how many."""
    fig = ax.figure
    bbox = ax.get_window_extent()
    width, height = bbox.width * 72 / fig.dpi, bbox.height * 72 / fig.dpi
    positions, _, _ = _wrap_tokens(tokens, width)
    n_lines = max(1, int(height // (_LINE_HEIGHT * _FONT_SIZE)))
    n_fit = sum(line < n_lines for _, line in positions)
    _draw_tokens(ax, tokens[:n_fit], ratios[:n_fit], positions[:n_fit], cmap, norm)
    return n_fit


def _text_figure(shown, ratios, titles, cmap, norm):
    """A figure sized to the wrapped documents: panels, then the colorbar's axes."""
    import matplotlib.pyplot as plt

    max_width = (_TEXT_FIG_WIDTH - 2 * _MARGIN) * 72  # points
    layouts = [_wrap_tokens(tokens, max_width) for tokens in shown]
    # As wide as the widest line, title or colorbar needs, at most 9 inches.
    extent = max(
        [_COLORBAR_WIDTH * 72]
        + [extent for _, _, extent in layouts]
        + [len(title) * 0.55 * 12 for title in titles]
    )
    fig_width = min(_TEXT_FIG_WIDTH, extent / 72 + 2 * _MARGIN)
    line_height = _LINE_HEIGHT * _FONT_SIZE / 72  # inches
    heights = [n_lines * line_height for _, n_lines, _ in layouts]
    fig_height = 0.1 + sum(heights) + _TITLE_HEIGHT * len(shown) + _COLORBAR_BLOCK
    fig = plt.figure(figsize=(fig_width, fig_height))
    left = _MARGIN / fig_width
    top = fig_height - 0.1
    panels = []
    for i, (positions, _, _) in enumerate(layouts):
        top -= _TITLE_HEIGHT + heights[i]
        panel = fig.add_axes(
            (left, top / fig_height, 1 - 2 * left, heights[i] / fig_height)
        )
        _draw_tokens(panel, shown[i], ratios[i], positions, cmap, norm)
        panel.set_title(titles[i], loc="left")
        panels.append(panel)
    cax = fig.add_axes(
        (
            left,
            (_COLORBAR_BLOCK - 0.3) / fig_height,
            _COLORBAR_WIDTH / fig_width,
            0.14 / fig_height,
        ),
        label="colorbar",
    )
    return fig, panels, cax
