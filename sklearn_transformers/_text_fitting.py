"""Fit-time hooks of TransformerTextClassifier: data, module, calibration."""

import os

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    column_or_1d,
)

from ._backbone import PooledHead
from ._base import resolve_device
from ._calibration import fit_temperature
from ._data import DenseData, RaggedTokens
from ._documents import check_documents
from ._linear_start import fit_linear_start
from ._pretraining import pretrain_masked_lm
from ._text_encoders import PretrainedEncoder, WordEncoder
from ._vocabulary import UNK_ID

# calibration="auto" holds out data for temperature scaling from this many
# training documents on (fewer leave too small a held-out part).
AUTO_CALIBRATION_MIN_SAMPLES = 1000


class TextFittingMixin:
    """Hooks of :class:`AttentionEstimatorBase` for the text classifier's fit.

    Checks and encodes the documents and labels, builds the module (masked-LM
    pretraining, the linear start of the attention readout), and holds out
    data for temperature scaling. Placed before the base in the MRO.
    """

    def _auto_defaults(self):
        mode = 0 if self.backbone is None else 1 + bool(self.freeze_backbone)
        values = {name: values[mode] for name, values in self._auto.items()}
        # The attention readout from scratch (faithful, and as accurate as
        # the linear baselines); mean pooling with a backbone, where the
        # readout's values, each word piece's input embedding alone, cost
        # fine-tuning accuracy (0.786 against 0.839 on the fine-food reviews).
        pooling = self.pooling
        if pooling == "auto":
            pooling = values["pooling"] = "attention" if mode == 0 else "mean"
        if mode == 0 and pooling == "attention":
            # Starting from a linear model, the readout needs fewer epochs and
            # a gentler step: larger ones overfit (the log-loss rose above the
            # start's on the fine-food reviews and bird strikes).
            values["max_epochs"] = 4
            values["lr"] = 1e-4
        if mode == 2 and pooling == "attention":
            # Each epoch runs the fixed encoder (nothing can be cached).
            values["max_epochs"] = 3
        return values

    def _check_hyperparameters(self):
        if self.backbone is None:
            super()._check_hyperparameters()
        elif self.tokenizer is not None:
            raise ValueError(
                "tokenizer= cannot be combined with backbone=: the backbone "
                "brings its own tokenizer; set tokenizer=None."
            )
        elif self.pretrain_epochs:
            raise ValueError(
                f"pretrain_epochs={self.pretrain_epochs} cannot be combined with "
                "backbone=: a backbone comes pretrained; set pretrain_epochs=0."
            )

    def _prepare_data(self, X, y, sample_weight, *, reset, classes=None):
        docs = check_documents(X)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = column_or_1d(y, warn=True)
        check_consistent_length(docs, y)
        check_classification_targets(y)
        weights = self._sample_weight(sample_weight, docs)
        if reset:
            encoder = LabelEncoder().fit(y if classes is None else classes)
            if len(encoder.classes_) < 2:
                raise ValueError(
                    "y has a single class "
                    f"({encoder.classes_[0]!r}); a classifier needs at least two."
                )
            if classes is not None:
                self._check_known_labels(y, encoder.classes_)
            self.classes_ = encoder.classes_
        else:
            self._check_known_labels(y, self.classes_)
        y_encoded = np.searchsorted(self.classes_, y)

        if reset:
            self.text_encoder_ = self._new_text_encoder()
            counted = None if weights is None else weights > 0
            ids, offsets, n_truncated = self.text_encoder_.fit(docs, counted)
            self.vocabulary_ = self.text_encoder_.vocabulary
            self.max_len_ = self.text_encoder_.max_len
            self.pooling_ = self._resolved("pooling")
        else:
            ids, offsets, n_truncated = self.text_encoder_.encode(docs)
        self.n_truncated_ = n_truncated
        self._report_truncation(n_truncated, len(docs))
        return RaggedTokens(
            ids,
            offsets,
            torch.as_tensor(y_encoded),
            pad_id=self.text_encoder_.pad_id,
            w=weights,
        )

    def _new_text_encoder(self):
        """The encoder of the mode the parameters ask for, not fitted yet."""
        max_len = self._resolved("max_len")
        if self.backbone is None:
            return WordEncoder(
                max_len=max_len,
                lowercase=self.lowercase,
                tokenizer=self.tokenizer,
                min_df=self.min_df,
                max_features=self.max_features,
            )
        return PretrainedEncoder(backbone=os.fspath(self.backbone), max_len=max_len)

    @staticmethod
    def _check_known_labels(y, classes):
        unknown = np.setdiff1d(np.unique(y), classes)
        if len(unknown):
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not among the "
                f"classes {classes.tolist()} of the first fit."
            )

    def _report_truncation(self, n_truncated, n_docs):
        if self.verbose and n_truncated:
            print(
                f"{n_truncated} of {n_docs} documents are longer than "
                f"max_len={self.max_len_} tokens and were truncated."
            )

    def _module_args(self):
        """Architecture of the module: the first fit's values, and dropout."""
        fitted = self._fitted_params
        names = ("embed_dim", "num_heads", "num_layers", "ff_dim")
        return {
            **{name: fitted[name] for name in names},
            "pooling": self.pooling_,
            "dropout": self.dropout,
        }

    def _build_module(self, data):
        module = self.text_encoder_.build_module(
            len(self.classes_), **self._module_args()
        )
        config = getattr(self.text_encoder_, "config", None)
        if config is not None:  # a backbone: its architecture, saved by save()
            self.backbone_config_ = config
        self.pretrain_loss_ = []
        if self.pretrain_epochs and self.backbone is None:
            self.pretrain_loss_ = pretrain_masked_lm(
                module,
                data,
                epochs=self.pretrain_epochs,
                batch_size=self.batch_size,
                lr=self._resolved("lr"),
                weight_decay=self.weight_decay,
                mask_id=UNK_ID,
                special_ids=self.text_encoder_.hidden_ids,
                # Batch order from torch's generator, which fit has seeded.
                seed=int(torch.randint(np.iinfo(np.int32).max, ()).item()),
                device=resolve_device(self.device),
            )
        if self.pooling_ == "attention":
            ids, offsets = data.flat()
            weights = None if data.w is None else data.w.numpy()
            self.text_encoder_.fit_readout_weights(module, ids, offsets, weights)
            self._start_from_linear(module, data, ids, offsets)
        return module

    def _start_from_linear(self, module, data, ids, offsets):
        """Start the attention readout at a logistic regression.

        ``ids`` and ``offsets`` are ``data``'s documents, flat.

        Fitted on each document's features (its TF-IDF vector from scratch,
        its mean input word embedding with a backbone): with the
        readout's uniform starting attention the module then predicts what
        that linear model predicts, and training moves attention to the
        tokens that decide. Skipped (values start at zero) when a class has
        no document of non-zero weight, e.g. a first ``partial_fit``.
        """
        y = data.y.numpy()
        weights = None if data.w is None else data.w.numpy()
        present = y if weights is None else y[weights > 0]
        if len(np.unique(present)) < len(self.classes_):
            self.readout_start_ = None
            return
        coef, intercept, self.readout_start_ = fit_linear_start(
            self.text_encoder_.linear_features(ids, offsets, module),
            y,
            len(self.classes_),
            candidates=self.text_encoder_.linear_start_candidates,
            sample_weight=weights,
            # Weighted as the training loss is, so that training starts at the
            # optimum of a model of the same objective.
            class_weight=self._class_weights(data),
            # The held-out split from torch's generator, which fit has seeded.
            seed=int(torch.randint(np.iinfo(np.int32).max, ()).item()),
        )
        module.start_from_linear(coef, intercept)

    def _new_module(self):
        return self.text_encoder_.new_module(len(self.classes_), **self._module_args())

    def _configure_module(self, module):
        self.text_encoder_.configure(module, frozen=self.freeze_backbone)

    def _training_view(self, module, data, valid):
        attention = self.pooling_ == "attention"
        if attention or not (self.text_encoder_.can_freeze and self.freeze_backbone):
            # The attention readout needs every token's states in each epoch.
            return module, data, valid

        # A fixed encoder gives a document the same pooled embedding in every
        # epoch: compute them once, in inference batches, and train the head.
        def pooled(part):
            if part is None:
                return None
            embeddings = self._run_module_dense(part, "embed_documents", module=module)
            return DenseData(embeddings, part.y, part.w)

        return PooledHead(module), pooled(data), pooled(valid)

    def _class_weights(self, data):
        """The weight of each class (in ``classes_`` order), or None.

        "balanced" is ``n / (k * n_c)`` over the ``k`` classes present in
        ``data`` (a ``partial_fit`` batch may lack some; their weight, 1,
        enters no loss term).
        """
        if self.class_weight is None:
            return None
        y = data.y.numpy()
        sample_weight = None if data.w is None else data.w.numpy()
        if isinstance(self.class_weight, str):  # "balanced"
            counts = np.bincount(y, weights=sample_weight, minlength=len(self.classes_))
            present = counts > 0
            weights = np.ones(len(self.classes_))
            weights[present] = counts.sum() / (present.sum() * counts[present])
            return weights
        return compute_class_weight(
            self.class_weight,
            classes=self.classes_,
            y=self.classes_[y],
            sample_weight=sample_weight,
        )

    def _criterion(self, data):
        kwargs = {"label_smoothing": self.label_smoothing}
        weights = self._class_weights(data)
        if weights is not None:
            kwargs["weight"] = torch.as_tensor(weights, dtype=torch.float32)
        return torch.nn.CrossEntropyLoss, kwargs

    def _stratify(self, data):
        return data.y.numpy()

    def _holds_out(self):
        return self.early_stopping or self.calibration is not None

    def _holdout(self, data, seed):
        calibrating_only = not self.early_stopping and self.calibration == "auto"
        if calibrating_only and len(data) < AUTO_CALIBRATION_MIN_SAMPLES:
            return data, None
        return super()._holdout(data, seed)

    def _holdout_purpose(self):
        if self.early_stopping:
            return super()._holdout_purpose()
        return f"calibration={self.calibration!r}"

    def _after_training(self, module, valid, plan):
        if valid is None or self.calibration is None:
            if not (plan.partial and plan.continuing):
                self.temperature_ = 1.0
            return
        logits = self._run_module_dense(valid, "forward", module=module)
        weights = None if valid.w is None else valid.w.numpy()
        self.temperature_ = fit_temperature(logits, valid.y.numpy(), weights)
