"""The text classifier's two modes, as two small encoder objects.

A text encoder turns documents into token ids and builds the torch module
that reads them. :class:`WordEncoder` trains from scratch: the package's word
tokenizer (or a callable) and a vocabulary learned in ``fit``.
:class:`PretrainedEncoder` fine-tunes a Hugging Face encoder with its own
tokenizer. The estimator makes one in ``fit`` (from its parameters) and keeps
it as ``text_encoder_``, so inference uses what was fitted and never reads
the parameters again.

Both share one interface:

- ``fit(docs, counted)``: learn what tokenizing needs (from the documents
  ``counted`` marks, all when None); returns ``(ids, offsets,
  n_truncated)`` of ``docs``; ``encode(docs)`` does the same afterwards;
- ``pad_id``, ``vocabulary``, ``hidden_ids`` (tokens that
  ``attention_weights`` leaves out);
- ``build_module(n_classes, **arch)``: the module for a new fit;
  ``new_module(n_classes, **arch)``: the same architecture with untrained
  weights (``load`` fills them in);
- ``fit_readout_weights(module, ids, offsets, sample_weight)``: set what an
  attention readout weighs its tokens by, from the training documents;
- ``linear_features(ids, offsets, module)``: per-document features
  ``(n, F)`` whose linear model starts an attention readout
  (``module.start_from_linear``), with the ``(power, C)`` candidates
  ``linear_start_candidates`` of :func:`~._linear_start.fit_linear_start`;
- ``files()``: its state as named text blobs for ``save``;
  :func:`restore_text_encoder` is the inverse on ``load``.

Nothing here knows about scikit-learn or skorch.
"""

import json

import numpy as np
import scipy.sparse as sp
import torch

from . import _backbone, _tfidf
from ._text_module import BIGRAM_BUCKETS, TextClassifierModule, bigram_bucket
from ._vocabulary import CLS_ID, PAD_ID, build_vocabulary, encode, iter_tokenize

__all__ = ["PretrainedEncoder", "WordEncoder", "restore_text_encoder"]

# Name of the blob that holds an encoder's settings in a saved file.
_SETTINGS = "text_encoder.json"


class WordEncoder:
    """Word tokens and a vocabulary learned from the training documents.

    Parameters
    ----------
    max_len : int
        Tokens kept per document (a ``[CLS]`` token is put in front).
    lowercase : bool
    tokenizer : callable or None
        ``str -> list[str]``; None is the built-in word tokenizer.
    min_df, max_features
        Vocabulary limits, as in :func:`~._vocabulary.build_vocabulary`.
    vocabulary : dict of str -> int, default=None
        A fitted vocabulary (when restoring); None until :meth:`fit`.
    """

    kind = "words"
    pad_id = PAD_ID
    hidden_ids = np.array([PAD_ID, CLS_ID])
    # The module's weights are all trained: there is no fixed part to freeze.
    can_freeze = False
    # (power of the log-count-ratio scale, C) of the linear start on
    # L2-normalised TF-IDF vectors, chosen among on held-out documents; the
    # first (plain TF-IDF, C=16: the lowest log-loss summed over the sets of
    # benchmarks/text_start.py) when there are too few to choose.
    linear_start_candidates = tuple(
        (power, C) for power in (0.0, 0.5, 1.0) for C in (16.0, 8.0, 32.0)
    )

    def __init__(
        self, *, max_len, lowercase, tokenizer, min_df, max_features, vocabulary=None
    ):
        self.max_len = max_len
        self.lowercase = lowercase
        self.tokenizer = tokenizer
        self.min_df = min_df
        self.max_features = max_features
        self.vocabulary = vocabulary

    def _tokens(self, docs):
        return iter_tokenize(docs, lowercase=self.lowercase, tokenizer=self.tokenizer)

    def fit(self, docs, counted=None):
        """Learn the vocabulary; return the ``(ids, offsets, n_truncated)`` of ``docs``.

        ``counted``: a boolean mask of the documents the vocabulary is learned
        from (those of non-zero sample weight); None counts them all.
        """
        learned_from = docs
        if counted is not None and not counted.all():
            learned_from = [
                doc for doc, keep in zip(docs, counted, strict=True) if keep
            ]
        self.vocabulary, ids, offsets, n_truncated = build_vocabulary(
            self._tokens(learned_from),
            max_len=self.max_len,
            min_df=self.min_df,
            max_features=self.max_features,
        )
        if learned_from is docs:
            return ids, offsets, n_truncated
        return self.encode(docs)

    def encode(self, docs):
        """``(ids, offsets, n_truncated)`` of ``docs`` with the fitted vocabulary."""
        return encode(self._tokens(docs), self.vocabulary, max_len=self.max_len)

    def new_module(
        self, n_classes, *, embed_dim, num_heads, num_layers, ff_dim, **head
    ):
        """The classifier module, untrained; ``head``: ``pooling``, ``dropout``."""
        return TextClassifierModule(
            len(self.vocabulary),
            n_classes,
            embed_dim=embed_dim,
            num_heads=num_heads,
            num_layers=num_layers,
            ff_dim=ff_dim,
            max_len=self.max_len + 1,  # + the [CLS] token
            pad_id=PAD_ID,
            special_ids=(CLS_ID,),
            **head,
        )

    def _columns(self, ids, offsets):
        """The document, word id and word-pair bucket of each kept token."""
        ids = np.asarray(ids, dtype=np.int64)
        kept = ~np.isin(ids, self.hidden_ids)
        document = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        # Each document starts with [CLS], so no kept pair spans two documents.
        previous = np.concatenate([ids[:1], ids[:-1]])
        return document[kept], ids[kept], bigram_bucket(previous, ids)[kept]

    def fit_readout_weights(self, module, ids, offsets, sample_weight=None):
        """Set the module's word and word-pair idf from the documents, each
        counted ``sample_weight`` times (once when None)."""
        document, words, pairs = self._columns(ids, offsets)
        weights = np.ones(len(offsets) - 1) if sample_weight is None else sample_weight
        module.set_idf(
            _tfidf.idf(document, words, len(self.vocabulary), weights),
            _tfidf.idf(document, pairs, BIGRAM_BUCKETS, weights),
        )

    def linear_features(self, ids, offsets, module):
        """L2-normalised TF-IDF vectors of words and word pairs, sparse ``(n,
        vocab_size + BIGRAM_BUCKETS)``, with ``module``'s idf.

        A word pair is a token and the one before it, hashed as the module
        hashes it (:func:`~._text_module.bigram_bucket`). ``[PAD]`` and ``[CLS]``
        are left out as tokens.
        """
        document, words, pairs = self._columns(ids, offsets)
        idf = torch.cat([module.word_idf, module.pair_idf]).cpu().numpy()
        return _tfidf.tfidf_features(
            np.concatenate([document, document]),
            np.concatenate([words, pairs + len(self.vocabulary)]),
            len(offsets) - 1,
            idf,
        )

    build_module = new_module

    def configure(self, module, *, frozen):
        """Fit-time settings of ``module``: none for a model trained whole."""

    def files(self):
        """The settings ``save`` stores (the vocabulary is a fitted attribute)."""
        if self.tokenizer is not None:
            raise ValueError(
                "This model was fitted with a callable tokenizer, which cannot "
                "be saved: a callable is code, and the file stores data only. "
                "Keep it with pickle/joblib, or refit with tokenizer=None."
            )
        return {_SETTINGS: json.dumps({"kind": self.kind, "lowercase": self.lowercase})}


class PretrainedEncoder:
    """A pretrained Hugging Face encoder and its tokenizer.

    Parameters
    ----------
    backbone : str
        Local folder or hub name of the encoder.
    max_len : int
        Tokens (word pieces, special tokens included) kept per document.
    tokenizer : transformers tokenizer, default=None
        A loaded tokenizer (when restoring); None until :meth:`fit`.
    config : dict, default=None
        The encoder's configuration; set by :meth:`build_module`.
    """

    kind = "pretrained"
    can_freeze = True
    # (power, C) of the linear start on mean word embeddings: dense, few
    # columns, unscaled.
    linear_start_candidates = ((0.0, 100.0),)

    def __init__(self, *, backbone, max_len, tokenizer=None, config=None):
        self.backbone = backbone
        self.max_len = max_len
        self.tokenizer = tokenizer
        self.config = config

    def fit(self, docs, counted=None):
        """Load the tokenizer; return ``(ids, offsets, n_truncated)`` of ``docs``.

        ``counted`` is not needed: the tokenizer learns nothing from ``docs``.
        """
        tokenizer = _backbone.load_tokenizer(self.backbone)
        limit = tokenizer.model_max_length
        if self.max_len > limit:
            raise ValueError(
                f"max_len={self.max_len} exceeds the {limit} tokens that "
                f"backbone={self.backbone!r} can read."
            )
        self.tokenizer = tokenizer
        return self.encode(docs)

    def encode(self, docs):
        """``(ids, offsets, n_truncated)`` of ``docs``, special tokens included."""
        return _backbone.tokenize_for_backbone(
            self.tokenizer, docs, max_len=self.max_len
        )

    @property
    def pad_id(self):
        return self.tokenizer.pad_token_id

    @property
    def vocabulary(self):
        return self.tokenizer.get_vocab()

    @property
    def hidden_ids(self):
        """Every special token but the unknown one."""
        tokenizer = self.tokenizer
        return np.setdiff1d(tokenizer.all_special_ids, [tokenizer.unk_token_id])

    def _module(self, encoder, n_classes, *, pooling, dropout):
        return _backbone.BackboneClassifierModule(
            encoder,
            n_classes,
            pooling=pooling,
            dropout=dropout,
            pad_id=self.pad_id,
            special_ids=self.hidden_ids,
        )

    def build_module(self, n_classes, *, pooling, dropout, **_architecture):
        """The pretrained encoder with a new head (its own width is used)."""
        encoder = _backbone.load_encoder(self.backbone)
        self.config = encoder.config.to_dict()
        return self._module(encoder, n_classes, pooling=pooling, dropout=dropout)

    def new_module(self, n_classes, *, pooling, dropout, **_architecture):
        """The fitted architecture with untrained weights (for ``load``)."""
        encoder = _backbone.encoder_from_config(self.config)
        return self._module(encoder, n_classes, pooling=pooling, dropout=dropout)

    def fit_readout_weights(self, module, ids, offsets, sample_weight=None):
        """Nothing to set: the backbone's readout weighs tokens by attention only."""

    def linear_features(self, ids, offsets, module):
        """Mean input word embedding of each document ``(n, D)`` (special
        tokens but the unknown one left out), from ``module``'s encoder."""
        table = module.encoder.get_input_embeddings().weight.detach()
        table = table.cpu().double().numpy()  # (vocab, D)
        ids = np.asarray(ids, dtype=np.int64)
        kept = ~np.isin(ids, self.hidden_ids)
        frequencies = _frequencies(offsets, kept, ids, len(table))
        return np.asarray(frequencies @ table)

    def configure(self, module, *, frozen):
        """Fix or release the encoder's weights for this fit."""
        module.freeze(frozen)

    def files(self):
        """The tokenizer's files and the settings, for ``save``."""
        settings = json.dumps({"kind": self.kind, "backbone": self.backbone})
        return {**_backbone.tokenizer_files(self.tokenizer), _SETTINGS: settings}


def _frequencies(offsets, kept, columns, n_columns):
    """Sparse ``(n, n_columns)``: per document, the counts of its ``columns``
    where ``kept``, over its number of kept tokens (a row of zeros if none)."""
    document = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))[kept]
    counts = np.bincount(document, minlength=len(offsets) - 1)
    scale = 1.0 / np.maximum(counts, 1)
    return sp.csr_matrix(
        (scale[document], (document, np.asarray(columns)[kept])),
        shape=(len(offsets) - 1, n_columns),
    )


def restore_text_encoder(blobs, *, vocabulary, max_len, config, lowercase):
    """The encoder that :meth:`files` saved, from its blobs and fitted attributes.

    ``config`` is the backbone's configuration (None from scratch);
    ``lowercase`` is used for files written before the settings were saved.
    """
    blobs = dict(blobs)
    settings = json.loads(blobs.pop(_SETTINGS, "null")) or {
        "kind": "pretrained" if config is not None else "words",
        "lowercase": lowercase,
    }
    if settings["kind"] == "pretrained":
        return PretrainedEncoder(
            backbone=settings.get("backbone"),
            max_len=max_len,
            tokenizer=_backbone.tokenizer_from_files(blobs),
            config=config,
        )
    return WordEncoder(
        max_len=max_len,
        lowercase=settings["lowercase"],
        tokenizer=None,
        min_df=None,
        max_features=None,
        vocabulary=vocabulary,
    )
