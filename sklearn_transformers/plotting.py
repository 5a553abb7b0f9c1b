"""Plots of what the fitted estimators learned: attention and training history.

Two displays in scikit-learn's pattern, :class:`AttentionDisplay` and
:class:`HistoryDisplay` (``Display.from_estimator(...)``, then
``.plot(ax=...)``; the computed values are attributes, the drawing is in
``figure_`` / ``ax_``), and :func:`plot_attention` / :func:`plot_history`,
thin wrappers that return the figure or axes.

matplotlib is an optional dependency (``pip install 'sklearn-transformers[plot]'``),
imported inside the functions that draw, never when this module is imported.
The displays read only tags, fitted attributes and public methods of the
estimators (``attention_weights``, ``predict``, ``history_``). The displays
live in ``_plot_attention`` and ``_plot_history``, the drawing of text and
series in ``_plot_text`` and ``_plot_series``.
"""

from ._plot_attention import AttentionDisplay
from ._plot_common import import_pyplot
from ._plot_history import HistoryDisplay

__all__ = ["AttentionDisplay", "HistoryDisplay", "plot_attention", "plot_history"]


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
    seasonal_lags=None,
):
    """Plot the attention a fitted estimator pays to its input.

    A thin wrapper of :meth:`AttentionDisplay.from_estimator` (see there for
    what is drawn and for the parameters), returning the figure or axes.

    Returns
    -------
    plot : matplotlib Axes or Figure
        Text: the Axes of the one document, or the Figure when ``X`` holds
        several documents (one Axes per document, then the colorbar's).
        Series: the Figure (``fig.axes`` is the value axes, one per feature,
        then the attention bars), or ``ax`` when it was given.

    See Also
    --------
    AttentionDisplay : The display behind this function.
    plot_history : Loss and score per training epoch.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from sklearn_transformers import TransformerTextClassifier
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
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """
    import_pyplot("plot_attention")
    display = AttentionDisplay.from_estimator(
        estimator,
        X,
        index=index,
        show_prediction=show_prediction,
        feature_names=feature_names,
        ax=ax,
        max_tokens=max_tokens,
        cmap=cmap,
        seasonal_lags=seasonal_lags,
    )
    if ax is not None:
        return ax
    if display.kind == "text" and len(display.axes_) == 1:
        return display.ax_
    return display.figure_


def plot_history(estimator, *, ax=None):
    """Plot loss and score per training epoch from ``estimator.history_``.

    A thin wrapper of :meth:`HistoryDisplay.from_estimator` (see
    :class:`HistoryDisplay` for what is drawn), returning the figure or axes.

    Returns
    -------
    plot : matplotlib Figure or Axes
        The Figure (``fig.axes`` is ``[loss, score]``) when ``ax`` is None,
        else ``ax``.

    See Also
    --------
    HistoryDisplay : The display behind this function.
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
    import_pyplot("plot_history")
    display = HistoryDisplay.from_estimator(estimator, ax=ax)
    return ax if ax is not None else display.figure_
