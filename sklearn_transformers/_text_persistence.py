"""Persistence hooks of TransformerTextClassifier: the text encoder's state."""

from ._persistence_mixin import OutdatedFileError
from ._text_encoders import restore_text_encoder


class TextPersistenceMixin:
    """Persistence hooks of the text classifier.

    The encoder's state is saved as fitted attributes and named text blobs.
    """

    def _persist_extra(self):
        return self.text_encoder_.files()

    def _restore_extra(self, blobs):
        if not hasattr(self, "pooling_"):  # a file from before pooling="auto"
            self.pooling_ = self._fitted_params["pooling"]
        self.text_encoder_ = restore_text_encoder(
            blobs,
            vocabulary=self.vocabulary_,
            max_len=self.max_len_,
            config=getattr(self, "backbone_config_", None),
            lowercase=self.lowercase,
        )

    def _check_restored(self, module):
        # Token ids index the embedding table, and attention_weights sizes an
        # array by the largest id: a file's ids must lie inside the table.
        vocabulary = self.vocabulary_
        if not isinstance(vocabulary, dict) or not all(
            type(token) is str and type(i) is int for token, i in vocabulary.items()
        ):
            raise ValueError("vocabulary_ must map str tokens to int ids")
        ids = sorted(vocabulary.values())
        config = getattr(self, "backbone_config_", None)
        size = len(ids) if config is None else config.get("vocab_size", len(ids))
        if ids != sorted(set(ids)) or (ids and (ids[0] < 0 or ids[-1] >= size)):
            raise ValueError(
                f"vocabulary_ ids must be distinct and in [0, {size}), the rows "
                "of the embedding table"
            )

    def _check_stored(self, shapes):
        # The from-scratch readout weighs tokens by TF-IDF since 2026-12-07;
        # a file from before has the value tables without the idf.
        if "values.weight" in shapes and "word_idf" not in shapes:
            raise OutdatedFileError(
                "its text model has no TF-IDF weights (word_idf, pair_idf), "
                "which this version's attention readout reads its values with; "
                "refit it with this version and save it again"
            )

    def _restored_layer_counts(self):
        config = getattr(self, "backbone_config_", None)
        if config is None:
            return super()._restored_layer_counts()
        return [v for k, v in config.items() if k.endswith("layers")]
