"""AttentionTimeSeriesRegressor: windows of a series in, next value(s) out."""

from numbers import Integral

import numpy as np
from sklearn.base import (
    ClassNamePrefixFeaturesOutMixin,
    RegressorMixin,
    TransformerMixin,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import AttentionEstimatorBase
from ._data import DenseData
from ._fixes import Interval, StrOptions, _fit_context
from ._series_data import SeriesDataMixin, _check_not_a_series
from ._series_fitting import SeriesFittingMixin
from ._series_scaling import point_r2
from ._windows import make_windows

__all__ = ["AttentionTimeSeriesRegressor", "make_windows"]


class AttentionTimeSeriesRegressor(
    RegressorMixin,
    TransformerMixin,
    ClassNamePrefixFeaturesOutMixin,
    SeriesFittingMixin,
    SeriesDataMixin,
    AttentionEstimatorBase,
):
    """Forecast the next value(s) of a series with attention over its past.

    Each row of ``X`` is a window of a series, oldest time step first. Every
    time step (lag) is a token: projected to ``embed_dim`` dimensions, given a
    position signal and encoded by transformer blocks. One learned query per
    horizon step attends over the lags, and the forecast is the
    attention-weighted sum of values that each lag computes from its own
    input alone, so it is an exact sum of per-lag contributions (see Notes).
    :meth:`attention_weights` reports them: how much each time step counted.

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
        Hold out ``validation_fraction`` of the windows (drawn at random),
        stop after ``n_iter_no_change`` epochs without improvement (see
        ``early_stopping_metric``) and restore the best weights.
    early_stopping_metric : {"score", "loss"}, default="score"
        What early stopping watches: the validation R^2 (higher is better,
        an absolute gain of 1e-4 counts) or the validation loss (a relative
        gain of 1e-4). "score" by default, as in ``MLPRegressor`` and in the
        text classifier; R^2 follows the squared error closely, so the two
        mostly stop at the same epoch.
    validation_fraction : float, default=0.1
        Share of the windows held out for early stopping (drawn at random).
    n_iter_no_change : int, default=5
        Epochs without improvement before early stopping ends training.
    positional_encoding : {"sinusoidal", "learned"}, default="sinusoidal"
        Fixed sine/cosine position signal, or one trained vector per step.
    pooling : {"last", "mean"}, default="last"
        Summarise the window by the state of its most recent step, or by
        the mean over all steps.
    standardize : bool or "window", default=True
        True standardises inputs (per feature, over all windows and steps)
        and targets (per horizon step) for training. "window" (RevIN, Kim et
        al. 2022) first scales the target's past in each window, and the
        window's targets, by that window's own mean and standard deviation
        and undoes it on the output, so series whose levels differ by orders
        of magnitude share one model and a forecast of ``a * series + b``
        (``a > 0``) is ``a`` times the forecast plus ``b``; other features are
        standardised globally. False uses the data as given. Predictions come
        back in the original units.
    target_feature : int, default=0
        Position of the target's own past among the features of 3-D windows
        (``make_windows`` keeps the column order of a DataFrame); used by
        ``standardize="window"``. 2-D windows have one feature, 0.
    quantiles : sequence of float or None, default=None
        Probabilities strictly between 0 and 1, including 0.5, such as
        ``(0.1, 0.5, 0.9)``: train with the mean pinball loss over all of them
        (one output per quantile and horizon step) instead of the squared
        error; :meth:`predict` returns the 0.5 quantile and
        :meth:`predict_quantiles` all of them. 0.5 is required because the
        median is the point forecast.
    lag_order : {"oldest_first", "newest_first"}, default="oldest_first"
        Order of the time steps along the rows of ``X``: oldest first, as
        :func:`make_windows` cuts them, or newest first, as skforecast's lag
        columns ``lag_1, lag_2, ...`` come. The model always reads the window
        oldest first (so the positions mean the same), and
        :meth:`attention_weights` returns its columns in ``X``'s order.
    linear_shortcut : bool, default=True
        Start training at the ridge regression (``alpha=1``) of the
        (standardised) targets on the windows: the per-lag values start at
        the ridge coefficients times ``window``, with uniform attention, so
        the first forecast is the ridge forecast (plus, per quantile, the
        quantile of the ridge residuals). False starts from small random
        values. The name is kept from an earlier design with a separate
        linear term; no path bypasses attention.
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
        Global input standardisation (zeros and ones when
        ``standardize=False``, and for the target's feature with "window").
    y_mean_, y_scale_ : ndarray of shape (n_outputs_,)
        Target standardisation (zeros and ones when ``standardize=False``;
        with "window", of the window-scaled targets).
    quantiles_ : ndarray of shape (n_quantiles,) or None
        The quantile levels, ascending (None without ``quantiles``).
    history_ : skorch.History
        Per-epoch records: ``train_loss`` (MSE, or with ``quantiles`` the
        pinball loss, on standardised targets),
        ``train_score`` (R^2 on the training batches, measured while
        training), with early stopping ``valid_loss`` and ``valid_score``, and
        ``dur`` (seconds); cumulative over ``warm_start`` and ``partial_fit``.
    lr_ : float
        The learning rate of the last ``fit`` or ``partial_fit`` (``lr``).
    max_epochs_ : int
        ``max_epochs`` of the last ``fit`` or ``partial_fit`` (``max_epochs``);
        ``partial_fit`` runs one epoch.
    n_iter_ : int
        Epochs run, cumulative over ``warm_start`` and ``partial_fit``.
    module_ : torch.nn.Module
        The trained :class:`~sklearn_transformers._series_module.SeriesRegressorModule`.
    net_ : skorch.NeuralNet
        The skorch net that trained ``module_`` (absent after :meth:`load` or
        unpickling, until the estimator trains again).

    See Also
    --------
    make_windows : Turn a series into ``(X, y)`` windows.
    TransformerTextClassifier : Transformer text classifier.

    Notes
    -----
    The forecast of horizon step ``s`` is ``bias_s + sum_j a_sj * v_sj``:
    ``a_s`` is the attention of step ``s``'s query over the lag tokens (the
    heads' maps averaged; heads share the values, as in the Temporal Fusion
    Transformer, Lim et al. 2021), and ``v_sj`` is computed from lag ``j``'s
    own features (a per-lag linear map plus a small MLP of its token), not
    from the encoded context. Removing a lag's term removes everything the
    forecast took from it.

    Training and inference run on torch's process-wide thread setting
    (``torch.get_num_threads()``), which the estimator never changes. In a
    search with ``n_jobs > 1``, joblib's worker processes start torch with
    ``cpu_count() // n_jobs`` threads each (unless the environment sets
    ``MKL_NUM_THREADS`` or ``OMP_NUM_THREADS``) and Dask's worker processes
    with one, so parallel fits do not oversubscribe the cores (README,
    "Threads").

    Inference from several threads at once is safe. Inference that overlaps
    a ``fit`` or ``partial_fit`` of the same estimator in another thread
    raises ``RuntimeError`` rather than return outputs of a model in training
    mode (dropout); predict from a copy (``copy.deepcopy``) meanwhile. A fit
    that fails input validation leaves the estimator as it was.

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
        "standardize": ["boolean", StrOptions({"window"})],
        "target_feature": [Interval(Integral, 0, None, closed="left")],
        "quantiles": [None, "array-like"],
        "linear_shortcut": ["boolean"],
        "lag_order": [StrOptions({"oldest_first", "newest_first"})],
    }
    _architecture_params = (
        *AttentionEstimatorBase._architecture_params,
        "positional_encoding",
        "pooling",
        "standardize",
        "target_feature",
        "quantiles",
        "linear_shortcut",
        "lag_order",
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
        early_stopping_metric="score",
        validation_fraction=0.1,
        n_iter_no_change=5,
        positional_encoding="sinusoidal",
        pooling="last",
        standardize=True,
        target_feature=0,
        quantiles=None,
        linear_shortcut=True,
        lag_order="oldest_first",
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
        self.early_stopping_metric = early_stopping_metric
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.positional_encoding = positional_encoding
        self.pooling = pooling
        self.standardize = standardize
        self.target_feature = target_feature
        self.quantiles = quantiles
        self.linear_shortcut = linear_shortcut
        self.lag_order = lag_order
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.callbacks = callbacks

    # ------------------------------------------------------------- training
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train on windows ``X`` and the values ``y`` that follow them.

        Ctrl-C (``KeyboardInterrupt``) stops training and keeps a usable model
        of the completed epochs, with a ``UserWarning`` saying what was kept.

        Parameters
        ----------
        X : array-like of shape (n_samples, window) or (n_samples, window, n_features)
            Windows of a series, oldest time step first (e.g. from
            :func:`make_windows`, a lag-feature DataFrame, or a scaled table).
        y : array-like of shape (n_samples,) or (n_samples, horizon)
            Next value, or next ``horizon`` values, of each window.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the windows in the loss (a weighted mean
            per batch, as ``MLPRegressor`` takes it), the per-epoch R^2, the
            standardisation and the ridge start; a weight of 0 means the
            window does not count.

        Returns
        -------
        self : AttentionTimeSeriesRegressor
            The fitted regressor.

        Raises
        ------
        ValueError
            For 1-D ``X`` (a series rather than windows of it; see
            :func:`make_windows`), and other invalid input.
        """
        return self._fit(X, y, sample_weight, incremental=self.warm_start)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch on ``(X, y)``, continuing from earlier calls.

        The first call fixes the window shape and the standardisation; later
        calls reuse them. ``early_stopping`` does not apply.

        Parameters
        ----------
        X : array-like of shape (n_samples, window) or (n_samples, window, n_features)
            Windows.
        y : array-like of shape (n_samples,) or (n_samples, horizon)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights, as in :meth:`fit`.

        Returns
        -------
        self : AttentionTimeSeriesRegressor
            The updated regressor.
        """
        return self._fit(X, y, sample_weight, incremental=True, partial=True)

    _score = staticmethod(point_r2)

    @property
    def _n_features_out(self):
        return self.module_.embed_dim

    # ------------------------------------------------------------ inference
    def _encode(self, X):
        """Validated ``X`` as data, with each window's level and spread."""
        check_is_fitted(self)
        _check_not_a_series(X)
        X = validate_data(
            self, X, reset=False, allow_nd=True, dtype=[np.float64, np.float32]
        )
        inputs, level, spread = self._scale(self._as_windows(X, reset=False))
        return DenseData(inputs), level, spread

    def predict(self, X):
        """Forecast the value(s) that follow each window.

        With ``quantiles`` the forecast is the median (the 0.5 quantile of
        :meth:`predict_quantiles`).

        Parameters
        ----------
        X : array-like of shape (n_samples, window) or (n_samples, window, n_features)
            Windows shaped as in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, horizon)
            Forecasts in the units of ``y``, shaped as ``y`` was in fit.
        """
        out = self._quantile_forecasts(X)
        out = out[:, :, int(np.searchsorted(np.sort(self._levels()), 0.5))]
        return out[:, 0] if self._y_ndim == 1 else out

    def predict_quantiles(self, X):
        """Forecast the ``quantiles`` of the value(s) that follow each window.

        Parameters
        ----------
        X : array-like of shape (n_samples, window) or (n_samples, window, n_features)
            Windows shaped as in fit.

        Returns
        -------
        y_quantiles : ndarray of shape (n_samples, n_quantiles) or (n_samples, horizon, n_quantiles)
            The forecast quantiles in the order of ``quantiles_`` (ascending),
            sorted along the last axis so that they never cross; 2-D when
            ``y`` was 1-D in fit.

        Raises
        ------
        ValueError
            If the regressor was fitted with ``quantiles=None``.
        """
        check_is_fitted(self)
        if self.quantiles_ is None:
            raise ValueError(
                "predict_quantiles needs a regressor fitted with quantiles, e.g. "
                "quantiles=(0.1, 0.5, 0.9); this one has quantiles=None."
            )
        out = self._quantile_forecasts(X)
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
            The encoder states of the lag tokens, pooled as ``pooling`` says.
        """
        return self._run_module_dense(self._encode(X)[0], "embed_windows")

    def attention_weights(self, X, *, method="contribution", step=None):
        """How much each time step counted in the forecast.

        The forecast is ``bias + sum_j a_j * v_j`` over the lags ``j`` (see
        Notes), so each lag's part of it is known exactly.

        Parameters
        ----------
        X : array-like of shape (n_samples, window) or (n_samples, window, n_features)
            Windows shaped as in fit.
        method : {"contribution", "attention"}, default="contribution"
            "contribution": ``a_j * |v_j|`` normalised to sum to 1, each lag's
            share of the (median) forecast's attention path (the norm-based
            weight of Kobayashi et al., 2020): it reflects how much the
            forecast moves when the lag is removed. "attention": the raw
            attention ``a_j`` of the forecast query (heads averaged).
        step : int or None, default=None
            Horizon step (0-based) whose weights to return; None averages
            the steps' weights.

        Returns
        -------
        weights : ndarray of shape (n_samples, window)
            Non-negative, each row summing to 1, columns in ``X``'s order:
            with ``lag_order="oldest_first"`` column 0 is the oldest step and
            column ``window - L`` the step ``L`` steps before the first
            forecast target; with "newest_first" column ``L - 1`` is lag ``L``.
        """
        if method not in ("contribution", "attention"):
            raise ValueError(
                f"method must be 'contribution' or 'attention', got {method!r}."
            )
        check_is_fitted(self)
        if step is not None and (
            isinstance(step, bool)
            or not isinstance(step, Integral)
            or not 0 <= step < self.n_outputs_
        ):
            raise ValueError(
                f"step must be None or an integer in [0, {self.n_outputs_}), "
                f"got {step!r}."
            )
        weights = self._run_module_dense(self._encode(X)[0], method)
        weights = weights.astype(np.float64)  # (n, horizon, window)
        total = weights.sum(axis=2, keepdims=True)
        uniform = np.full_like(weights, 1.0 / weights.shape[2])
        weights = np.divide(weights, total, out=uniform, where=total > 0)
        weights = weights.mean(axis=1) if step is None else weights[:, step]
        if self._fitted_params.get("lag_order") == "newest_first":
            weights = weights[:, ::-1]
        return weights

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
