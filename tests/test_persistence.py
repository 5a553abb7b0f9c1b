"""Tests of ``save`` / ``load``: one safetensors file, no pickle.

Each model is tiny, seeded and fitted once per module; tests that train on
work on copies.
"""

import copy
import json
import math
import pathlib
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save as save_tensors
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback
from skorch.history import History

from sklearn_transformers import (
    AttentionTimeSeriesRegressor,
    TransformerTextClassifier,
    make_windows,
)
from sklearn_transformers._persistence import _digest, decode, encode

TEXT = dict(
    embed_dim=8,
    num_heads=2,
    num_layers=1,
    ff_dim=16,
    max_epochs=2,
    batch_size=8,
    min_df=1,
    random_state=0,
)
SERIES = dict(
    embed_dim=8, num_heads=2, num_layers=1, ff_dim=16, max_epochs=2, random_state=0
)
WORDS = [
    ["good", "great", "love", "superb"],
    ["bad", "awful", "hate", "dull"],
    ["fine", "okay", "average", "decent"],
]
FILLER = "the a movie film plot it was this story and of".split()


def _reviews(n_samples=36, n_classes=2, seed=0):
    """Documents of filler words and two words of their class; class indices."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % n_classes
    X = [
        " ".join([*rng.choice(FILLER, 5), *rng.choice(WORDS[k], 2)])
        for k in rng.permutation(y)
    ]
    return X, rng.permutation(y)


X_TEXT, Y_TEXT = _reviews()
X_TEXT3, Y_TEXT3 = _reviews(n_classes=3)


def _series(n_times=80, n_features=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_times)[:, None]
    return np.sin(2 * np.pi * (t + 3 * np.arange(n_features)) / 12) + 0.1 * (
        rng.standard_normal((n_times, n_features))
    )


# ------------------------------------------------------------- fixtures
CLASSIFIER_CASES = {
    "str labels": (X_TEXT, np.array(["neg", "pos"])[Y_TEXT], {}),
    "int labels": (X_TEXT, Y_TEXT * 7 - 3, {}),
    "bool labels": (X_TEXT, Y_TEXT.astype(bool), {}),
    "categorical labels": (
        X_TEXT,
        pd.Series(pd.Categorical(np.array(["no", "yes"])[Y_TEXT])),
        {},
    ),
    "3 classes": (X_TEXT3, np.array(["a", "b", "c"])[Y_TEXT3], {}),
    "class_weight int keys": (X_TEXT, Y_TEXT, {"class_weight": {0: 1.0, 1: 3.0}}),
    "cls pooling": (X_TEXT, Y_TEXT, {"pooling": "cls", "lr_schedule": "constant"}),
}


def _regressor_case(name):
    if name == "2-D windows":
        X, y = make_windows(_series()[:, 0], window=8)
        return X, y, {}
    if name == "3-D windows":
        X, y = make_windows(_series(n_features=2), window=8, target=1)
        return X, y, {"positional_encoding": "learned", "pooling": "mean"}
    if name == "horizon 2":
        X, y = make_windows(_series()[:, 0], window=8, horizon=2)
        return X, y, {}
    if name == "DataFrame":
        X, y = make_windows(_series()[:, 0], window=6)
        frame = pd.DataFrame(X, columns=[f"lag_{6 - i}" for i in range(6)])
        return frame, y, {}
    if name == "standardize False":
        X, y = make_windows(_series()[:, 0], window=8)
        return X, y, {"standardize": False, "linear_shortcut": False}
    raise KeyError(name)


REGRESSOR_CASES = [
    "2-D windows",
    "3-D windows",
    "horizon 2",
    "DataFrame",
    "standardize False",
]


@pytest.fixture(scope="module", params=list(CLASSIFIER_CASES))
def fitted_classifier(request):
    """(fitted classifier, X); tests must not modify the classifier."""
    X, y, params = CLASSIFIER_CASES[request.param]
    return TransformerTextClassifier(**TEXT, **params).fit(X, y), X


@pytest.fixture(scope="module", params=REGRESSOR_CASES)
def fitted_regressor(request):
    """(fitted regressor, X); tests must not modify the regressor."""
    X, y, params = _regressor_case(request.param)
    return AttentionTimeSeriesRegressor(**SERIES, **params).fit(X, y), X


@pytest.fixture(scope="module")
def classifier_and_data():
    clf = TransformerTextClassifier(**TEXT).fit(X_TEXT, Y_TEXT)
    return clf, X_TEXT, Y_TEXT


@pytest.fixture(scope="module")
def regressor_and_data():
    X, y, _ = _regressor_case("2-D windows")
    return AttentionTimeSeriesRegressor(**SERIES).fit(X, y), X, y


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, classifier_and_data):
    """A saved classifier, to corrupt in copies."""
    path = tmp_path_factory.mktemp("model") / "clf.safetensors"
    classifier_and_data[0].save(path)
    return path


# -------------------------------------------------------------- helpers
def _round_trip(estimator, tmp_path, **load_params):
    path = tmp_path / "model.safetensors"
    estimator.save(path)
    return type(estimator).load(path, **load_params)


def _assert_identical(a, b, where="value"):
    """Equal values of the same types, arrays of the same dtype, NaN == NaN."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _assert_identical(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, (float, np.floating)) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def _fitted_attributes(estimator):
    skip = set(estimator._not_persisted)  # kept as tensors or rebuilt on load
    params = estimator.get_params(deep=False)
    return {
        name: value
        for name, value in vars(estimator).items()
        if name not in params and name not in skip
    }


def _assert_same_weights(a, b):
    state_a, state_b = a.module_.state_dict(), b.module_.state_dict()
    assert list(state_a) == list(state_b)
    for name in state_a:
        torch.testing.assert_close(state_a[name], state_b[name], rtol=0, atol=0)


def _without_durations(history):
    return [
        {key: value for key, value in record.items() if key not in ("dur", "batches")}
        for record in history
    ]


def _rewrite(path, edit_metadata=None, edit_tensors=None, checksum=True):
    """Rewrite a model file with edited metadata / tensors (checksum fixed)."""
    with safe_open(path, framework="pt") as file:
        metadata = file.metadata()
        tensors = {name: file.get_tensor(name) for name in file.keys()}
    if edit_metadata:
        edit_metadata(metadata)
    if edit_tensors:
        edit_tensors(tensors)
    if checksum:
        metadata["sha256"] = _digest(metadata, tensors)
    path.write_bytes(save_tensors(tensors, metadata=metadata))
    return path


def _copy(src, tmp_path, name="copy.safetensors"):
    dst = tmp_path / name
    dst.write_bytes(src.read_bytes())
    return dst


# ----------------------------------------------------------- round trips
def test_classifier_round_trip(fitted_classifier, tmp_path):
    clf, X = fitted_classifier
    loaded = _round_trip(clf, tmp_path)

    assert type(loaded) is TransformerTextClassifier
    assert loaded.get_params() == clf.get_params()
    _assert_identical(_fitted_attributes(loaded), _fitted_attributes(clf))
    _assert_same_weights(loaded, clf)
    for method in ["predict", "predict_proba", "decision_function", "transform"]:
        _assert_identical(getattr(loaded, method)(X), getattr(clf, method)(X), method)
    _assert_identical(loaded.attention_weights(X), clf.attention_weights(X))
    assert isinstance(loaded.history_, History)
    assert loaded.history_ == clf.history_
    assert loaded.n_iter_ == clf.n_iter_ == TEXT["max_epochs"]
    assert not hasattr(loaded, "net_")
    assert loaded.score(X, clf.predict(X)) == 1.0


def test_categorical_labels_come_back_as_given(tmp_path):
    _, y, _ = CLASSIFIER_CASES["categorical labels"]
    clf = TransformerTextClassifier(**TEXT).fit(X_TEXT, y)
    loaded = _round_trip(clf, tmp_path)
    assert set(loaded.predict(X_TEXT)) <= set(y.cat.categories)
    _assert_identical(loaded.classes_, clf.classes_)


def test_regressor_round_trip(fitted_regressor, tmp_path):
    reg, X = fitted_regressor
    loaded = _round_trip(reg, tmp_path)

    assert type(loaded) is AttentionTimeSeriesRegressor
    assert loaded.get_params() == reg.get_params()
    _assert_identical(_fitted_attributes(loaded), _fitted_attributes(reg))
    _assert_same_weights(loaded, reg)
    for method in ["predict", "transform", "attention_weights"]:
        _assert_identical(getattr(loaded, method)(X), getattr(reg, method)(X), method)
    assert loaded.history_ == reg.history_
    assert loaded.n_iter_ == reg.n_iter_
    if isinstance(X, pd.DataFrame):
        _assert_identical(loaded.feature_names_in_, np.asarray(X.columns, dtype=object))
        with pytest.warns(UserWarning, match="feature names"):
            loaded.predict(X.to_numpy())


def test_saving_a_loaded_model_writes_the_same_content(classifier_and_data, tmp_path):
    clf = classifier_and_data[0]
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    clf.save(first)
    TransformerTextClassifier.load(first).save(second)
    with safe_open(first, "pt") as a, safe_open(second, "pt") as b:
        assert a.metadata() == b.metadata()
        assert sorted(a.keys()) == sorted(b.keys())
        for name in a.keys():
            assert torch.equal(a.get_tensor(name), b.get_tensor(name)), name


def test_new_fitted_attributes_are_saved_without_code_changes(
    regressor_and_data, tmp_path
):
    reg = copy.deepcopy(regressor_and_data[0])
    reg.calibration_ = {"levels": (0.1, 0.9), 3: np.float32(0.5)}
    loaded = _round_trip(reg, tmp_path)
    _assert_identical(loaded.calibration_, reg.calibration_)


def test_unsavable_fitted_attribute_raises_type_error(regressor_and_data, tmp_path):
    reg = copy.deepcopy(regressor_and_data[0])
    reg.scaler_ = object()
    path = tmp_path / "model.safetensors"
    with pytest.raises(TypeError, match="'scaler_'.*object"):
        reg.save(path)
    assert not path.exists()


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        -(2**70),
        0.1,
        -0.0,
        float("nan"),
        float("inf"),
        -float("inf"),
        "text ü",
        (1, (2.5, "x")),
        [1, [2, None]],
        {0: 1.0, 1: 3.0},
        {"__type__": "not a tag", "b": [1]},
        {(1, "a"): "tuple key", None: False},
        np.float32(1 / 3),
        np.int64(-5),
        np.bool_(True),
        np.str_("word"),
        np.array([0.1, np.nan, -np.inf], dtype=">f8"),
        np.arange(6, dtype=np.int16).reshape(2, 3),
        np.array([[True], [False]]),
        np.array(["a", "bcd", ""]),
        np.array(["a", 3, None, ("t",)], dtype=object),
        np.array([], dtype=np.float32),
        np.array(2.5),
        np.array(["2020-01-01", "NaT"], dtype="datetime64[s]"),
        History([{"epoch": 1, "train_loss": 0.5, "batches": [{"train_loss": 0.4}]}]),
    ],
    ids=repr,
)
def test_encoding_round_trips_types_exactly(value):
    text = json.dumps(encode(value), allow_nan=False)
    restored = decode(json.loads(text))
    _assert_identical(restored, value)
    if isinstance(value, float):
        assert math.copysign(1, restored) == math.copysign(1, value)


# ------------------------------------------------ parameters at save time
def test_save_before_fit_raises_not_fitted(tmp_path):
    path = tmp_path / "model.safetensors"
    with pytest.raises(NotFittedError):
        TransformerTextClassifier().save(path)
    assert not path.exists()


def test_callable_tokenizer_cannot_be_saved(tmp_path):
    clf = TransformerTextClassifier(**TEXT, tokenizer=str.split).fit(X_TEXT, Y_TEXT)
    path = tmp_path / "model.safetensors"
    with pytest.raises(ValueError, match="tokenizer=.*callable"):
        clf.save(path)
    assert not path.exists()


class _Noop(Callback):
    pass


def test_training_only_objects_are_saved_as_none_with_a_warning(tmp_path):
    reg = AttentionTimeSeriesRegressor(
        **{**SERIES, "random_state": np.random.RandomState(0)},
        callbacks=[_Noop()],
        device=torch.device("cpu"),
    )
    X, y, _ = _regressor_case("2-D windows")
    reg.fit(X, y)
    with pytest.warns(UserWarning, match="callbacks, random_state"):
        loaded = _round_trip(reg, tmp_path)
    assert loaded.callbacks is None
    assert loaded.random_state is None
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


class _HoldsEstimator(Callback):
    """A user callback that keeps a reference to the estimator it trains."""

    def __init__(self, estimator=None):
        self.estimator = estimator


def test_pickling_leaves_the_estimator_unchanged():
    clf = TransformerTextClassifier(**TEXT).fit(X_TEXT, Y_TEXT)
    before = dict(clf.__dict__)
    pickle.dumps(clf)
    copy.deepcopy(clf)
    assert clf.__dict__.keys() == before.keys()
    assert all(clf.__dict__[name] is value for name, value in before.items())


def test_callback_holding_the_estimator_does_not_block_inference():
    # fit deep-copies the user's callbacks, and with them the estimator they
    # hold: that copy must not touch the estimator's own bookkeeping.
    clf = TransformerTextClassifier(**TEXT)
    clf.set_params(callbacks=[("holds", _HoldsEstimator(clf))])
    clf.fit(X_TEXT, Y_TEXT)
    assert clf.predict(X_TEXT).shape == (len(X_TEXT),)


def test_load_sets_the_device_parameter(regressor_and_data, tmp_path):
    reg = regressor_and_data[0]
    loaded = _round_trip(reg, tmp_path, device=torch.device("cpu"))
    assert loaded.device == torch.device("cpu")
    assert next(loaded.module_.parameters()).device.type == "cpu"


def test_load_on_an_unavailable_device_raises(model_file):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available")
    with pytest.raises(ValueError, match="CUDA is not available"):
        TransformerTextClassifier.load(model_file, device="cuda")


# ---------------------------------------------------- training after load
@pytest.mark.parametrize("via", ["save", "pickle"])
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_training_after_load_continues_exactly(
    kind, how, via, classifier_and_data, regressor_and_data, tmp_path
):
    fitted, X, y = classifier_and_data if kind == "classifier" else regressor_and_data
    # The reference trains on in memory, with its skorch net; a seeded refit
    # gives the same model as the fixture's.
    original = clone(fitted).fit(X, y)
    assert hasattr(original, "net_")
    if via == "save":
        loaded = _round_trip(fitted, tmp_path)
    else:
        loaded = pickle.loads(pickle.dumps(fitted))
        assert not hasattr(loaded, "net_")  # pickled once: module and optimizer
    for estimator in (original, loaded):
        if how == "partial_fit":
            estimator.partial_fit(X, y)
        else:
            estimator.set_params(warm_start=True).fit(X, y)

    added = 1 if how == "partial_fit" else fitted.max_epochs
    assert loaded.n_iter_ == original.n_iter_ == fitted.n_iter_ + added
    assert len(loaded.history_) == loaded.n_iter_
    assert _without_durations(loaded.history_) == _without_durations(original.history_)
    _assert_same_weights(loaded, original)
    assert hasattr(loaded, "net_")
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))


def test_save_without_optimizer_state_is_smaller_and_still_trains(
    classifier_and_data, tmp_path
):
    clf, X, y = classifier_and_data
    full, light = tmp_path / "full.safetensors", tmp_path / "light.safetensors"
    clf.save(full)
    clf.save(light, include_optimizer=False)
    assert light.stat().st_size < 0.5 * full.stat().st_size
    loaded = type(clf).load(light)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    loaded.partial_fit(X, y)  # a fresh optimizer state
    assert loaded.n_iter_ == clf.n_iter_ + 1


def test_refit_after_load_starts_anew(regressor_and_data, tmp_path):
    reg, X, y = regressor_and_data
    loaded = _round_trip(reg, tmp_path).fit(X, y)
    assert loaded.n_iter_ == reg.max_epochs
    _assert_same_weights(loaded, reg)  # same seed, same data: same model


def test_warm_start_after_load_keeps_the_architecture(classifier_and_data, tmp_path):
    clf, X, y = classifier_and_data
    loaded = _round_trip(clf, tmp_path)
    loaded.set_params(warm_start=True, embed_dim=16)
    with pytest.raises(ValueError, match="cannot change embed_dim from 8 to 16"):
        loaded.fit(X, y)
    assert loaded.n_iter_ == clf.n_iter_  # the loaded model is untouched


# ---------------------------------------------------- files that are wrong
def test_truncated_files_are_refused(model_file, tmp_path):
    raw = model_file.read_bytes()
    header_end = 8 + int.from_bytes(raw[:8], "little")
    for size in [3, header_end // 2, header_end + 10, len(raw) - 1]:
        path = tmp_path / "truncated.safetensors"
        path.write_bytes(raw[:size])
        with pytest.raises(ValueError, match="truncated") as info:
            TransformerTextClassifier.load(path)
        assert str(path) in str(info.value)


def _replace_in_header(path, old, new):
    raw = bytearray(path.read_bytes())
    header_end = 8 + int.from_bytes(raw[:8], "little")
    start = raw.index(old, 8, header_end)
    assert len(old) == len(new)
    raw[start : start + len(old)] = new
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    "old, new",
    [
        (b'\\"dropout\\":0.4', b'\\"dropout\\":0.5'),  # a hyperparameter
        (b'\\"n_iter_\\":2', b'\\"n_iter_\\":3'),  # a fitted attribute
        (b'\\"good\\":', b'\\"gold\\":'),  # a vocabulary entry
        # valid JSON, same length
        (b'\\"pooling_\\":\\"attention\\"', b'\\"pooling_\\":\\"mean\\"     '),
    ],
    ids=["dropout", "n_iter_", "vocabulary", "pooling"],
)
def test_edited_header_is_detected(model_file, tmp_path, old, new):
    path = _copy(model_file, tmp_path)
    _replace_in_header(path, old, new)
    with pytest.raises(ValueError, match="checksum") as info:
        TransformerTextClassifier.load(path)
    assert str(path) in str(info.value)


def test_flipped_bytes_are_detected(model_file, tmp_path):
    raw = model_file.read_bytes()
    header_end = 8 + int.from_bytes(raw[:8], "little")
    fitted_at = raw.index(b'"fitted":"', 8) + len(b'"fitted":"') + 20
    for position in [fitted_at, header_end + 5, len(raw) - 1]:
        flipped = bytearray(raw)
        flipped[position] ^= 0x01
        path = tmp_path / "flipped.safetensors"
        path.write_bytes(bytes(flipped))
        with pytest.raises(ValueError, match=str(path)):
            TransformerTextClassifier.load(path)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: m.update(fitted="{not json"), "invalid model data"),
        (lambda m: m.update(params='{"embed_dim": "wide"}'), "invalid model data"),
        (lambda m: m.update(params='{"colour": 1}'), "invalid model data"),
        (lambda m: m.update(fitted='{"predict": 1}'), "invalid model data"),
        (lambda m: m.update(fitted="{}"), "invalid model data"),
        (lambda m: m.pop("optimizer"), r"lacks \['optimizer'\]"),
        (lambda m: m.update(note="hello"), "unexpected metadata"),
        (
            lambda m: m.update(
                fitted=m["fitted"].replace(
                    '"_fitted_params":{', '"_fitted_params":{"x":{"__type__":"pickle"},'
                )
            ),
            "unknown __type__",
        ),
    ],
    ids=[
        "invalid JSON",
        "invalid parameter",
        "unknown parameter",
        "method name as attribute",
        "no fitted state",
        "missing key",
        "unknown key",
        "unknown tag",
    ],
)
def test_inconsistent_content_with_a_valid_checksum_is_refused(
    model_file, tmp_path, edit, match
):
    path = _rewrite(_copy(model_file, tmp_path), edit_metadata=edit)
    with pytest.raises(ValueError, match=match) as info:
        TransformerTextClassifier.load(path)
    assert str(path) in str(info.value)


def test_weights_of_the_wrong_shape_are_refused(model_file, tmp_path):
    def widen(tensors):
        tensors["module.head.weight"] = torch.zeros(3, 8)

    path = _rewrite(_copy(model_file, tmp_path), edit_tensors=widen)
    with pytest.raises(ValueError, match="(?s)do not fit.*head.weight"):
        TransformerTextClassifier.load(path)


def test_missing_weights_are_refused(model_file, tmp_path):
    path = _rewrite(
        _copy(model_file, tmp_path),
        edit_tensors=lambda tensors: tensors.pop("module.readout.bias"),
    )
    with pytest.raises(ValueError, match="(?s)do not fit.*readout.bias"):
        TransformerTextClassifier.load(path)


def test_text_model_without_tfidf_weights_is_named_as_outdated(model_file, tmp_path):
    # What a file saved before the readout weighed tokens by TF-IDF holds.
    def drop_idf(tensors):
        del tensors["module.word_idf"], tensors["module.pair_idf"]

    path = _rewrite(_copy(model_file, tmp_path), edit_tensors=drop_idf)
    with pytest.raises(ValueError, match="(?s)earlier version.*refit it") as info:
        TransformerTextClassifier.load(path)
    assert str(path) in str(info.value)
    assert "damaged" not in str(info.value)


def test_file_from_before_pooling_auto_loads_with_its_pooling(
    classifier_and_data, model_file, tmp_path
):
    # Such a file names its pooling in the parameters and has no pooling_.
    def old_format(metadata):
        fitted, params = json.loads(metadata["fitted"]), json.loads(metadata["params"])
        fitted["_fitted_params"]["pooling"] = params["pooling"] = "attention"
        del fitted["pooling_"]
        metadata["fitted"], metadata["params"] = json.dumps(fitted), json.dumps(params)

    path = _rewrite(_copy(model_file, tmp_path), edit_metadata=old_format)
    loaded = TransformerTextClassifier.load(path)
    clf, X, _ = classifier_and_data
    assert loaded.pooling == loaded.pooling_ == "attention"
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


class _Payload:
    """Pickles into a call that creates ``marker``: what a hostile file does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def test_pickle_file_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"  # torch.load reads *.safetensors as safetensors
    torch.save({"weights": torch.zeros(2), "payload": _Payload(marker)}, path)
    with pytest.raises(ValueError, match="not a safetensors model file"):
        TransformerTextClassifier.load(path)
    assert not marker.exists()
    # The payload is live: unpickling the same file does create the marker.
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "not a safetensors model file"),
        (b"just some text, not a model\n" * 3, "not a safetensors model file"),
        (save_tensors({"w": torch.zeros(2)}), "not an sklearn-transformers model file"),
        (
            save_tensors({"w": torch.zeros(2)}, metadata={"format": "pt"}),
            "not an sklearn-transformers model file",
        ),
    ],
    ids=["empty", "text", "safetensors without metadata", "another format"],
)
def test_files_of_another_kind_are_refused(tmp_path, content, match):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        TransformerTextClassifier.load(path)
    assert str(path) in str(info.value)


def test_loading_another_estimator_class_names_both(regressor_and_data, tmp_path):
    path = tmp_path / "reg.safetensors"
    regressor_and_data[0].save(path)
    with pytest.raises(
        ValueError,
        match="holds a fitted AttentionTimeSeriesRegressor, not a "
        "TransformerTextClassifier",
    ):
        TransformerTextClassifier.load(path)


@pytest.mark.parametrize(
    "version, match", [("2", "upgrade sklearn-transformers"), ("x", "reads")]
)
def test_other_format_versions_are_refused(model_file, tmp_path, version, match):
    path = _rewrite(
        _copy(model_file, tmp_path),
        edit_metadata=lambda m: m.update(format_version=version),
    )
    with pytest.raises(ValueError, match=f"format_version='{version}'.*{match}"):
        TransformerTextClassifier.load(path)


# ------------------------------------------------------------------ CUDA
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_model_fitted_on_cuda_loads_on_cpu(tmp_path):
    clf = TransformerTextClassifier(**TEXT, device="cuda").fit(X_TEXT, Y_TEXT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a torch.device is data: no warning
        clf.save(tmp_path / "clf.safetensors")
    loaded = TransformerTextClassifier.load(tmp_path / "clf.safetensors")
    assert loaded.device == "cpu"
    assert next(loaded.module_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(loaded.predict(X_TEXT), clf.predict(X_TEXT))
    np.testing.assert_allclose(
        loaded.predict_proba(X_TEXT), clf.predict_proba(X_TEXT), atol=1e-5
    )
    loaded.partial_fit(X_TEXT, Y_TEXT)  # the optimizer state moves to the CPU
    assert loaded.n_iter_ == clf.n_iter_ + 1
    back = TransformerTextClassifier.load(tmp_path / "clf.safetensors", device="cuda")
    assert next(back.module_.parameters()).device.type == "cuda"
    back.partial_fit(X_TEXT, Y_TEXT)
