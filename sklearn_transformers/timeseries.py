"""AttentionTimeSeriesRegressor: windows of a series in, next value(s) out."""

import numpy as np
import torch
from sklearn.base import (
    ClassNamePrefixFeaturesOutMixin,
    RegressorMixin,
    TransformerMixin,
)
from sklearn.linear_model import Ridge
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import AttentionEstimatorBase
from ._callbacks import r2_score
from ._data import DenseData
from ._fixes import StrOptions, _fit_context
from ._modules import SeriesRegressorModule
from ._windows import make_windows

__all__ = ["AttentionTimeSeriesRegressor", "make_windows"]


class AttentionTimeSeriesRegressor(
    RegressorMixin,
    TransformerMixin,
    ClassNamePrefixFeaturesOutMixin,
    AttentionEstimatorBase,
):
    """Forecast the next value(s) of a series with attention over its past.

    Each row of ``X`` is a window of a series, oldest time step first. Every
    time step is projected to ``embed_dim`` dimensions, given a position
    signal and encoded by transformer blocks; the pooled state predicts the
    next ``horizon`` values. :meth:`attention_weights` shows how much each
    time step counted.

    Parameters
    ----------
    embed_dim : int, default=64
        Model width (``d_model``).
    num_heads : int, default=4
        Attention heads; ``embed_dim`` must be divisible by ``num_heads``.
    num_layers : int, default=2
        Stacked transformer blocks.
    ff_dim : int, default=128
        Hidden width of each block's feed-forward layer.
    dropout : float, default=0.1
        Dropout rate.
    max_epochs : int, default=20
        Training epochs per ``fit`` (fewer with ``early_stopping``). Training
        starts from the ridge solution (``linear_shortcut``), so few epochs
        are needed: on AirPassengers the test error stops improving after
        the first few.
    batch_size : int, default=32
        Mini-batch size.
    lr : float, default=1e-3
        Learning rate of the AdamW optimizer.
    lr_schedule : {"cosine", "constant"}, default="cosine"
        "cosine" decays the learning rate from ``lr`` towards 0 along a half
        cosine over each ``fit``'s ``max_epochs`` (batch by batch); "constant"
        keeps ``lr``. ``partial_fit`` always uses ``lr``.
    weight_decay : float, default=0.0
        AdamW weight decay.
    early_stopping : bool, default=False
        Hold out the last-drawn ``validation_fraction`` of the windows, stop
        after ``n_iter_no_change`` epochs without a lower validation loss and
        restore the best weights.
    validation_fraction : float, default=0.1
        Share of the windows held out for early stopping (drawn at random).
    n_iter_no_change : int, default=5
        Epochs without improvement before early stopping ends training.
    positional_encoding : {"sinusoidal", "learned"}, default="sinusoidal"
        Fixed sine/cosine position signal, or one trained vector per step.
    pooling : {"last", "mean"}, default="last"
        Summarise the window by the state of its most recent step, or by
        the mean over all steps.
    standardize : bool, default=True
        Standardise inputs (per feature, over all windows and steps) and
        targets (per horizon step) for training; predictions come back in
        the original units.
    linear_shortcut : bool, default=True
        Add a linear map of the whole (standardised) window to the output,
        initialised with the ridge regression (``alpha=1``) of the targets on
        the windows, so training starts from a linear autoregression and
        attention learns what it misses. Set False for a pure attention model.
    precision : {"float32", "bfloat16"}, default="float32"
        "bfloat16" runs the forward passes (training and inference) under
        ``torch.autocast`` in bfloat16, keeping the weights and the optimizer
        in float32: faster on GPUs with bfloat16 units (and less memory),
        usually slower on CPUs. bfloat16 has float32's range, so no loss
        scaling is needed (float16 would need it, and is not offered).
        Outputs are returned as float32 / float64 numpy arrays either way.
    device : str, default="cpu"
        "cpu", "cuda", "cuda:N", "mps" or "auto" (the best available). An
        unavailable device raises ``ValueError`` at fit. :meth:`load` sets
        it to its own ``device`` argument.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, dropout, batch shuffling and the early-stopping split.
        An int makes ``fit`` reproducible on CPU.
    verbose : int, default=0
        0 silent, 1 one line per epoch, 2 also a progress bar per epoch.
    warm_start : bool, default=False
        Continue from the fitted model on the next ``fit``.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks, copied into each fit's training loop.

    Attributes
    ----------
    n_features_in_ : int
        Columns of ``X`` seen in fit (the window length).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.
    window_shape_ : tuple of int
        ``(window, n_features)`` of the windows seen in fit (1 feature for
        2-D ``X``).
    n_outputs_ : int
        Forecast horizon (columns of ``y``).
    x_mean_, x_scale_ : ndarray of shape (n_features,)
        Input standardisation (zeros and ones when ``standardize=False``).
    y_mean_, y_scale_ : ndarray of shape (n_outputs_,)
        Target standardisation (zeros and ones when ``standardize=False``).
    history_ : skorch.History
        Per-epoch records: ``train_loss`` (MSE on standardised targets),
        ``train_score`` (R^2 on the training batches, measured while
        training), with early stopping ``valid_loss`` and ``valid_score``, and
        ``dur`` (seconds); cumulative over ``warm_start`` and ``partial_fit``.
    n_iter_ : int
        Epochs run, cumulative over ``warm_start`` and ``partial_fit``.
    module_ : torch.nn.Module
        The trained :class:`~sklearn_transformers._modules.SeriesRegressorModule`.
    net_ : skorch.NeuralNet
        The skorch net that trained ``module_`` (absent after :meth:`load` or
        unpickling, until the estimator trains again).

    See Also
    --------
    make_windows : Turn a series into ``(X, y)`` windows.
    TransformerTextClassifier : Transformer text classifier.

    Notes
    -----
    Training and inference run on torch's process-wide thread setting
    (``torch.get_num_threads()``), which the estimator never changes. In a
    search with ``n_jobs > 1``, joblib's worker processes start torch with
    ``cpu_count() // n_jobs`` threads each (unless the environment sets
    ``MKL_NUM_THREADS`` or ``OMP_NUM_THREADS``) and Dask's worker processes
    with one, so parallel fits do not oversubscribe the cores (README,
    "Threads").

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_transformers import AttentionTimeSeriesRegressor, make_windows
    >>> series = np.sin(np.arange(200) * 2 * np.pi / 12)
    >>> X, y = make_windows(series, window=24)
    >>> reg = AttentionTimeSeriesRegressor(embed_dim=16, num_heads=2, num_layers=1,
    ...                                    ff_dim=32, max_epochs=20, random_state=0)
    >>> reg.fit(X[:150], y[:150]).score(X[150:], y[150:]) > 0.9
    True
    >>> reg.attention_weights(X[:2]).shape
    (2, 24)
    """

    _parameter_constraints: dict = {
        **AttentionEstimatorBase._parameter_constraints,
        "positional_encoding": [StrOptions({"sinusoidal", "learned"})],
        "pooling": [StrOptions({"last", "mean"})],
        "standardize": ["boolean"],
        "linear_shortcut": ["boolean"],
    }
    _architecture_params = (
        *AttentionEstimatorBase._architecture_params,
        "positional_encoding",
        "pooling",
        "standardize",
        "linear_shortcut",
    )

    def __init__(
        self,
        *,
        embed_dim=64,
        num_heads=4,
        num_layers=2,
        ff_dim=128,
        dropout=0.1,
        max_epochs=20,
        batch_size=32,
        lr=1e-3,
        lr_schedule="cosine",
        weight_decay=0.0,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        positional_encoding="sinusoidal",
        pooling="last",
        standardize=True,
        linear_shortcut=True,
        precision="float32",
        device="cpu",
        random_state=None,
        verbose=0,
        warm_start=False,
        callbacks=None,
    ):
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.num_layers = num_layers
        self.ff_dim = ff_dim
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.positional_encoding = positional_encoding
        self.pooling = pooling
        self.standardize = standardize
        self.linear_shortcut = linear_shortcut
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.callbacks = callbacks

    # ------------------------------------------------------------- training
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train on windows ``X`` and the values ``y`` that follow them.

        Ctrl-C (``KeyboardInterrupt``) during training stops it and keeps a
        usable model: ``n_iter_`` and ``history_`` count the completed epochs
        (an epoch cut short is left out, though its batches' updates stay in
        the weights), ``early_stopping`` restores the best weights so far, and
        a ``UserWarning`` says what was kept.

        Parameters
        ----------
        X : array-like of shape (n_samples, window) or (n_samples, window, n_features)
            Windows of a series, oldest time step first (e.g. from
            :func:`make_windows`, a lag-feature DataFrame, or a scaled table).
        y : array-like of shape (n_samples,) or (n_samples, horizon)
            Next value, or next ``horizon`` values, of each window.

        Returns
        -------
        self : AttentionTimeSeriesRegressor
            The fitted regressor.
        """
        return self._fit(X, y, incremental=self.warm_start, epochs=self.max_epochs)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        """Train one epoch on ``(X, y)``, continuing from earlier calls.

        The first call fixes the window shape and the standardisation; later
        calls reuse them. ``early_stopping`` does not apply.

        Parameters
        ----------
        X : array-like of shape (n_samples, window) or (n_samples, window, n_features)
            Windows.
        y : array-like of shape (n_samples,) or (n_samples, horizon)
            Targets.

        Returns
        -------
        self : AttentionTimeSeriesRegressor
            The updated regressor.
        """
        return self._fit(X, y, incremental=True, epochs=1, partial=True)

    def _prepare_data(self, X, y, *, reset, classes):
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            allow_nd=True,
            dtype=[np.float64, np.float32],
            multi_output=True,
            y_numeric=True,
        )
        windows = self._as_windows(X, reset=reset)
        y = np.asarray(y, dtype=np.float64)
        targets = y.reshape(len(y), -1)  # (n, horizon)
        if reset:
            self.n_outputs_ = targets.shape[1]
            self._y_ndim = y.ndim
            if self.standardize:
                self.x_mean_ = windows.mean(axis=(0, 1))
                self.x_scale_ = _nonzero(windows.std(axis=(0, 1)))
                self.y_mean_ = targets.mean(axis=0)
                self.y_scale_ = _nonzero(targets.std(axis=0))
            else:
                n_features = windows.shape[2]
                self.x_mean_, self.x_scale_ = np.zeros(n_features), np.ones(n_features)
                self.y_mean_ = np.zeros(self.n_outputs_)
                self.y_scale_ = np.ones(self.n_outputs_)
        elif targets.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {targets.shape[1]} output(s), but {type(self).__name__} "
                f"was fitted with {self.n_outputs_}."
            )
        targets = (targets - self.y_mean_) / self.y_scale_
        return DenseData(
            self._scale(windows), torch.as_tensor(targets, dtype=torch.float32)
        )

    def _as_windows(self, X, *, reset):
        """Check the window shape; return X as ``(n, window, n_features)``."""
        if X.ndim not in (2, 3):
            raise ValueError(
                "X must be 2-D (n_samples, window) or 3-D (n_samples, window, "
                f"n_features); got shape {X.shape}."
            )
        windows = X if X.ndim == 3 else X[:, :, None]
        if reset:
            self.window_shape_ = windows.shape[1:]
        elif windows.shape[1:] != self.window_shape_:
            raise ValueError(
                f"X has windows of shape {windows.shape[1:]} (window, n_features), "
                f"but {type(self).__name__} was fitted with {self.window_shape_}."
            )
        return windows

    def _scale(self, windows):
        return torch.as_tensor(
            (windows - self.x_mean_) / self.x_scale_, dtype=torch.float32
        )

    def _new_module(self):
        window, n_features = self.window_shape_
        fitted = self._fitted_params
        return SeriesRegressorModule(
            n_features,
            window,
            self.n_outputs_,
            embed_dim=fitted["embed_dim"],
            num_heads=fitted["num_heads"],
            num_layers=fitted["num_layers"],
            ff_dim=fitted["ff_dim"],
            dropout=self.dropout,
            positional_encoding=fitted["positional_encoding"],
            pooling=fitted["pooling"],
            linear_shortcut=fitted["linear_shortcut"],
        )

    def _build_module(self, data):
        module = self._new_module()
        if module.shortcut is not None:
            # Start from the ridge solution: training then begins at a linear
            # autoregression, and attention learns what it misses.
            ridge = Ridge(alpha=1.0).fit(data.X.flatten(1).numpy(), data.y.numpy())
            with torch.no_grad():
                module.shortcut.weight.copy_(
                    torch.as_tensor(ridge.coef_.reshape(self.n_outputs_, -1))
                )
                module.shortcut.bias.copy_(
                    torch.as_tensor(ridge.intercept_).reshape(-1)
                )
        return module

    def _criterion(self, data):
        return torch.nn.MSELoss, {}

    def _stratify(self, data):
        return None

    _score = staticmethod(r2_score)

    # ------------------------------------------------------------ inference
    def _encode(self, X):
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, allow_nd=True, dtype=[np.float64, np.float32]
        )
        return DenseData(self._scale(self._as_windows(X, reset=False)))

    def predict(self, X):
        """Forecast the value(s) that follow each window.

        Parameters
        ----------
        X : array-like of shape (n_samples, window) or (n_samples, window, n_features)
            Windows shaped as in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, horizon)
            Forecasts in the units of ``y``, shaped as ``y`` was in fit.
        """
        out = self._run_module_dense(self._encode(X), "forward").astype(np.float64)
        out = out * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._y_ndim == 1 else out

    def transform(self, X):
        """Pooled window embeddings.

        Parameters
        ----------
        X : array-like of shape (n_samples, window) or (n_samples, window, n_features)
            Windows shaped as in fit.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, embed_dim), dtype float32
            The pooled encoder states, before the output head.
        """
        return self._run_module_dense(self._encode(X), "embed_windows")

    def fit_transform(self, X, y, **fit_params):
        """Fit, then return the embeddings of ``X`` (see :meth:`transform`)."""
        return self.fit(X, y, **fit_params).transform(X)

    def attention_weights(self, X):
        """How much each time step counted: attention it received.

        Uses the last layer, averaged over heads: the most recent step's
        attention with ``pooling="last"``, else the mean over all steps.

        Parameters
        ----------
        X : array-like of shape (n_samples, window) or (n_samples, window, n_features)
            Windows shaped as in fit.

        Returns
        -------
        weights : ndarray of shape (n_samples, window)
            Non-negative, each row summing to 1; column 0 is the oldest step.
        """
        weights = self._run_module_dense(self._encode(X), "attention").astype(
            np.float64
        )
        return weights / weights.sum(axis=1, keepdims=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _nonzero(scale):
    """Replace zero spreads (constant features) by 1."""
    return np.where(scale > 0, scale, 1.0)
