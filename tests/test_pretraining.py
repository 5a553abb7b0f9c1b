"""Masked-word self-pretraining of TransformerTextClassifier (``pretrain_epochs``)."""

import numpy as np
import pytest
import torch

from sklearn_transformers import TransformerTextClassifier
from sklearn_transformers._pretraining import mask_tokens

TINY = dict(
    embed_dim=16,
    num_heads=2,
    num_layers=1,
    ff_dim=32,
    batch_size=8,
    max_epochs=2,
    random_state=0,
)
# Fixed phrases: a model that reads the context can predict a hidden word.
PHRASES = [
    "the food was really good and fresh",
    "the service was very slow and rude",
    "my dog loves these crunchy treats",
    "this coffee tastes bitter and burnt",
]
X = PHRASES * 10
y = ["pos", "neg", "pos", "neg"] * 10


def test_no_pretraining_by_default():
    clf = TransformerTextClassifier(**TINY).fit(X, y)
    assert clf.pretrain_loss_ == []


def test_pretraining_learns_to_predict_hidden_words():
    clf = TransformerTextClassifier(
        pretrain_epochs=30, lr=3e-3, dropout=0.0, **TINY
    ).fit(X, y)
    losses = clf.pretrain_loss_
    assert len(losses) == 30
    assert all(np.isfinite(losses))
    # Much better than the first epoch's near-uniform guesses.
    assert losses[-1] < 0.7 * losses[0]
    assert set(clf.predict(X)) <= {"pos", "neg"}


def test_pretraining_changes_the_model_and_is_reproducible():
    plain = TransformerTextClassifier(**TINY).fit(X, y)
    first = TransformerTextClassifier(pretrain_epochs=2, **TINY).fit(X, y)
    second = TransformerTextClassifier(pretrain_epochs=2, **TINY).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    # The encoder's states (the attention readout's probabilities stay near
    # its linear start, which pretraining does not touch).
    assert not np.allclose(first.transform(X), plain.transform(X), atol=1e-3)


def test_warm_start_does_not_pretrain_again():
    clf = TransformerTextClassifier(pretrain_epochs=2, warm_start=True, **TINY)
    losses = clf.fit(X, y).pretrain_loss_
    clf.fit(X, y)
    assert clf.pretrain_loss_ == losses
    assert clf.n_iter_ == 4


def test_pretraining_with_a_backbone_raises():
    clf = TransformerTextClassifier(backbone="any/model", pretrain_epochs=1)
    with pytest.raises(ValueError, match="pretrain_epochs=1 cannot be combined"):
        clf.fit(X, y)


@pytest.mark.parametrize("value", [-1, 1.5, "auto"])
def test_bad_pretrain_epochs_raise(value):
    with pytest.raises(ValueError, match="pretrain_epochs"):
        TransformerTextClassifier(pretrain_epochs=value, **TINY).fit(X, y)


def test_mask_tokens_never_touches_special_ids():
    torch.manual_seed(0)
    tokens = torch.randint(3, 50, (64, 40))
    tokens[:, 0] = 2  # [CLS]
    tokens[:, 30:] = 0  # padding
    special = torch.tensor([0, 1, 2])
    inputs, targets = mask_tokens(tokens, mask_id=1, special=special, vocab_size=50)
    chosen = targets != -100
    assert 0.10 < chosen[:, 1:30].float().mean() < 0.20  # about 15% of the words
    assert not chosen[:, 0].any() and not chosen[:, 30:].any()
    np.testing.assert_array_equal(inputs[:, 30:], 0)
    np.testing.assert_array_equal(inputs[:, 0], 2)
    np.testing.assert_array_equal(targets[chosen], tokens[chosen])
    # Most chosen words are hidden as the mask id; no padding is ever drawn.
    assert (inputs[chosen] == 1).float().mean() > 0.6
    assert not (inputs[:, :30] == 0).any()


def test_saved_model_keeps_its_pretraining_record(tmp_path):
    clf = TransformerTextClassifier(pretrain_epochs=2, **TINY).fit(X, y)
    clf.save(tmp_path / "clf.safetensors")
    loaded = TransformerTextClassifier.load(tmp_path / "clf.safetensors")
    assert loaded.pretrain_loss_ == clf.pretrain_loss_
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
