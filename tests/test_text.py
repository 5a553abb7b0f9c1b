"""Tests of TransformerTextClassifier.

Its string input makes ``parametrize_with_checks`` yield nothing, so the
input-independent scikit-learn checks are called directly and the rest of the
contract is written out as explicit tests. Every model is tiny and seeded.
"""

import pickle
import re
from inspect import signature

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, LabelEncoder
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_estimators_unfitted,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
)
from sklearn.utils.validation import check_is_fitted

from sklearn_transformers import TransformerTextClassifier

TINY = dict(
    embed_dim=16,
    num_heads=2,
    num_layers=1,
    ff_dim=32,
    max_epochs=3,
    batch_size=8,
    random_state=0,
)

POSITIVE = ["good", "great", "excellent", "love", "wonderful", "superb"]
NEGATIVE = ["bad", "awful", "terrible", "hate", "boring", "dull"]
NEUTRAL = ["fine", "okay", "average", "decent", "mediocre", "passable"]
FILLER = (
    "the a movie film plot actor it was this story scene and of to acting music ending"
).split()


def make_reviews(n_samples, seed, groups=(POSITIVE, NEGATIVE), labels=None, p=None):
    """Synthetic reviews: filler words, two words of the document's class and
    one distracting word of another class, in random order."""
    rng = np.random.default_rng(seed)
    labels = list(range(len(groups))) if labels is None else labels
    X, y = [], []
    for _ in range(n_samples):
        k = rng.choice(len(groups), p=p)
        other = (k + 1 + rng.integers(len(groups) - 1)) % len(groups)
        words = list(rng.choice(FILLER, rng.integers(4, 12)))
        for word in [*rng.choice(groups[k], 2), rng.choice(groups[other])]:
            words.insert(rng.integers(len(words) + 1), str(word))
        X.append(" ".join(words))
        y.append(labels[k])
    return X, np.asarray(y)


X_SMALL, Y_SMALL = make_reviews(32, seed=0, labels=["neg", "pos"])


@pytest.fixture(scope="module")
def binary_clf():
    """A fitted binary classifier; tests must not refit or modify it."""
    return TransformerTextClassifier(**TINY).fit(X_SMALL, Y_SMALL)


@pytest.fixture(scope="module")
def multiclass_clf():
    """A fitted three-class classifier; tests must not refit or modify it."""
    X, y = make_reviews(
        48, seed=1, groups=(POSITIVE, NEGATIVE, NEUTRAL), labels=["a", "b", "c"]
    )
    return TransformerTextClassifier(**TINY).fit(X, y)


def _is_unfitted(clf):
    try:
        check_is_fitted(clf)
    except NotFittedError:
        return not hasattr(clf, "net_")
    return False


# ------------------------------------------------------- scikit-learn checks
@pytest.mark.parametrize(
    "check",
    [
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_get_params_invariance,
        check_set_params,
        check_estimator_cloneable,
        check_estimator_repr,
        check_do_not_raise_errors_in_init_or_set_params,
        check_mixin_order,
        check_valid_tag_types,
        check_estimator_tags_renamed,
        check_estimators_unfitted,
    ],
    ids=lambda check: check.__name__,
)
def test_sklearn_input_independent_checks(check):
    check(TransformerTextClassifier.__name__, TransformerTextClassifier())


def test_tags_declare_string_input():
    tags = TransformerTextClassifier().__sklearn_tags__()
    assert tags.input_tags.string
    assert not tags.input_tags.two_d_array
    assert tags.estimator_type == "classifier"


@pytest.mark.parametrize(
    "method",
    [
        "predict",
        "predict_proba",
        "decision_function",
        "transform",
        "attention_weights",
        "score",
        "get_feature_names_out",
    ],
)
def test_unfitted_methods_raise_not_fitted_error(method):
    clf = TransformerTextClassifier()
    args = {"score": (X_SMALL, Y_SMALL), "get_feature_names_out": ()}
    with pytest.raises(NotFittedError):
        getattr(clf, method)(*args.get(method, (X_SMALL,)))


# ---------------------------------------------------------- params and clone
def test_get_params_returns_init_arguments_untouched():
    callbacks = []
    clf = TransformerTextClassifier(
        embed_dim=24, tokenizer=str.split, callbacks=callbacks
    )
    params = clf.get_params()
    assert set(params) == set(signature(TransformerTextClassifier).parameters)
    assert params["embed_dim"] == 24
    assert params["tokenizer"] is str.split
    assert params["callbacks"] is callbacks


def test_set_params_changes_parameters_and_rejects_unknown_names():
    clf = TransformerTextClassifier()
    assert clf.set_params(num_heads=2, pooling="max") is clf
    assert clf.num_heads == 2
    assert clf.pooling == "max"
    with pytest.raises(ValueError, match="Invalid parameter"):
        clf.set_params(hidden_size=10)


def test_clone_of_fitted_classifier_is_unfitted_with_same_params(binary_clf):
    cloned = clone(binary_clf)
    assert cloned is not binary_clf
    assert cloned.get_params() == binary_clf.get_params()
    assert _is_unfitted(cloned)
    assert not hasattr(cloned, "vocabulary_")
    cloned.fit(X_SMALL, Y_SMALL)
    np.testing.assert_allclose(
        cloned.predict_proba(X_SMALL), binary_clf.predict_proba(X_SMALL)
    )


# ------------------------------------------------------------- composition
def _lower_documents(X):
    return [doc.lower() for doc in X]


def test_pipeline_with_function_transformer():
    pipe = make_pipeline(
        FunctionTransformer(_lower_documents), TransformerTextClassifier(**TINY)
    )
    X_upper = [doc.upper() for doc in X_SMALL]
    pipe.fit(X_upper, Y_SMALL)
    assert set(pipe.predict(X_upper)) <= {"neg", "pos"}
    assert pipe.predict_proba(X_upper).shape == (len(X_SMALL), 2)
    # lowercase=True by default, so the pipeline's lower-casing changes nothing
    assert (
        pipe[-1].vocabulary_
        == TransformerTextClassifier(**TINY).fit(X_SMALL, Y_SMALL).vocabulary_
    )


def test_pipeline_with_classifier_as_only_step_matches_classifier(binary_clf):
    pipe = Pipeline([("clf", TransformerTextClassifier(**TINY))]).fit(X_SMALL, Y_SMALL)
    np.testing.assert_allclose(
        pipe.predict_proba(X_SMALL), binary_clf.predict_proba(X_SMALL)
    )


@pytest.mark.parametrize("column", ["text", ["text"]])
def test_column_transformer_embeddings_then_logistic_regression(column):
    frame = pd.DataFrame(
        {"text": X_SMALL, "length": [len(doc) for doc in X_SMALL]},
    )
    model = make_pipeline(
        ColumnTransformer([("text", TransformerTextClassifier(**TINY), column)]),
        LogisticRegression(),
    )
    model.fit(frame, Y_SMALL)
    embeddings = model[0].transform(frame)
    assert embeddings.shape == (len(frame), TINY["embed_dim"])
    assert embeddings.dtype == np.float32
    assert set(model.predict(frame)) <= {"neg", "pos"}
    assert len(model[0].get_feature_names_out()) == TINY["embed_dim"]


def test_cross_val_score():
    X, y = make_reviews(40, seed=4)
    scores = cross_val_score(TransformerTextClassifier(**TINY), X, y, cv=2)
    assert scores.shape == (2,)
    assert np.all((scores >= 0) & (scores <= 1))


# ------------------------------------------------------------- persistence
def _pickle_round_trip(clf, tmp_path):
    return pickle.loads(pickle.dumps(clf))


def _joblib_round_trip(clf, tmp_path):
    path = tmp_path / "clf.joblib"
    joblib.dump(clf, path)
    return joblib.load(path)


@pytest.mark.parametrize("round_trip", [_pickle_round_trip, _joblib_round_trip])
def test_persistence_round_trip(binary_clf, round_trip, tmp_path):
    loaded = round_trip(binary_clf, tmp_path)
    np.testing.assert_array_equal(
        loaded.predict_proba(X_SMALL), binary_clf.predict_proba(X_SMALL)
    )
    np.testing.assert_array_equal(loaded.classes_, binary_clf.classes_)
    assert loaded.vocabulary_ == binary_clf.vocabulary_
    assert loaded.n_iter_ == binary_clf.n_iter_
    assert loaded.get_params().keys() == binary_clf.get_params().keys()


# ----------------------------------------------------------------- targets
@pytest.mark.parametrize(
    "y",
    [
        np.where(Y_SMALL == "pos", "yes", "no"),
        np.where(Y_SMALL == "pos", 7, -3),
        Y_SMALL == "pos",
        pd.Series(pd.Categorical(Y_SMALL, categories=["pos", "neg"])),
        pd.Series(pd.Categorical(np.where(Y_SMALL == "pos", 10, 20))),
        list(np.where(Y_SMALL == "pos", "yes", "no")),
    ],
    ids=["str", "int", "bool", "categorical-str", "categorical-int", "list"],
)
def test_labels_of_any_kind_round_trip(y):
    clf = TransformerTextClassifier(**TINY).fit(X_SMALL, y)
    expected_classes = LabelEncoder().fit(np.asarray(y)).classes_
    np.testing.assert_array_equal(clf.classes_, expected_classes)
    pred = clf.predict(X_SMALL)
    assert pred.shape == (len(X_SMALL),)
    assert set(pred.tolist()) <= set(np.asarray(y).tolist())
    assert np.asarray(pred).dtype.kind == np.asarray(expected_classes).dtype.kind
    assert all(type(p) is type(expected_classes[0]) for p in pred)


def test_binary_proba_decision_function_and_predict_agree(binary_clf):
    proba = binary_clf.predict_proba(X_SMALL)
    scores = binary_clf.decision_function(X_SMALL)
    pred = binary_clf.predict(X_SMALL)
    assert proba.shape == (len(X_SMALL), 2)
    assert scores.shape == (len(X_SMALL),)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(proba >= 0)
    np.testing.assert_array_equal(pred, binary_clf.classes_[(scores > 0).astype(int)])
    np.testing.assert_array_equal(pred, binary_clf.classes_[proba.argmax(axis=1)])
    assert binary_clf.score(X_SMALL, Y_SMALL) == accuracy_score(Y_SMALL, pred)


def test_multiclass_proba_decision_function_and_predict_agree(multiclass_clf):
    X, _ = make_reviews(20, seed=5, groups=(POSITIVE, NEGATIVE, NEUTRAL))
    np.testing.assert_array_equal(multiclass_clf.classes_, ["a", "b", "c"])
    proba = multiclass_clf.predict_proba(X)
    scores = multiclass_clf.decision_function(X)
    pred = multiclass_clf.predict(X)
    assert proba.shape == (len(X), 3)
    assert scores.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(pred, multiclass_clf.classes_[scores.argmax(axis=1)])
    np.testing.assert_array_equal(pred, multiclass_clf.classes_[proba.argmax(axis=1)])


def test_transform_and_feature_names(binary_clf):
    embeddings = binary_clf.transform(X_SMALL)
    assert embeddings.shape == (len(X_SMALL), TINY["embed_dim"])
    assert embeddings.dtype == np.float32
    assert np.all(np.isfinite(embeddings))
    names = binary_clf.get_feature_names_out()
    assert len(names) == TINY["embed_dim"]
    assert len(set(names)) == TINY["embed_dim"]
    assert all(name.startswith("transformertextclassifier") for name in names)


def test_fit_transform_equals_fit_then_transform(binary_clf):
    embeddings = TransformerTextClassifier(**TINY).fit_transform(X_SMALL, Y_SMALL)
    np.testing.assert_allclose(embeddings, binary_clf.transform(X_SMALL))


# ------------------------------------------------------ training behaviour
def test_fit_is_reproducible_and_leaves_global_rngs_alone(binary_clf):
    torch_state = torch.random.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 (the global RNG)
    refit = TransformerTextClassifier(**TINY)
    assert refit.fit(X_SMALL, Y_SMALL) is refit
    np.testing.assert_array_equal(
        refit.predict_proba(X_SMALL), binary_clf.predict_proba(X_SMALL)
    )
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


def test_other_random_state_gives_another_model(binary_clf):
    other = TransformerTextClassifier(**{**TINY, "random_state": 1})
    other.fit(X_SMALL, Y_SMALL)
    assert not np.allclose(
        other.predict_proba(X_SMALL), binary_clf.predict_proba(X_SMALL)
    )


def test_warm_start_continues_training():
    X_other, y_other = make_reviews(24, seed=6, labels=["neg", "pos"])
    clf = TransformerTextClassifier(**{**TINY, "max_epochs": 2, "warm_start": True})
    clf.fit(X_SMALL, Y_SMALL)
    module = clf.module_
    vocabulary = dict(clf.vocabulary_)
    weights = {k: v.clone() for k, v in module.state_dict().items()}
    first_losses = clf.history_[:, "train_loss"]

    clf.fit(X_other, y_other)
    assert clf.n_iter_ == 4
    assert len(clf.history_) == 4
    assert clf.history_[:2, "train_loss"] == first_losses
    assert clf.module_ is module  # the same module, trained further
    assert clf.vocabulary_ == vocabulary  # kept from the first fit
    changed = [not torch.equal(weights[k], v) for k, v in module.state_dict().items()]
    assert any(changed)


def test_warm_start_fit_decays_its_own_learning_rate_anew():
    clf = TransformerTextClassifier(**{**TINY, "max_epochs": 2, "warm_start": True})
    clf.fit(X_SMALL, Y_SMALL)
    clf.set_params(lr=5e-4).fit(X_SMALL, Y_SMALL)
    first_fit = [batch["event_lr"] for batch in clf.history_[0, "batches"]]
    second_fit = [batch["event_lr"] for batch in clf.history_[2, "batches"]]
    assert first_fit[0] == pytest.approx(1e-4)  # "auto" with the attention readout
    # The second fit's cosine starts at its own lr, from its first step.
    assert second_fit[0] == pytest.approx(5e-4)
    last = clf.history_[-1, "batches"][-1]["event_lr"]
    assert last < 0.05 * 5e-4


def test_larger_max_len_set_after_fit_leaves_predictions_unchanged():
    X = ["good film " * 10, "bad film", "great movie", "awful movie"] * 4
    y = ["pos", "neg", "pos", "neg"] * 4
    clf = TransformerTextClassifier(**TINY, max_len=4).fit(X, y)
    expected = clf.predict_proba(X)
    # The fitted model has positions for 4 tokens (+ [CLS]); inference keeps
    # reading 4 tokens, whatever max_len says now.
    clf.set_params(max_len=16)
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
    assert clf.max_len_ == 4


def test_warm_start_with_another_max_len_raises_and_keeps_the_model():
    X = ["good film " * 10, "bad film", "great movie", "awful movie"] * 4
    y = ["pos", "neg", "pos", "neg"] * 4
    clf = TransformerTextClassifier(**TINY, max_len=4, warm_start=True).fit(X, y)
    expected = clf.predict_proba(X)
    clf.set_params(max_len=16)
    with pytest.raises(ValueError, match="cannot change max_len from 4 to 16"):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
    assert clf.n_iter_ == TINY["max_epochs"]


@pytest.mark.parametrize(
    "changed",
    [
        {"backbone": "no/such/backbone"},
        {"lowercase": False},
        {"tokenizer": str.split},
        {"min_df": 5, "max_features": 3},
    ],
    ids=["backbone", "lowercase", "tokenizer", "vocabulary limits"],
)
def test_text_parameters_set_after_fit_do_not_change_inference(changed):
    # Inference reads text with the encoder fitted in fit, never with the
    # parameters as they are now.
    clf = TransformerTextClassifier(**TINY).fit(X_SMALL, Y_SMALL)
    docs = ["GOOD film, Bad movie!", "an awful plot", ""]
    expected = clf.predict_proba(docs), clf.attention_weights(docs)
    clf.set_params(**changed)
    np.testing.assert_array_equal(clf.predict_proba(docs), expected[0])
    assert [t for t, _ in clf.attention_weights(docs)] == [t for t, _ in expected[1]]


def test_fitted_with_callable_tokenizer_cannot_be_saved_after_set_params(tmp_path):
    clf = TransformerTextClassifier(**TINY, tokenizer=str.split)
    clf.fit(X_SMALL, Y_SMALL).set_params(tokenizer=None)
    path = tmp_path / "model.safetensors"
    with pytest.raises(ValueError, match="fitted with a callable tokenizer"):
        clf.save(path)
    assert not path.exists()


def test_loaded_model_reads_text_as_the_fitted_one(tmp_path):
    clf = TransformerTextClassifier(**TINY, lowercase=False).fit(X_SMALL, Y_SMALL)
    path = tmp_path / "model.safetensors"
    clf.save(path)
    loaded = TransformerTextClassifier.load(path).set_params(lowercase=True)
    docs = ["Good FILM", "good film"]
    assert [t for t, _ in loaded.attention_weights(docs)] == [
        t for t, _ in clf.attention_weights(docs)
    ]
    np.testing.assert_array_equal(loaded.predict_proba(docs), clf.predict_proba(docs))


def test_refit_without_warm_start_starts_anew():
    clf = TransformerTextClassifier(**{**TINY, "max_epochs": 2})
    clf.fit(X_SMALL, Y_SMALL)
    module = clf.module_
    clf.fit(X_SMALL, Y_SMALL)
    assert clf.n_iter_ == 2
    assert clf.module_ is not module


def test_warm_start_with_new_label_raises():
    clf = TransformerTextClassifier(**{**TINY, "max_epochs": 1, "warm_start": True})
    clf.fit(X_SMALL, Y_SMALL)
    y_new = np.where(Y_SMALL == "pos", "pos", "meh")
    with pytest.raises(ValueError, match="meh"):
        clf.fit(X_SMALL, y_new)
    assert clf.n_iter_ == 1


def test_partial_fit_counts_epochs_and_keeps_classes():
    X, y = make_reviews(30, seed=7, groups=(POSITIVE, NEGATIVE, NEUTRAL))
    first = y != 2  # the first call sees two of the three classes
    clf = TransformerTextClassifier(**TINY)
    clf.partial_fit([X[i] for i in np.flatnonzero(first)], y[first], classes=[0, 1, 2])
    assert clf.n_iter_ == 1
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    vocabulary = dict(clf.vocabulary_)
    for expected in (2, 3, 4):
        clf.partial_fit(X, y)
        assert clf.n_iter_ == expected
        assert len(clf.history_) == expected
    assert clf.vocabulary_ == vocabulary
    assert clf.predict_proba(X).shape == (len(X), 3)

    with pytest.raises(ValueError, match="not among the classes"):
        clf.partial_fit(X[:4], [0, 1, 5, 0])
    assert clf.n_iter_ == 4


def test_partial_fit_first_call_label_outside_classes_raises():
    clf = TransformerTextClassifier(**TINY)
    with pytest.raises(ValueError, match="not among the classes"):
        clf.partial_fit(X_SMALL, Y_SMALL, classes=["neg", "other"])
    assert not hasattr(clf, "net_")


@pytest.mark.parametrize("pooling", ["mean", "cls", "max"])
def test_prediction_does_not_depend_on_batch_mates(pooling):
    clf = TransformerTextClassifier(**{**TINY, "pooling": pooling, "max_len": 64})
    clf.fit(X_SMALL, Y_SMALL)
    document = "a good film with a dull ending"
    others = [
        " ".join(["great terrible movie and"] * 15),
        "",
        "bad",
        " ".join(X_SMALL[:3]),
        "superb",
    ]
    alone = clf.predict_proba([document])[0]
    together = clf.predict_proba([*others, document, *others])[len(others)]
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)
    emb_alone = clf.transform([document])[0]
    emb_together = clf.transform([*others, document])[len(others)]
    np.testing.assert_allclose(emb_together, emb_alone, rtol=1e-5, atol=1e-5)


def test_learns_better_than_majority_class():
    X_train, y_train = make_reviews(300, seed=10, p=[0.6, 0.4])
    X_test, y_test = make_reviews(200, seed=11, p=[0.6, 0.4])
    clf = TransformerTextClassifier(**{**TINY, "max_epochs": 10, "batch_size": 16})
    clf.fit(X_train, y_train)
    majority = max(np.mean(y_test == 0), np.mean(y_test == 1))
    assert clf.score(X_test, y_test) >= max(0.8, majority + 0.15)


@pytest.mark.parametrize("class_weight", ["balanced", {"neg": 5.0}, "default"])
def test_class_weight_shifts_probability_towards_minority(class_weight):
    # "default": the defaults weigh the classes too (rare ones not abandoned).
    X, y = make_reviews(60, seed=12, labels=["pos", "neg"], p=[0.85, 0.15])
    params = {**TINY, "batch_size": 16}
    plain = TransformerTextClassifier(**params, class_weight=None).fit(X, y)
    if class_weight != "default":
        params["class_weight"] = class_weight
    weighted = TransformerTextClassifier(**params).fit(X, y)
    minority = list(weighted.classes_).index("neg")
    assert (
        weighted.predict_proba(X)[:, minority].mean()
        > plain.predict_proba(X)[:, minority].mean()
    )


def test_label_smoothing_tempers_the_probabilities():
    # Separable reviews: the plain loss drives the probabilities toward 0 and
    # 1; with label smoothing 0.3 the target itself is 0.85, which the
    # training probabilities approach and do not pass by much.
    X, y = make_reviews(120, seed=13)
    params = {**TINY, "max_epochs": 10, "batch_size": 16, "lr": 3e-3}
    plain = TransformerTextClassifier(**params, label_smoothing=0.0).fit(X, y)
    smoothed = TransformerTextClassifier(**params, label_smoothing=0.3).fit(X, y)
    plain_top = plain.predict_proba(X).max(axis=1)
    smoothed_top = smoothed.predict_proba(X).max(axis=1)
    assert np.median(plain_top) > 0.9
    assert np.median(smoothed_top) < 0.9
    assert smoothed.score(X, y) >= plain.score(X, y) - 0.05


@pytest.mark.parametrize("metric", ["score", "loss"])
def test_early_stopping_stops_when_the_metric_stops_improving(metric):
    # Random labels on random words: the model can only memorise, so the
    # validation loss and accuracy soon stop improving.
    rng = np.random.default_rng(13)
    X = [" ".join(f"w{i}" for i in rng.integers(0, 500, 5)) for _ in range(80)]
    y = rng.integers(0, 2, 80)
    clf = TransformerTextClassifier(
        **{**TINY, "max_epochs": 50, "lr": 1e-2},
        early_stopping=True,
        early_stopping_metric=metric,
        n_iter_no_change=2,
        validation_fraction=0.25,
    ).fit(X, y)
    assert clf.n_iter_ < 50
    assert clf.n_iter_ == len(clf.history_)
    assert all(
        {"train_loss", "valid_loss", "valid_score"} <= set(r) for r in clf.history_
    )
    watched = clf.history_[:, f"valid_{metric}"]
    assert len(watched) == clf.n_iter_
    assert np.all(np.isfinite(watched))
    # it stopped because n_iter_no_change epochs did not beat the best one
    if metric == "loss":
        assert min(watched[-2:]) >= min(watched[:-2]) * (1 - 1e-4)
    else:
        assert max(watched[-2:]) <= max(watched[:-2]) + 1e-4


def test_early_stopping_records_valid_loss_and_respects_max_epochs():
    clf = TransformerTextClassifier(
        **TINY, early_stopping=True, validation_fraction=0.25
    ).fit(X_SMALL, Y_SMALL)
    assert 1 <= clf.n_iter_ <= TINY["max_epochs"]
    assert all("valid_loss" in record for record in clf.history_)
    plain = TransformerTextClassifier(**TINY).fit(X_SMALL, Y_SMALL)
    assert all({"train_loss", "train_score"} <= set(r) for r in plain.history_)
    assert not any("valid_loss" in record for record in plain.history_)


@pytest.mark.parametrize("verbose", [0, 1])
def test_verbose_prints_one_line_per_epoch(verbose, capsys):
    TransformerTextClassifier(**TINY, verbose=verbose).fit(X_SMALL, Y_SMALL)
    captured = capsys.readouterr()
    if verbose == 0:
        assert captured.out == ""
        assert captured.err == ""
        return
    lines = captured.out.strip().splitlines()
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", line).split() for line in lines]
    epoch_lines = [words for words in plain if words and words[0].isdigit()]
    assert [int(words[0]) for words in epoch_lines] == [1, 2, 3]
    assert len(lines) <= TINY["max_epochs"] + 2  # at most a header on top


def test_truncation_is_counted_and_attention_tokens_are_capped():
    X = ["good film", "bad " * 10, "great movie " * 4, "awful"] * 4
    y = ["pos", "neg", "pos", "neg"] * 4
    clf = TransformerTextClassifier(**TINY, max_len=5).fit(X, y)
    assert clf.n_truncated_ == 8
    for tokens, weights in clf.attention_weights(X[:4]):
        assert 0 < len(tokens) <= 5
        assert len(weights) == len(tokens)
    tokens, _ = clf.attention_weights(["great movie " * 4])[0]
    assert tokens == ["great", "movie", "great", "movie", "great"]
    assert clf.predict(["bad " * 1000]).shape == (1,)


@pytest.mark.parametrize("pooling", ["mean", "cls", "max"])
def test_attention_weights(pooling):
    clf = TransformerTextClassifier(**TINY, pooling=pooling).fit(X_SMALL, Y_SMALL)
    docs = ["A good film, zyzzyva!", "", "bad", X_SMALL[0]]
    result = clf.attention_weights(docs)
    assert isinstance(result, list)
    assert len(result) == len(docs)
    tokens, weights = result[0]
    assert tokens == ["a", "good", "film", "[UNK]", "[UNK]", "[UNK]"]
    assert result[1][0] == []
    assert len(result[1][1]) == 0
    for tokens, weights in result[2:]:
        assert all(isinstance(token, str) for token in tokens)
        assert "[PAD]" not in tokens
        assert "[CLS]" not in tokens
        weights = np.asarray(weights)
        assert weights.shape == (len(tokens),)
        assert np.issubdtype(weights.dtype, np.floating)
        assert np.all(weights >= 0)
        np.testing.assert_allclose(weights.sum(), 1.0)


def test_empty_string_is_a_valid_document():
    X = ["", *X_SMALL[1:]]
    clf = TransformerTextClassifier(**TINY).fit(X, Y_SMALL)
    proba = clf.predict_proba(["", "   ", "!?"])
    assert proba.shape == (3, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.transform([""]).shape == (1, TINY["embed_dim"])


def test_all_empty_documents_still_fit():
    clf = TransformerTextClassifier(**TINY).fit([""] * 8, [0, 1] * 4)
    assert len(clf.vocabulary_) == 3
    assert clf.predict(["", "unseen words"]).shape == (2,)


def test_custom_tokenizer_is_used():
    calls = []

    def split_on_spaces(text):
        calls.append(text)
        return text.split(" ")

    X = ["Good, film!", "bad. film", "good", "bad!"] * 4
    y = [1, 0, 1, 0] * 4
    clf = TransformerTextClassifier(**TINY, tokenizer=split_on_spaces).fit(X, y)
    assert len(calls) == len(X)
    assert calls[0] == "good, film!"  # lower-cased before tokenizing
    assert {"good,", "film!", "bad.", "bad!"} <= set(clf.vocabulary_)
    assert "," not in clf.vocabulary_
    clf.predict(["good, film!"])
    assert calls[-1] == "good, film!"


def test_char_tokenizer():
    clf = TransformerTextClassifier(**TINY, tokenizer=list).fit(X_SMALL, Y_SMALL)
    assert all(len(token) == 1 for token in list(clf.vocabulary_)[3:])


@pytest.mark.parametrize(
    "tokenizer",
    [str, lambda text: [1, 2], lambda text: None],
    ids=["str", "ints", "none"],
)
def test_bad_tokenizer_output_raises_type_error(tokenizer):
    clf = TransformerTextClassifier(**TINY, tokenizer=tokenizer)
    with pytest.raises(TypeError, match="tokenizer must return a list of str"):
        clf.fit(X_SMALL, Y_SMALL)
    assert not hasattr(clf, "net_")


def test_special_token_strings_in_text_do_not_break_fit():
    # A tokenizer may produce the literal strings "[PAD]", "[UNK]" or "[CLS]"
    # (here: str.split without lower-casing); they must not corrupt the ids.
    X = ["[CLS] good film", "[PAD] bad film", "[UNK] good", "bad [UNK]"] * 4
    y = ["pos", "neg", "pos", "neg"] * 4
    clf = TransformerTextClassifier(**TINY, tokenizer=str.split, lowercase=False)
    clf.fit(X, y)
    assert [clf.vocabulary_[t] for t in ("[PAD]", "[UNK]", "[CLS]")] == [0, 1, 2]
    assert sorted(clf.vocabulary_.values()) == list(range(len(clf.vocabulary_)))
    assert clf.predict(X).shape == (len(X),)


@pytest.mark.parametrize("lowercase", [True, False])
def test_lowercase(lowercase):
    X = ["Good film", "good film", "BAD film", "bad film"] * 4
    y = [1, 1, 0, 0] * 4
    clf = TransformerTextClassifier(**TINY, lowercase=lowercase).fit(X, y)
    assert ("Good" in clf.vocabulary_) is not lowercase
    assert ("BAD" in clf.vocabulary_) is not lowercase
    assert "good" in clf.vocabulary_
    assert "bad" in clf.vocabulary_


@pytest.mark.parametrize("pooling", ["mean", "cls", "max"])
def test_pooling_options(pooling, binary_clf):
    clf = TransformerTextClassifier(**TINY, pooling=pooling).fit(X_SMALL, Y_SMALL)
    assert clf.module_.pooling == pooling
    assert clf.predict_proba(X_SMALL).shape == (len(X_SMALL), 2)
    embeddings = clf.transform(X_SMALL)
    assert embeddings.shape == (len(X_SMALL), TINY["embed_dim"])
    assert np.all(np.isfinite(embeddings))
    if pooling != "mean":
        assert not np.allclose(embeddings, binary_clf.transform(X_SMALL))


def test_max_features_caps_vocabulary():
    clf = TransformerTextClassifier(**TINY, max_features=5).fit(X_SMALL, Y_SMALL)
    assert len(clf.vocabulary_) == 5 + 3
    uncapped = TransformerTextClassifier(**TINY).fit(X_SMALL, Y_SMALL)
    assert len(uncapped.vocabulary_) > 5 + 3
    assert clf.module_.embed.num_embeddings == len(clf.vocabulary_)


@pytest.mark.parametrize(
    "min_df, expected",
    [
        (1, {"common", "shared", "twice", "once", "x"}),
        (2, {"common", "shared", "twice"}),
        (3, {"common", "shared"}),
        (0.25, {"common", "shared", "twice"}),
        (0.375, {"common", "shared"}),
    ],
)
def test_min_df_filters_rare_tokens(min_df, expected):
    X = ["common once", "common twice twice", "common twice", "common x"]
    X += ["common shared", "common shared", "common shared shared", "common"]
    clf = TransformerTextClassifier(**TINY, min_df=min_df).fit(X, [0, 1] * 4)
    assert set(clf.vocabulary_) == {"[PAD]", "[UNK]", "[CLS]", *expected}


def test_min_df_float_one_keeps_tokens_in_every_document():
    X = ["common a", "common b", "common c", "common a"]
    clf = TransformerTextClassifier(**TINY, min_df=1.0).fit(X, [0, 1, 0, 1])
    assert set(clf.vocabulary_) == {"[PAD]", "[UNK]", "[CLS]", "common"}


@pytest.mark.parametrize(
    "convert",
    [
        list,
        tuple,
        np.array,
        lambda X: np.array(X, dtype=object),
        pd.Series,
        lambda X: pd.Series(X, dtype="string"),
        lambda X: pd.DataFrame({"text": X}),
        lambda X: np.array(X, dtype=object).reshape(-1, 1),
        lambda X: np.array(X).reshape(-1, 1),
    ],
    ids=[
        "list",
        "tuple",
        "ndarray-str",
        "ndarray-object",
        "series",
        "series-string",
        "dataframe",
        "ndarray-column",
        "ndarray-str-column",
    ],
)
def test_input_containers_give_same_predictions(convert, binary_clf):
    np.testing.assert_array_equal(
        binary_clf.predict_proba(convert(X_SMALL)), binary_clf.predict_proba(X_SMALL)
    )
    refit = TransformerTextClassifier(**TINY).fit(convert(X_SMALL), Y_SMALL)
    np.testing.assert_array_equal(
        refit.predict_proba(X_SMALL), binary_clf.predict_proba(X_SMALL)
    )


# -------------------------------------------------------------- bad inputs
BAD_X = [
    ("a single document", TypeError, "single str"),
    (b"bytes", TypeError, "single bytes"),
    (["good", "bad", None, "fine"], ValueError, "missing document.*index 2"),
    (["good", np.nan, "bad", "fine"], ValueError, "missing document.*index 1"),
    (pd.Series(["good", "bad", "ok", None]), ValueError, "missing.*index 3"),
    (pd.Series(["good", pd.NA, "a", "b"], dtype="string"), ValueError, "index 1"),
    (["good", 3, "bad", "fine"], TypeError, "int 3 at index 1"),
    (["good", "bad", "ok", b"fine"], TypeError, "bytes.*index 3"),
    (np.arange(4.0), TypeError, "float.*index 0"),
    (np.zeros((4, 3)), ValueError, r"shape \(4, 3\)"),
    (np.full((4, 2), "text", dtype=object), ValueError, r"shape \(4, 2\)"),
    (pd.DataFrame({"a": ["x"] * 4, "b": ["y"] * 4}), ValueError, "2 columns"),
    (np.zeros((4, 1, 1)), ValueError, "shape"),
    ([], ValueError, "empty"),
    (np.array([], dtype=object), ValueError, "empty"),
    (sp.csr_matrix(np.ones((4, 2))), TypeError, "csr"),
    (42, TypeError, "int"),
]


@pytest.mark.parametrize("X, error, match", BAD_X)
def test_bad_documents_raise_before_training(X, error, match):
    clf = TransformerTextClassifier(**TINY)
    with pytest.raises(error, match=match):
        clf.fit(X, ["a", "b", "a", "b"])
    assert _is_unfitted(clf)


@pytest.mark.parametrize("X, error, match", BAD_X)
def test_bad_documents_raise_at_predict(X, error, match, binary_clf):
    with pytest.raises(error, match=match):
        binary_clf.predict(X)


@pytest.mark.parametrize(
    "y, match",
    [
        (["a", "b", "a"], "inconsistent numbers of samples"),
        (["a", "b", "a", "b", "a"], "inconsistent numbers of samples"),
        (["a", "a", "a", "a"], "single class"),
        ([0.5, 1.5, 2.25, 3.125], "Unknown label type"),
        (None, "requires y"),
    ],
)
def test_bad_targets_raise_before_training(y, match):
    clf = TransformerTextClassifier(**TINY)
    with pytest.raises(ValueError, match=match):
        clf.fit(["good", "bad", "fine", "meh"], y)
    assert _is_unfitted(clf)


@pytest.mark.parametrize(
    "params, match",
    [
        (
            dict(embed_dim=30, num_heads=4),
            "embed_dim=30 must be divisible by num_heads=4",
        ),
        (dict(dropout=1.5), "dropout"),
        (dict(pooling="sum"), "pooling"),
        (dict(lr=-1), "lr"),
        (dict(lr=0), "lr"),
        (dict(max_len=0), "max_len"),
        (dict(max_features=0), "max_features"),
        (dict(min_df=0), "min_df"),
        (dict(min_df=1.5), "min_df"),
        (dict(embed_dim=0), "embed_dim"),
        (dict(num_layers=0), "num_layers"),
        (dict(batch_size=0), "batch_size"),
        (dict(max_epochs=0), "max_epochs"),
        (dict(validation_fraction=1.0), "validation_fraction"),
        (dict(n_iter_no_change=0), "n_iter_no_change"),
        (dict(class_weight="auto"), "class_weight"),
        (dict(tokenizer="split"), "tokenizer"),
        (dict(lowercase="yes"), "lowercase"),
        (dict(weight_decay=-0.1), "weight_decay"),
        (dict(label_smoothing=1.0), "label_smoothing"),
        (dict(label_smoothing=-0.1), "label_smoothing"),
    ],
)
def test_invalid_hyperparameters_raise_value_error_before_training(params, match):
    clf = TransformerTextClassifier(**{**TINY, **params})
    with pytest.raises(ValueError, match=match):
        clf.fit(X_SMALL, Y_SMALL)
    assert _is_unfitted(clf)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_unavailable_cuda_raises_value_error(device):
    clf = TransformerTextClassifier(**TINY, device=device)
    with pytest.raises(ValueError, match="CUDA is not available"):
        clf.fit(X_SMALL, Y_SMALL)
    assert _is_unfitted(clf)


@pytest.mark.parametrize("device", ["tpu", "gpu", "xla"])
def test_unknown_device_raises_value_error(device):
    clf = TransformerTextClassifier(**TINY, device=device)
    with pytest.raises(ValueError, match=f"device='{device}'"):
        clf.fit(X_SMALL, Y_SMALL)
    assert _is_unfitted(clf)


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu"), "auto"])
def test_cpu_device_spellings(device):
    clf = TransformerTextClassifier(**{**TINY, "max_epochs": 1}, device=device)
    clf.fit(X_SMALL, Y_SMALL)
    if device == "auto" and (
        torch.cuda.is_available() or torch.backends.mps.is_available()
    ):
        pytest.skip("'auto' picks an accelerator here")
    assert next(clf.module_.parameters()).device.type == "cpu"
