"""AttentionDisplay: the attention of a fitted estimator, drawn over its input.

It reads the estimator's tags (string input means text) and public methods
(``attention_weights``, ``predict``); the drawing is in :mod:`._plot_text`
and :mod:`._plot_series`.
"""

import numpy as np
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from ._plot_common import import_pyplot, unsupported
from ._plot_series import draw_series_attention, select_windows
from ._plot_text import check_max_tokens, draw_text_attention

__all__ = ["AttentionDisplay"]


class AttentionDisplay:
    """Attention weights of a fitted estimator, drawn over its input.

    Text (an estimator whose tags declare string input): each document's kept
    tokens on backgrounds coloured by their weight relative to the uniform
    weight ``1 / n_tokens`` of that document, so a short document is not
    dark just because its few weights are large; lines wrap, one panel per
    document, with a colorbar. Series: the window (one axes per feature)
    above bars of the weight of each time step, with a dashed line at the
    uniform weight ``1 / window`` and, if asked, the seasonal lags marked.

    Build it with :meth:`from_estimator`; the constructor takes values
    already computed.

    Parameters
    ----------
    kind : {"text", "series"}
        What ``weights`` describe.
    weights : list of ndarray, or ndarray of shape (window,)
        Text: one array per document (from ``attention_weights``). Series:
        the weight of each time step, oldest first.
    tokens : list of list of str, default=None
        Text: the tokens of each document.
    predictions : array-like of shape (n_documents,), default=None
        Text: the predicted label of each document, shown in its title.
    values : ndarray of shape (window, n_features), default=None
        Series: the window drawn above the bars (or the mean window).
    spread : ndarray of shape (window, n_features), default=None
        Series: one standard deviation around a mean window, drawn as a band.
    forecast : ndarray of shape (horizon,), default=None
        Series: the forecast of the window, shown in the title.
    index : int or None, default=None
        Series: which window of ``X`` is drawn; None for the mean.
    n_windows : int, default=1
        Series: how many windows ``X`` held.
    feature_names : list of str, default=None
        Series: names of the window's features.

    Attributes
    ----------
    figure_ : matplotlib Figure
        The figure drawn in.
    ax_ : matplotlib Axes
        The attention: the first document's token panel, or the bars.
    axes_ : list of matplotlib Axes
        Every panel drawn: one per document (text); one per feature, then the
        bars (series); ``[ax]`` when ``ax`` was given.
    colorbar_ : matplotlib Colorbar or None
        Text: the colour scale, from the uniform weight (1) up.
    bars_ : matplotlib BarContainer or None
        Series: one bar per time step.
    seasonal_bars_ : matplotlib BarContainer or None
        Series: the hatched outlines marking ``seasonal_lags``.

    See Also
    --------
    HistoryDisplay : Loss and score per training epoch.
    plot_attention : The same plot as a function.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_transformers import AttentionTimeSeriesRegressor, make_windows
    >>> from sklearn_transformers.plotting import AttentionDisplay
    >>> X, y = make_windows(np.sin(np.arange(120) * np.pi / 6), window=24)
    >>> reg = AttentionTimeSeriesRegressor(embed_dim=8, num_heads=2, num_layers=1,
    ...                                    ff_dim=16, max_epochs=2, random_state=0)
    >>> display = AttentionDisplay.from_estimator(reg.fit(X, y), X, index=None,
    ...                                           seasonal_lags=[12, 24])
    >>> display.weights.shape, len(display.bars_)
    ((24,), 24)
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """

    def __init__(
        self,
        *,
        kind,
        weights,
        tokens=None,
        predictions=None,
        values=None,
        spread=None,
        forecast=None,
        index=None,
        n_windows=1,
        feature_names=None,
    ):
        self.kind = kind
        self.weights = weights
        self.tokens = tokens
        self.predictions = predictions
        self.values = values
        self.spread = spread
        self.forecast = forecast
        self.index = index
        self.n_windows = n_windows
        self.feature_names = feature_names

    def plot(self, ax=None, *, max_tokens=60, cmap="Reds", seasonal_lags=None):
        """Draw the attention.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None creates a figure. Text: only for one
            document (a ``ValueError`` otherwise); the tokens are wrapped to
            its width, lines past its height are left out (the title says how
            many tokens are drawn), and a colorbar goes beside it. Series:
            only the bars are drawn in ``ax``.
        max_tokens : int or None, default=60
            Text: draw at most the first ``max_tokens`` tokens of each
            document (the title says so when there are more); None draws all.
        cmap : str or matplotlib Colormap, default="Reds"
            Colours of the token backgrounds (text); the bars take its
            colour at 0.65.
        seasonal_lags : int or sequence of int, default=None
            Series: lags to mark, e.g. ``[12]`` for monthly data, ``[48, 336]``
            for half-hourly data (lag ``L`` is ``L`` steps before the first
            forecast step); each gets a hatched outline and its weight over
            the uniform weight. Each must be between 1 and the window length.

        Returns
        -------
        display : AttentionDisplay
            This display, with ``figure_``, ``ax_`` and ``axes_`` set.
        """
        import_pyplot("AttentionDisplay.plot")
        self.colorbar_ = self.bars_ = self.seasonal_bars_ = None
        if self.kind == "text":
            check_max_tokens(max_tokens)
            self.figure_, self.axes_, self.colorbar_ = draw_text_attention(
                self.tokens,
                self.weights,
                self.predictions,
                ax=ax,
                max_tokens=max_tokens,
                cmap=cmap,
            )
            self.ax_ = self.axes_[0]
            return self
        self.figure_, self.axes_, self.ax_, bars = draw_series_attention(
            self, ax=ax, cmap=cmap, seasonal_lags=seasonal_lags
        )
        self.bars_, self.seasonal_bars_ = bars
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        *,
        index=0,
        show_prediction=True,
        feature_names=None,
        method=None,
        step=None,
        ax=None,
        max_tokens=60,
        cmap="Reds",
        seasonal_lags=None,
    ):
        """Compute the attention of a fitted estimator on ``X`` and draw it.

        Parameters
        ----------
        estimator : TransformerTextClassifier or AttentionTimeSeriesRegressor
            A fitted estimator with an ``attention_weights`` method.
        X : array-like of str of shape (n_samples,), or array-like of shape \
(n_samples, window) or (n_samples, window, n_features)
            Documents, or windows, as the estimator's ``predict`` takes them.
        index : int or None, default=0
            Series only (for text ``X`` selects the documents): which window
            of ``X`` to draw; None draws the mean attention over all windows
            and the mean window with a band of one standard deviation.
        show_prediction : bool, default=True
            Call ``estimator.predict`` and show the predicted label (text) or
            forecast (series, with ``index`` given) in the title; a 2-D
            series window also gets its forecast drawn after it.
        feature_names : list of str, default=None
            Series only: names of the window's features. None uses "series"
            for 2-D ``X`` and "feature 0", "feature 1", ... for 3-D ``X``.
        method, step : optional
            Passed to ``estimator.attention_weights`` when given (e.g. the
            regressor's ``method="attention"`` for the raw attention, or the
            horizon ``step``); left out otherwise.
        ax, max_tokens, cmap, seasonal_lags
            As in :meth:`plot`.

        Returns
        -------
        display : AttentionDisplay
            The display, drawn.

        Raises
        ------
        TypeError
            If ``estimator`` has no ``attention_weights``.
        sklearn.exceptions.NotFittedError
            If ``estimator`` is not fitted.
        ImportError
            If matplotlib is not installed.
        ValueError
            For ``ax`` with several documents, an ``index`` out of range,
            ``feature_names`` of the wrong length, or a seasonal lag outside
            the window.
        """
        import_pyplot("AttentionDisplay.from_estimator")
        if not callable(getattr(estimator, "attention_weights", None)):
            raise unsupported(estimator, "plot_attention", "attention_weights")
        check_is_fitted(estimator)
        options = {
            name: value
            for name, value in (("method", method), ("step", step))
            if value is not None
        }
        attention = estimator.attention_weights(X, **options)  # validates X
        if get_tags(estimator).input_tags.string:
            display = cls(
                kind="text",
                tokens=[tokens for tokens, _ in attention],
                weights=[weights for _, weights in attention],
                predictions=estimator.predict(X) if show_prediction else None,
            )
        else:
            display = cls._series(
                estimator, X, attention, index, show_prediction, feature_names
            )
        return display.plot(
            ax=ax, max_tokens=max_tokens, cmap=cmap, seasonal_lags=seasonal_lags
        )

    @classmethod
    def _series(cls, estimator, X, weights, index, show_prediction, feature_names):
        """The display of series windows ``X`` with attention ``weights``."""
        windows = np.asarray(X, dtype=np.float64)
        values = windows if windows.ndim == 3 else windows[:, :, None]
        n_features = values.shape[2]
        if feature_names is None:
            feature_names = (
                ["series"]
                if windows.ndim == 2
                else [f"feature {j}" for j in range(n_features)]
            )
        elif len(feature_names) != n_features:
            raise ValueError(
                f"feature_names has {len(feature_names)} name(s), but the windows "
                f"of X have {n_features} feature(s)."
            )
        bars, shown, spread, index = select_windows(weights, values, index)
        forecast = None
        if show_prediction and index is not None:
            forecast = np.ravel(estimator.predict(windows[index : index + 1]))
        return cls(
            kind="series",
            weights=bars,
            values=shown,
            spread=spread,
            forecast=forecast,
            index=index,
            n_windows=len(weights),
            feature_names=list(feature_names),
        )
