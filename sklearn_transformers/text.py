"""TransformerTextClassifier: raw text in, labels out."""

import os
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils.validation import (
    check_is_fitted,
)

from ._base import AttentionEstimatorBase
from ._callbacks import accuracy_score
from ._data import RaggedTokens
from ._documents import check_documents
from ._fixes import Interval, StrOptions, _fit_context
from ._text_fitting import TextFittingMixin
from ._text_persistence import TextPersistenceMixin

__all__ = ["TransformerTextClassifier"]


class TransformerTextClassifier(
    ClassifierMixin,
    TransformerMixin,
    ClassNamePrefixFeaturesOutMixin,
    TextFittingMixin,
    TextPersistenceMixin,
    AttentionEstimatorBase,
):
    """Transformer encoder text classifier, from scratch or fine-tuned.

    Tokenizes raw documents, builds a vocabulary, trains a small transformer
    encoder (pre-LayerNorm blocks, multi-head self-attention) with skorch, and
    predicts labels of the kind it was given. With ``backbone``, it fine-tunes
    a pretrained Hugging Face encoder instead, with that encoder's tokenizer.

    Parameters
    ----------
    embed_dim : int, default=64
        Model width (``d_model``). Ignored with a ``backbone``, whose own
        width is used (as are its heads, layers and feed-forward width).
    num_heads : int, default=4
        Attention heads; ``embed_dim`` must be divisible by ``num_heads``.
    num_layers : int, default=2
        Stacked transformer blocks.
    ff_dim : int, default=128
        Hidden width of each block's feed-forward layer.
    dropout : float, default=0.4
        Dropout rate of the embeddings, the attention and feed-forward
        outputs, and the linear head of the poolings other than "attention"
        (with a ``backbone``: of that head only; the encoder keeps its own
        dropout). 0.4 (not 0.1), ``weight_decay=0.05`` and ``min_df=2``
        because they measured best on the fine-food reviews with mean pooling,
        where dropout 0.1 overfits (``benchmarks/RESULTS.md``).
    max_epochs : int or "auto", default="auto"
        Training epochs per ``fit`` (fewer with ``early_stopping``). "auto"
        is 4 from scratch with ``pooling="attention"`` (which starts from a
        linear model; 8 overfit the fine-food reviews) and 8 with the other
        poolings, 2 when fine-tuning a ``backbone``, and when only its head
        trains (``freeze_backbone=True``) 30 with pooled embeddings cached
        (cheap epochs) or 3 with ``pooling="attention"``, whose epochs each
        run the fixed encoder.
    batch_size : int, default=32
        Mini-batch size. Training batches are drawn from length-sorted pools,
        so documents of similar length share a batch.
    lr : float or "auto", default="auto"
        Learning rate of the AdamW optimizer. "auto" is 1e-4 from scratch
        with ``pooling="attention"`` (which starts at a linear model; larger
        steps overfit it), 1e-3 from scratch with the other poolings, 2e-5
        when fine-tuning a ``backbone`` and 1e-2 when only its head trains
        (``freeze_backbone=True``), chosen on the fine-food reviews and the
        other sets of ``benchmarks/text_quality.py`` (``benchmarks/RESULTS.md``).
    lr_schedule : {"cosine", "constant"}, default="cosine"
        "cosine" decays the learning rate from ``lr`` towards 0 along a half
        cosine over each ``fit``'s ``max_epochs`` (batch by batch); "constant"
        keeps ``lr``. ``partial_fit`` always uses ``lr``.
    weight_decay : float, default=0.05
        AdamW weight decay (see ``dropout`` for how it was chosen).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified),
        stop after ``n_iter_no_change`` epochs without improvement (see
        ``early_stopping_metric``) and restore the best weights.
    early_stopping_metric : {"score", "loss"}, default="score"
        What early stopping watches: the validation accuracy (higher is
        better, an absolute gain of 1e-4 counts, as in ``MLPClassifier``) or
        the validation loss (a relative gain of 1e-4). "score" by default
        because the loss can rise while accuracy still improves (predictions grow overconfident), so
        stopping on it restores too early an epoch.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    n_iter_no_change : int, default=5
        Epochs without improvement before early stopping ends training.
    max_features : int, default=None
        Keep at most this many of the most frequent tokens in the vocabulary.
    min_df : int or float, default=2
        Keep tokens that occur in at least this many documents (int), or in
        this proportion of the documents (float in (0, 1]); rarer tokens
        become ``[UNK]``. ``max_features`` and ``min_df`` are ignored with a
        ``backbone``, whose vocabulary is fixed.
    max_len : int or "auto", default="auto"
        Tokens kept per document. Longer documents are truncated to their
        first ``max_len`` tokens (never dropped); ``n_truncated_`` counts them
        and ``verbose`` reports them. "auto" is 256 words from scratch and
        128 for a ``backbone``, where tokens are its word pieces, special
        tokens included; it cannot exceed the backbone's own limit.
    lowercase : bool, default=True
        Lower-case documents before tokenizing (ignored with a ``backbone``,
        whose tokenizer decides).
    tokenizer : callable, default=None
        ``str -> list[str]``. None uses the built-in unicode word tokenizer
        (words, with inner apostrophes, and single punctuation marks). Must be
        None with a ``backbone``, which brings its own tokenizer.
    pooling : {"auto", "attention", "mean", "cls", "max"}, default="auto"
        How the tokens become the prediction. "auto" is "attention" from
        scratch and "mean" with a ``backbone``. "attention": an attention
        readout whose logits are an exact sum of per-token parts, ``bias +
        sum_j a_j * v_j``, with attention ``a_j`` scored from the encoder's
        contextual states and values ``v_j`` from the token alone, so
        :meth:`attention_weights` reports what the prediction flows through
        (see there). From scratch the values are a table of word and hashed
        word-pair values, each weighted by its TF-IDF weight in the
        document. They start at a logistic regression on the documents'
        L2-normalised TF-IDF vectors (which uniform attention reproduces),
        each column scaled by how well it separates the classes (its
        log-count ratio, as in NBSVM) to a power chosen with ``C`` on a
        held-out fifth of the documents by log-loss (see
        ``readout_start_``). With a ``backbone`` a value is a linear map of
        the word piece's input embedding, started at a logistic regression
        on the mean word embedding; fine-tuned this way the encoder's
        context reaches the prediction only through the attention, which
        costs fine-tuning accuracy (``benchmarks/RESULTS.md``), hence "mean"
        there by default. The other poolings feed one
        document vector to a linear head: the mean of the token states, the
        state of the leading ``[CLS]`` token, or their element-wise maximum;
        their attention weights are the attention the tokens received in
        the encoder's last layer, which deleting tokens showed to explain
        far less (``benchmarks/faithfulness.py``). With
        ``freeze_backbone=True`` the readout needs every token's states in
        each epoch, so the fixed encoder runs every epoch ("mean" caches one
        vector per document and trains the head on it).
    class_weight : dict, "balanced" or None, default="balanced"
        Weights of the classes in the loss (and in the logistic regression
        the attention readout starts from), as in ``LogisticRegression``.
        "balanced" weighs each class inversely to its frequency, so that a
        rare class is not traded away for accuracy on the common ones: on
        the sending app of Trump's tweets (six classes, the rarest 0.7%)
        the unweighted loss never predicts the rarest class. It costs some
        accuracy where classes are imbalanced (0.01-0.02 on the benchmark's
        multi-class sets). None weighs every document alike, for the most
        accuracy when the rare classes do not matter. In ``partial_fit``,
        "balanced" uses the class frequencies of each call's documents.
    label_smoothing : float in [0, 1), default=0.0
        Label smoothing of the cross-entropy loss (Szegedy et al. 2016): the
        target puts ``1 - label_smoothing`` on the true class and spreads the
        rest evenly over all classes, so the model stops short of certainty.
        Off by default: 0.1 lowered the test log-loss on two benchmark sets
        but raised it, and cost accuracy, on the six-class tweets, where the
        cap on every confident prediction costs more than it saves.
    pretrain_epochs : int, default=0
        Epochs of masked-word pretraining on the training documents before
        the classifier learns the labels (from scratch only, on the first
        fit): 15% of the words are hidden (as the unknown word, or a random
        one) and the encoder learns to predict them from their context, with
        the same ``lr``, ``batch_size`` and ``weight_decay``. Costs about one
        training epoch per pretraining epoch. Off by default: a few epochs
        of it lowered test accuracy on the benchmark sets (fine-food reviews
        0.786 to 0.710 with 4 epochs).
    calibration : {"auto", "temperature"} or None, default=None
        Temperature scaling (Guo et al. 2017): ``fit`` holds out
        ``validation_fraction`` of the training data (stratified; the same
        part early stopping uses), trains on the rest, then divides the
        logits by the temperature ``temperature_`` that minimises the
        log-loss on the held-out part, so ``predict_proba`` is not
        over-confident (the temperature never changes which class is
        predicted). "temperature" always does this; "auto" only with 1,000
        training documents or more, where the held-out part is large enough
        to fit one number; None never does (``temperature_`` is 1.0) and
        trains on every document. None by default: the attention readout
        starts from a logistic regression, and on the benchmark sets it was
        about as well calibrated without the held-out part, which cost
        accuracy (``benchmarks/RESULTS.md``, "Text quality"); temperature
        scaling still pays with ``pooling="mean"`` and on sets where the
        model is over-confident.
    backbone : str, path or None, default=None
        None trains the encoder above from scratch. Otherwise a local folder
        or Hugging Face hub name of a pretrained encoder (BERT, MiniLM,
        RoBERTa, ...) loaded with ``transformers`` (the optional extra
        ``hf``): its tokenizer replaces the word tokenizer and its encoder,
        with pooling and a new linear head, is fine-tuned. Set
        ``HF_HUB_OFFLINE=1`` to make sure nothing is downloaded.
    freeze_backbone : bool, default=False
        Train only the head on top of a fixed ``backbone``: with a pooling
        other than "attention", each ``fit`` embeds every document once (one
        inference pass) and trains the head on the pooled embeddings, so
        epochs cost next to nothing. Faster and
        usually less accurate than fine-tuning. May change between
        ``warm_start`` fits, e.g. train the head first, then fine-tune.
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
        Continue from the fitted model (vocabulary and weights) on the next
        ``fit`` instead of starting anew.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks (instances or ``(name, callback)`` pairs), copied
        into each fit's training loop.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, as ``LabelEncoder`` orders them.
    vocabulary_ : dict of str -> int
        Token to id; ids 0, 1, 2 are ``[PAD]``, ``[UNK]`` and ``[CLS]``
        (with a ``backbone``: its tokenizer's vocabulary).
    pretrain_loss_ : list of float
        Mean masked-word loss of each pretraining epoch of the first fit
        (empty without ``pretrain_epochs``).
    temperature_ : float
        The logits' divisor fitted by ``calibration`` (1.0 without it).
        ``partial_fit`` keeps the value of the last ``fit``.
    pooling_ : str
        The pooling of the fitted model (``pooling`` with "auto" resolved).
    readout_start_ : dict or None
        The logistic regression the attention readout started from (only
        with ``pooling_="attention"``; None when the first fit lacked a class,
        as a ``partial_fit`` batch may): ``"power"`` and ``"C"``, the chosen
        scaling of the TF-IDF columns by their log-count ratios (0: none) and
        inverse regularisation, and ``"candidates"``, each ``(power, C)``
        tried with its held-out log-loss (None where the choice was not
        made: a class had fewer than 25 documents, or with a ``backbone``).
    max_len_ : int
        Tokens kept per document (``max_len`` with "auto" resolved).
    n_truncated_ : int
        Training documents of the last fit longer than ``max_len_``.
    text_encoder_ : object
        What turns documents into token ids, made in ``fit`` for its mode:
        the word tokenizer and ``vocabulary_`` from scratch, or the
        backbone's tokenizer. Inference uses it, so changing ``backbone``,
        ``tokenizer`` or ``lowercase`` after ``fit`` does not change how a
        fitted model reads text.
    backbone_config_ : dict
        The backbone's configuration (only with a ``backbone``); with the
        weights in ``module_`` it is the whole fine-tuned encoder, so
        :meth:`load` needs neither ``transformers``' cache nor the original
        model files.
    history_ : skorch.History
        Per-epoch records: ``train_loss``, ``train_score`` (accuracy on the
        training batches, measured while training), with early stopping
        ``valid_loss`` and ``valid_score``, and ``dur`` (seconds); cumulative
        over ``warm_start`` and ``partial_fit``.
    lr_ : float
        The learning rate of the last ``fit`` or ``partial_fit`` (``lr`` with "auto" resolved).
    max_epochs_ : int
        ``max_epochs`` of the last ``fit`` or ``partial_fit`` ("auto" resolved);
        ``partial_fit`` runs one epoch.
    n_iter_ : int
        Epochs run, cumulative over ``warm_start`` and ``partial_fit``.
    module_ : torch.nn.Module
        The trained :class:`~sklearn_transformers._text_module.TextClassifierModule`
        (with a ``backbone``: a ``BackboneClassifierModule`` holding the
        fine-tuned encoder).
    net_ : skorch.NeuralNet
        The skorch net that trained ``module_`` (absent after :meth:`load` or
        unpickling, until the estimator trains again).

    See Also
    --------
    AttentionTimeSeriesRegressor : Attention model for time-series windows.

    Notes
    -----
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
    >>> from sklearn_transformers import TransformerTextClassifier
    >>> X = ["good movie", "great film", "bad movie", "awful film"] * 8
    >>> y = ["pos", "pos", "neg", "neg"] * 8
    >>> clf = TransformerTextClassifier(embed_dim=16, num_heads=2, num_layers=1,
    ...                                 ff_dim=32, max_epochs=15, random_state=0)
    >>> clf.fit(X, y).predict(["good film", "awful movie"])
    array(['pos', 'neg'], dtype='<U3')
    >>> clf.transform(["good film"]).shape
    (1, 16)
    >>> tokens, weights = clf.attention_weights(["a good film"])[0]
    >>> tokens
    ['[UNK]', 'good', 'film']
    """

    _parameter_constraints: dict = {
        **AttentionEstimatorBase._parameter_constraints,
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "min_df": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
        ],
        "max_len": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "max_epochs": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "lowercase": ["boolean"],
        "tokenizer": [callable, None],
        "pooling": [StrOptions({"auto", "attention", "mean", "cls", "max"})],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "calibration": [StrOptions({"auto", "temperature"}), None],
        "pretrain_epochs": [Interval(Integral, 0, None, closed="left")],
        "backbone": [str, os.PathLike, None],
        "freeze_backbone": ["boolean"],
    }
    _architecture_params = (
        *AttentionEstimatorBase._architecture_params,
        "max_len",
        "pooling",
        "backbone",
    )
    # The text encoder is saved as fitted attributes (vocabulary_, max_len_,
    # backbone_config_) and its files (_persist_extra).
    _not_persisted = (*AttentionEstimatorBase._not_persisted, "text_encoder_")
    # Values of the "auto" parameters: (from scratch, fine-tuning a backbone,
    # training the head of a frozen backbone).
    _auto = {
        "lr": (1e-3, 2e-5, 1e-2),
        "max_epochs": (8, 2, 30),
        "max_len": (256, 128, 128),
    }

    def __init__(
        self,
        *,
        embed_dim=64,
        num_heads=4,
        num_layers=2,
        ff_dim=128,
        dropout=0.4,
        max_epochs="auto",
        batch_size=32,
        lr="auto",
        lr_schedule="cosine",
        weight_decay=0.05,
        early_stopping=False,
        early_stopping_metric="score",
        validation_fraction=0.1,
        n_iter_no_change=5,
        max_features=None,
        min_df=2,
        max_len="auto",
        lowercase=True,
        tokenizer=None,
        pooling="auto",
        class_weight="balanced",
        label_smoothing=0.0,
        pretrain_epochs=0,
        calibration=None,
        backbone=None,
        freeze_backbone=False,
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
        self.max_features = max_features
        self.min_df = min_df
        self.max_len = max_len
        self.lowercase = lowercase
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.pretrain_epochs = pretrain_epochs
        self.calibration = calibration
        self.backbone = backbone
        self.freeze_backbone = freeze_backbone
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.callbacks = callbacks

    # ------------------------------------------------------------- training
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Learn the vocabulary and train the model.

        Ctrl-C (``KeyboardInterrupt``) stops training and keeps a usable model
        of the completed epochs, with a ``UserWarning`` saying what was kept.

        Parameters
        ----------
        X : array-like of str of shape (n_samples,)
            Documents: list, tuple, numpy array or pandas Series of str, or a
            one-column DataFrame. Empty strings are valid documents.
        y : array-like of shape (n_samples,)
            Labels of any kind (str, int, bool, categorical); two or more classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights in the loss (a weighted mean per batch, as
            ``MLPClassifier`` takes it) and in the per-epoch scores; a weight
            of 0 means the document does not count, not even for the
            vocabulary. Multiplies ``class_weight``.

        Returns
        -------
        self : TransformerTextClassifier
            The fitted classifier.
        """
        return self._fit(X, y, sample_weight, incremental=self.warm_start)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on ``(X, y)``, continuing from earlier calls.

        The first call learns the vocabulary (and the attention readout's
        idf) from its ``X``; later calls keep them. ``early_stopping`` does
        not apply.

        Parameters
        ----------
        X : array-like of str of shape (n_samples,)
            Documents.
        y : array-like of shape (n_samples,)
            Labels.
        classes : array-like of shape (n_classes,), default=None
            All labels that will ever be seen. Needed on the first call when
            its ``y`` does not hold every class; ignored afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights, as in :meth:`fit`.

        Returns
        -------
        self : TransformerTextClassifier
            The updated classifier.
        """
        return self._fit(
            X, y, sample_weight, incremental=True, partial=True, classes=classes
        )

    _score = staticmethod(accuracy_score)

    # ------------------------------------------------------------ inference
    def _encode(self, X):
        check_is_fitted(self)
        docs = check_documents(X)
        ids, offsets, n_truncated = self.text_encoder_.encode(docs)
        self._report_truncation(n_truncated, len(docs))
        return RaggedTokens(ids, offsets, pad_id=self.text_encoder_.pad_id)

    def _logits(self, X):
        """Class logits ``(n_samples, n_classes)`` as float64."""
        logits = self._run_module_dense(self._encode(X), "forward")
        return logits.astype(np.float64) / self.temperature_

    def decision_function(self, X):
        """Class scores: the logits divided by ``temperature_``.

        Parameters
        ----------
        X : array-like of str of shape (n_samples,)
            Documents.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the score of ``classes_[1]`` over ``classes_[0]``
            (positive means ``classes_[1]``); otherwise one column per class.
        """
        logits = self._logits(X)
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of str of shape (n_samples,)
            Documents.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns follow ``classes_``.
        """
        logits = self._logits(X)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predict labels.

        Parameters
        ----------
        X : array-like of str of shape (n_samples,)
            Documents.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels of the kind given to ``fit``.
        """
        best = self._logits(X).argmax(axis=1)  # checks fitted before classes_
        return self.classes_[best]

    def transform(self, X):
        """Pooled document embeddings.

        Parameters
        ----------
        X : array-like of str of shape (n_samples,)
            Documents.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, embed_dim), dtype float32
            The pooled encoder states, before the classification head (with
            ``pooling="attention"``: the contextual states weighted by the
            readout's attention ``a_j``).
        """
        return self._run_module_dense(self._encode(X), "embed_documents")

    def attention_weights(self, X, *, method="auto"):
        """What the model looked at: each kept token's share of the prediction.

        With ``pooling="attention"`` the logits are ``bias + sum_j a_j * v_j``
        over the tokens ``j``: attention ``a_j`` from the encoder's
        contextual states, values ``v_j`` (one per class) from the token
        alone (see ``pooling``). The default report is each token's
        part of that sum, so removing the most-weighted tokens removes the
        most evidence.

        Parameters
        ----------
        X : array-like of str of shape (n_samples,)
            Documents.
        method : {"auto", "contribution", "attention"}, default="auto"
            "contribution" (attention pooling only): ``a_j * |v_j|``
            normalised to sum to 1, with ``v_j`` the token's value for the
            predicted class, centred over the classes (for two classes, half
            its part of the logit difference): how much the token moved the
            prediction, in either direction. "attention": the raw attention
            ``a_j`` of the readout; with the other poolings, the attention
            each token received in the encoder's last layer (heads averaged;
            the ``[CLS]`` position's row with ``pooling="cls"``, else the mean
            over positions), which the prediction does not flow through
            directly. "auto" is "contribution" with ``pooling="attention"``,
            else "attention".

        Returns
        -------
        attention : list of (tokens, weights)
            One pair per document: ``tokens`` the kept tokens as str (unknown
            words as ``"[UNK]"``, no padding, at most ``max_len``; the
            ``[CLS]`` token, and with a ``backbone`` every special token but
            the unknown one, left out; with a ``backbone`` the tokens are its
            word pieces, ``"##ing"``), ``weights`` a float64 array of the
            same length, non-negative, summing to 1 (empty for an empty
            document).
        """
        check_is_fitted(self)
        readout = self.module_.pooling == "attention"
        if method == "auto":
            method = "contribution" if readout else "attention"
        if method not in ("contribution", "attention"):
            raise ValueError(
                f"method must be 'auto', 'contribution' or 'attention', got {method!r}."
            )
        if method == "contribution" and not readout:
            raise ValueError(
                "method='contribution' needs a model fitted with "
                "pooling='attention'; use method='attention'."
            )
        data = self._encode(X)
        id_to_token = np.empty(max(self.vocabulary_.values()) + 1, dtype=object)
        id_to_token[list(self.vocabulary_.values())] = list(self.vocabulary_)
        hidden = self._hidden_token_ids()
        result = [None] * len(data)
        for idx, weights in self._run_module(data, method, batch_size=64):
            for row, i in enumerate(idx):
                ids = data.document(i)
                shown = ~np.isin(ids, hidden)
                w = weights[row, : len(ids)][torch.from_numpy(shown)].double().numpy()
                total = w.sum()
                uniform = np.full_like(w, 1.0 / max(len(w), 1))
                w = np.divide(w, total, out=uniform, where=total > 0)
                result[i] = (id_to_token[ids[shown]].tolist(), w)
        return result

    @property
    def _n_features_out(self):
        head = getattr(self.module_, "head", None)
        return self.module_.embed_dim if head is None else head.in_features

    def _hidden_token_ids(self):
        """Ids of the structural tokens that ``attention_weights`` leaves out."""
        return self.text_encoder_.hidden_ids

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags
