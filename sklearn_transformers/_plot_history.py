"""HistoryDisplay: loss and score per epoch, from an estimator's ``history_``.

A fit without held-out data has training curves only, which cannot show
overfitting; the figure says so. matplotlib is imported inside the functions
that draw.
"""

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

from ._plot_common import import_pyplot, unsupported

__all__ = ["HistoryDisplay"]

NO_VALIDATION_NOTE = (
    "Training curves only: no data was held out, so overfitting cannot show "
    "(early_stopping=True holds out validation_fraction and adds its curves)."
)
NO_VALIDATION_TITLE = "training only: no held-out data"


def curve(history, key):
    """Epochs and values of ``key`` in the rows of ``history`` that hold it.

    Returns ``(epochs, values)``, both empty when no row holds ``key``.
    """
    rows = [row for row in history if key in row]
    return (
        np.array([row["epoch"] for row in rows], dtype=int),
        np.array([row[key] for row in rows], dtype=np.float64),
    )


def _draw_panel(panel, display, kind, ylabel):
    """Train and validation curves of ``kind`` ("loss" or "score") in ``panel``."""
    from matplotlib.ticker import MaxNLocator

    for prefix, label, marker in (
        ("train", "train", "o"),
        ("valid", "validation", "s"),
    ):
        epochs, values = getattr(display, f"{prefix}_{kind}")
        if epochs.size:
            panel.plot(epochs, values, marker=marker, markersize=3, label=label)
    best = display.best_epoch
    if best is not None:
        panel.axvline(best, linestyle=":", color="0.3", label=f"best epoch ({best})")
    panel.set_xlabel("epoch")
    panel.set_ylabel(ylabel)
    panel.xaxis.set_major_locator(MaxNLocator(integer=True))
    panel.grid(alpha=0.3)
    panel.legend(fontsize="small")


def draw_history(display, *, ax):
    """Draw the losses (in ``ax`` if given), else a loss and a score panel.

    Returns ``(figure, axes)``.
    """
    import matplotlib.pyplot as plt

    loss_label = f"loss ({display.loss_name})"
    if ax is not None:
        _draw_panel(ax, display, "loss", loss_label)
        title = "Loss"
        if not display.has_validation:
            title += f"\n({NO_VALIDATION_TITLE})"
        ax.set_title(title, loc="left")
        return ax.figure, [ax]
    figure, (loss_ax, score_ax) = plt.subplots(
        1, 2, sharex=True, figsize=(10, 4), layout="constrained"
    )
    _draw_panel(loss_ax, display, "loss", loss_label)
    loss_ax.set_title("Loss", loc="left")
    _draw_panel(score_ax, display, "score", display.score_name)
    score = display.score_name
    score_ax.set_title(score[0].upper() + score[1:], loc="left")
    n_epochs = display.n_epochs
    if n_epochs is None:
        n_epochs = max(len(display.train_loss[0]), len(display.valid_loss[0]))
    figure.suptitle(f"{display.estimator_name}: {n_epochs} epochs")
    if not display.has_validation:
        figure.supxlabel(NO_VALIDATION_NOTE, fontsize="small", color="0.3")
    return figure, [loss_ax, score_ax]


class HistoryDisplay:
    """Loss and score per training epoch, from an estimator's ``history_``.

    Draws ``train_loss`` and, when the fit held out data for early stopping,
    ``valid_loss``; beside them ``train_score`` and ``valid_score`` (accuracy
    for a classifier, R^2 for a regressor). A dotted line marks the best
    epoch, whose weights early stopping restored. Without held-out data the
    figure says that only training curves exist, so overfitting cannot show.
    Epochs count as in ``history_``: cumulative over ``warm_start`` fits and
    ``partial_fit``. Training scores are measured on the training batches
    while the model learns (with dropout), so they can trail the validation
    scores.

    Parameters
    ----------
    train_loss, valid_loss, train_score, valid_score : tuple of ndarray
        ``(epochs, values)`` of each curve; empty arrays for a curve that
        was not recorded.
    loss_name : str
        The loss, for the axis label (e.g. "cross-entropy").
    score_name : str
        The score, for the axis label (e.g. "accuracy").
    best_epoch : int or None, default=None
        The epoch to mark as the best.
    estimator_name : str, default="estimator"
        Shown in the figure's title.
    n_epochs : int, default=None
        Epochs in the history (None: the longest curve's).

    Attributes
    ----------
    figure_ : matplotlib Figure
    ax_ : matplotlib Axes
        The loss panel.
    axes_ : list of matplotlib Axes
        ``[loss, score]``, or ``[ax]`` when ``ax`` was given.

    See Also
    --------
    AttentionDisplay : Attention weights of a fitted estimator.
    plot_history : The same plot as a function.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from sklearn_transformers import TransformerTextClassifier
    >>> from sklearn_transformers.plotting import HistoryDisplay
    >>> X = ["good movie", "great film", "bad movie", "awful film"] * 8
    >>> y = ["pos", "pos", "neg", "neg"] * 8
    >>> clf = TransformerTextClassifier(embed_dim=8, num_heads=2, num_layers=1,
    ...                                 ff_dim=16, max_epochs=3, early_stopping=True,
    ...                                 validation_fraction=0.25, random_state=0)
    >>> display = HistoryDisplay.from_estimator(clf.fit(X, y))
    >>> display.train_loss[0]
    array([1, 2, 3])
    >>> [line.get_label() for line in display.ax_.lines][:2]
    ['train', 'validation']
    >>> import matplotlib.pyplot as plt; plt.close("all")
    """

    def __init__(
        self,
        *,
        train_loss,
        valid_loss,
        train_score,
        valid_score,
        loss_name,
        score_name,
        best_epoch=None,
        estimator_name="estimator",
        n_epochs=None,
    ):
        self.train_loss = train_loss
        self.valid_loss = valid_loss
        self.train_score = train_score
        self.valid_score = valid_score
        self.loss_name = loss_name
        self.score_name = score_name
        self.best_epoch = best_epoch
        self.estimator_name = estimator_name
        self.n_epochs = n_epochs

    @property
    def has_validation(self):
        """Whether any epoch recorded a validation loss."""
        return bool(len(self.valid_loss[0]))

    def plot(self, ax=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            None creates a figure with two panels, loss and score; with
            ``ax`` only the losses are drawn, in it.

        Returns
        -------
        display : HistoryDisplay
            This display, with ``figure_``, ``ax_`` and ``axes_`` set.
        """
        import_pyplot("HistoryDisplay.plot")
        self.figure_, self.axes_ = draw_history(self, ax=ax)
        self.ax_ = self.axes_[0]
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Read ``estimator.history_`` and draw it.

        Parameters
        ----------
        estimator : TransformerTextClassifier or AttentionTimeSeriesRegressor
            A fitted estimator with a ``history_``.
        ax : matplotlib Axes, default=None
            As in :meth:`plot`.

        Returns
        -------
        display : HistoryDisplay
            The display, drawn.

        Raises
        ------
        TypeError
            If ``estimator`` is not an estimator that records ``history_``.
        sklearn.exceptions.NotFittedError
            If ``estimator`` is not fitted.
        ImportError
            If matplotlib is not installed.
        """
        import_pyplot("HistoryDisplay.from_estimator")
        if not hasattr(estimator, "fit"):
            raise unsupported(estimator, "plot_history", "a history_")
        check_is_fitted(estimator)
        if not hasattr(estimator, "history_"):
            raise unsupported(estimator, "plot_history", "a history_")
        history = estimator.history_
        curves = {
            f"{prefix}_{kind}": curve(history, f"{prefix}_{kind}")
            for prefix in ("train", "valid")
            for kind in ("loss", "score")
        }
        display = cls(
            **curves,
            **_loss_and_score_names(estimator),
            best_epoch=_best_epoch(estimator, curves),
            estimator_name=type(estimator).__name__,
            n_epochs=len(history),
        )
        return display.plot(ax=ax)


def _loss_and_score_names(estimator):
    """Axis labels of the loss and the score, from tags and fitted attributes."""
    if is_classifier(estimator):
        return {"loss_name": "cross-entropy", "score_name": "accuracy"}
    if getattr(estimator, "quantiles_", None) is not None:
        loss = "pinball"
    else:
        loss = "MSE"
    if getattr(estimator, "standardize", False):
        loss += ", standardised y"
    return {"loss_name": loss, "score_name": "R²"}


def _best_epoch(estimator, curves):
    """The epoch early stopping restored: best validation score (or loss)."""
    if getattr(estimator, "early_stopping_metric", "loss") == "score":
        epochs, values = curves["valid_score"]
        return int(epochs[np.argmax(values)]) if epochs.size else None
    epochs, values = curves["valid_loss"]
    return int(epochs[np.argmin(values)]) if epochs.size else None
