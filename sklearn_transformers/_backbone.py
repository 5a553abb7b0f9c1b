"""Pretrained Hugging Face encoders as the text classifier's backbone.

The optional dependency ``transformers`` is imported inside the functions that
need it, so the package imports without it. Nothing here knows about
scikit-learn or skorch: :func:`load_tokenizer` and :func:`load_encoder` read a
local folder or a hub name, :func:`tokenize_for_backbone` turns documents into
token ids, and :class:`BackboneClassifierModule` puts pooling and a
classification head on the encoder.

Shapes use ``B`` (batch), ``L`` (sequence length), ``D`` (the encoder's hidden
size) and ``H`` (its attention heads).
"""

import base64
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ._modules import init_weights, received_attention
from ._text_module import AttentionReadout, ReadoutMixin, linear_values

__all__ = [
    "BackboneClassifierModule",
    "PooledHead",
    "encoder_from_config",
    "import_transformers",
    "load_encoder",
    "load_tokenizer",
    "tokenize_for_backbone",
    "tokenizer_files",
    "tokenizer_from_files",
]


def import_transformers():
    """Import and return ``transformers``, with a clear error when it is missing."""
    try:
        import transformers
    except ImportError as exc:
        raise ImportError(
            "backbone= needs the optional dependency 'transformers'; install it "
            "with: pip install 'sklearn-transformers[hf]'"
        ) from exc
    return transformers


@contextmanager
def _quiet(transformers):
    """Silence transformers' loading progress bars and notices for a moment."""
    logging = transformers.utils.logging
    bars_were_off = logging.is_progress_bar_enabled() is False
    verbosity = logging.get_verbosity()
    logging.disable_progress_bar()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if not bars_were_off:
            logging.enable_progress_bar()


def _load(kind, backbone, loader):
    transformers = import_transformers()
    try:
        with _quiet(transformers):
            return loader(transformers)
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(
            f"backbone={str(backbone)!r}: could not load its {kind}. Give a local "
            "folder holding a Hugging Face encoder (config.json, weights, "
            "tokenizer files) or a hub name that is already cached (set "
            f"HF_HUB_OFFLINE=1 to stay offline). The loader said: {exc}"
        ) from exc


def load_tokenizer(backbone):
    """The backbone's (fast) tokenizer; it must have a padding token."""
    tokenizer = _load(
        "tokenizer",
        backbone,
        lambda tf: tf.AutoTokenizer.from_pretrained(str(backbone)),
    )
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"backbone={str(backbone)!r} has no fast (Rust) tokenizer; "
            "sklearn-transformers needs one to count truncated documents."
        )
    if tokenizer.pad_token_id is None:
        raise ValueError(
            f"backbone={str(backbone)!r}: its tokenizer has no padding token, "
            "which batching needs; choose an encoder model (BERT, RoBERTa, "
            "MiniLM, ...)."
        )
    return tokenizer


def load_encoder(backbone):
    """The pretrained encoder (``AutoModel``), with its weights."""
    return _load(
        "model",
        backbone,
        lambda tf: tf.AutoModel.from_pretrained(str(backbone)),
    )


def encoder_from_config(config_dict):
    """An encoder with the architecture in ``config_dict`` and untrained weights."""
    transformers = import_transformers()
    config_class = type(transformers.AutoConfig.for_model(config_dict["model_type"]))
    config = config_class.from_dict(config_dict)
    with _quiet(transformers):
        return transformers.AutoModel.from_config(config)


_BINARY = "base64:"  # marks a tokenizer file that is not text


def tokenizer_files(tokenizer):
    """The tokenizer as its saved files: ``{file name: text}``.

    Files that are not UTF-8 text (a sentencepiece model) are stored as
    base64 behind a marker. Nothing here is pickled or executable.
    """
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        files = {}
        for path in sorted(Path(folder).iterdir()):
            data = path.read_bytes()
            try:
                files[path.name] = data.decode("utf-8")
            except UnicodeDecodeError:
                files[path.name] = _BINARY + base64.b64encode(data).decode("ascii")
    return files


def tokenizer_from_files(files):
    """Inverse of :func:`tokenizer_files`."""
    transformers = import_transformers()
    with tempfile.TemporaryDirectory() as folder:
        for name, text in files.items():
            path = Path(folder) / Path(name).name  # no path parts from the file
            if text.startswith(_BINARY):
                path.write_bytes(base64.b64decode(text[len(_BINARY) :]))
            else:
                path.write_text(text, encoding="utf-8")
        with _quiet(transformers):
            return transformers.AutoTokenizer.from_pretrained(folder)


def tokenize_for_backbone(tokenizer, documents, *, max_len):
    """Token ids of each document, special tokens included, at most ``max_len``.

    Text that looks like a special token (``"[SEP]"``) is split as plain text.

    Returns
    -------
    ids : ndarray of shape (n_tokens,)
        All documents' ids, one after another.
    offsets : ndarray of shape (n_documents + 1,)
        Document ``i`` is ``ids[offsets[i]:offsets[i + 1]]``.
    n_truncated : int
        Documents longer than ``max_len`` tokens.
    """
    encoded = tokenizer(
        documents,
        truncation=True,
        max_length=max_len,
        split_special_tokens=True,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    docs = encoded.encodings
    lengths = np.fromiter((len(e.ids) for e in docs), dtype=np.int64, count=len(docs))
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.fromiter(
        (i for e in docs for i in e.ids), dtype=np.int64, count=int(offsets[-1])
    )
    n_truncated = sum(1 for e in docs if e.overflowing)
    return ids, offsets, n_truncated


class BackboneClassifierModule(ReadoutMixin, nn.Module):
    """A pretrained encoder, pooling and a linear classification head.

    Token id ``pad_id`` marks padding; it is masked in the encoder's attention
    and in pooling. Input ``(B, L)`` int64 token ids, output ``(B, n_classes)``.

    With ``pooling="attention"`` the logits are an
    :class:`~._text_module.AttentionReadout` over the tokens other than
    ``special_ids``: scores from the encoder's last hidden states, values
    ``head(e_j)`` from each token's own input word embedding ``e_j``
    (non-contextual), so ``logits = bias + sum_j a_j * head(e_j)`` is an exact
    sum of per-token parts. :meth:`start_from_linear` starts ``head`` at a
    linear model of the documents' mean word embeddings.

    Parameters
    ----------
    encoder : transformers.PreTrainedModel
        An encoder returning ``last_hidden_state`` ``(B, L, D)``.
    n_classes : int
    pooling : {"mean", "cls", "max", "attention"}
    dropout : float
        Dropout on the pooled vector, before the head (not used by
        ``"attention"``).
    pad_id : int
    special_ids : sequence of int, default=()
        Tokens the attention readout leaves out (``[CLS]``, ``[SEP]``, ...).
    frozen : bool, default=False
        Keep the encoder's weights fixed (no gradients, no dropout) and train
        the head only. Can be changed later with :meth:`freeze`.
    """

    def __init__(
        self,
        encoder,
        n_classes,
        *,
        pooling,
        dropout,
        pad_id,
        special_ids=(),
        frozen=False,
    ):
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.pad_id = pad_id
        hidden_size = encoder.config.hidden_size
        self.register_buffer(
            "special_ids",
            torch.as_tensor(sorted({pad_id, *special_ids}), dtype=torch.long),
            persistent=False,
        )
        self.head_dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, n_classes)
        init_weights(self.head)
        if pooling == "attention":
            heads = encoder.config.num_attention_heads
            self.readout = AttentionReadout(hidden_size, heads, n_classes)
        self.freeze(frozen)

    def start_from_linear(self, coef, intercept):
        """Start the values at a linear model of mean word embeddings.

        ``coef`` ``(1 or C, D)`` and ``intercept`` as scikit-learn's
        ``LogisticRegression`` gives them; attention starts uniform, so the
        first logits are that model's.
        """
        values, bias = linear_values(coef, intercept)
        with torch.no_grad():
            self.head.weight.copy_(values)
            self.head.bias.zero_()
            self.readout.bias.copy_(bias)

    def freeze(self, frozen):
        """Fix (True) or release (False) the encoder's weights."""
        self.frozen = bool(frozen)
        self.encoder.requires_grad_(not self.frozen)
        self.train(self.training)

    def train(self, mode=True):
        super().train(mode)
        if self.frozen:
            self.encoder.eval()  # a fixed encoder keeps its dropout off
        return self

    def encode(self, tokens, *, need_weights=False):
        """Return hidden states ``(B, L, D)``, key mask ``(B, L)``, weights.

        The weights are the last layer's ``(B, H, L, L)`` attention
        probabilities when ``need_weights``, else None.
        """
        key_mask = tokens != self.pad_id  # (B, L)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            if need_weights:
                hidden, weights = self._encode_with_weights(tokens, key_mask)
            else:
                out = self.encoder(input_ids=tokens, attention_mask=key_mask.long())
                hidden, weights = out.last_hidden_state, None  # (B, L, D)
        return hidden, key_mask, weights

    def _encode_with_weights(self, tokens, key_mask):
        # Fused attention kernels do not return their probabilities: run the
        # plain ("eager") implementation for this call only.
        previous = self.encoder.config._attn_implementation
        self.encoder.set_attn_implementation("eager")
        try:
            out = self.encoder(
                input_ids=tokens,
                attention_mask=key_mask.long(),
                output_attentions=True,
            )
        finally:
            self.encoder.set_attn_implementation(previous)
        return out.last_hidden_state, out.attentions[-1]

    def contextual_states(self, tokens):
        """The encoder's last hidden states ``(B, L, D)``."""
        return self.encode(tokens)[0]

    def token_values(self, tokens, shown):
        """Per-class values ``(B, L, C)``: the head applied to each input word
        embedding (``shown`` is not needed: the values are unweighted)."""
        return self.head(self.encoder.get_input_embeddings()(tokens))

    def attention(self, tokens):
        """The attention that pools the document, ``(B, L)``.

        With ``pooling="attention"`` the readout's; otherwise the attention
        each token received in the encoder's last layer.
        """
        if self.pooling == "attention":
            return self.readout_parts(tokens)[0]
        _, key_mask, weights = self.encode(tokens, need_weights=True)
        return received_attention(weights, key_mask, self.pooling)

    # transformers models hold hooks that pickle cannot store; keep the
    # encoder as its configuration and weights instead, and rebuild it.
    def __getstate__(self):
        state = self.__dict__.copy()
        modules = dict(state["_modules"])
        encoder = modules.pop("encoder")
        state["_modules"] = modules
        state["_encoder"] = (
            encoder.config.to_dict(),
            encoder.config._attn_implementation,
            encoder.state_dict(),
        )
        return state

    def __setstate__(self, state):
        config, attn_implementation, weights = state.pop("_encoder")
        super().__setstate__(state)
        encoder = encoder_from_config(config)
        encoder.load_state_dict(weights)
        encoder.set_attn_implementation(attn_implementation)
        self._modules["encoder"] = encoder
        self.freeze(self.frozen)


class PooledHead(nn.Module):
    """The head of a :class:`BackboneClassifierModule`, on pooled embeddings.

    With a fixed encoder every document has the same pooled embedding in
    every epoch, so it is computed once and only this part trains: input
    ``(B, D)`` embeddings, output ``(B, n_classes)`` logits. It holds the
    whole classifier, so its ``parameters()`` are the classifier's, in the
    same order (the encoder's stay fixed).
    """

    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, pooled):
        return self.classifier.classify(pooled)
