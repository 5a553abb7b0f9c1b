"""Temperature scaling of TransformerTextClassifier (``calibration``)."""

import numpy as np
import pytest
from scipy.special import softmax

from sklearn_transformers import TransformerTextClassifier
from sklearn_transformers._calibration import fit_temperature

TINY = dict(
    embed_dim=16, num_heads=2, num_layers=1, ff_dim=32, batch_size=16, random_state=0
)
WORDS = "good bad fine great awful okay nice poor the a film plot it was".split()


def _noisy_documents(n, seed=0, n_classes=2):
    """Documents whose label follows their first word 70% of the time.

    A model that memorises them grows over-confident: the held-out part shows
    it, which is what temperature scaling corrects.
    """
    rng = np.random.default_rng(seed)
    cue = rng.integers(n_classes, size=n)
    docs = [
        " ".join([WORDS[c], *rng.choice(WORDS, size=6)]) + f" doc{i}"
        for i, c in enumerate(cue)
    ]
    flip = rng.random(n) < 0.3
    y = np.where(flip, rng.integers(n_classes, size=n), cue)
    return docs, y


def test_fit_temperature_recovers_a_known_scale():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(scale=2.0, size=(4000, 3))
    proba = softmax(true_logits, axis=1)
    y = np.array([rng.choice(3, p=p) for p in proba])
    # Logits three times too large: the fitted temperature undoes it.
    assert fit_temperature(3 * true_logits, y) == pytest.approx(3.0, rel=0.1)


def test_fit_temperature_without_samples_is_one():
    assert fit_temperature(np.zeros((0, 2)), np.zeros(0, dtype=int)) == 1.0
    assert fit_temperature(np.ones((2, 2)), [0, 1], sample_weight=[0, 0]) == 1.0


def test_temperature_softens_an_overconfident_model():
    X, y = _noisy_documents(300)
    clf = TransformerTextClassifier(
        calibration="temperature",
        max_epochs=15,
        lr=3e-3,
        dropout=0.0,
        weight_decay=0.0,
        min_df=1,  # keeps each document's own token, which it memorises
        **TINY,
    ).fit(X, y)
    assert clf.temperature_ > 1.0
    # Raw logits are the decision values times the temperature.
    raw = softmax(clf.decision_function(X)[:, None] * [0, clf.temperature_], axis=1)
    calibrated = clf.predict_proba(X)
    assert calibrated.max(axis=1).mean() < raw.max(axis=1).mean()
    # Predictions do not change: the same argmax.
    np.testing.assert_array_equal(calibrated.argmax(axis=1), raw.argmax(axis=1))


def test_probabilities_stay_a_softmax_of_the_decision_function():
    X, y = _noisy_documents(200, n_classes=3)
    clf = TransformerTextClassifier(calibration="temperature", max_epochs=3, **TINY)
    clf.fit(X, y)
    np.testing.assert_allclose(
        clf.predict_proba(X), softmax(clf.decision_function(X), axis=1), rtol=1e-6
    )


def test_calibration_none_keeps_the_raw_logits():
    X, y = _noisy_documents(200)
    clf = TransformerTextClassifier(calibration=None, max_epochs=2, **TINY).fit(X, y)
    assert clf.temperature_ == 1.0


@pytest.mark.parametrize(("n_samples", "calibrated"), [(200, False), (1000, True)])
def test_auto_calibrates_from_a_thousand_documents(n_samples, calibrated):
    X, y = _noisy_documents(n_samples)
    clf = TransformerTextClassifier(calibration="auto", max_epochs=1, **TINY)
    clf.fit(X, y)
    assert (clf.temperature_ != 1.0) == calibrated
    # A held-out part was scored (valid_loss) only when calibrating.
    assert ("valid_loss" in clf.history_[-1]) == calibrated


def test_default_trains_on_every_document_without_calibration():
    X, y = _noisy_documents(1000)
    clf = TransformerTextClassifier(max_epochs=1, **TINY).fit(X, y)
    assert clf.calibration is None
    assert clf.temperature_ == 1.0
    assert "valid_loss" not in clf.history_[-1]


def test_calibration_records_the_held_out_loss():
    X, y = _noisy_documents(200)
    clf = TransformerTextClassifier(calibration="temperature", max_epochs=2, **TINY)
    clf.fit(X, y)
    assert "valid_loss" in clf.history_[-1]
    # Without early_stopping, every epoch runs.
    assert clf.n_iter_ == 2


def test_partial_fit_keeps_the_fitted_temperature():
    X, y = _noisy_documents(200)
    clf = TransformerTextClassifier(calibration="temperature", max_epochs=3, **TINY)
    temperature = clf.fit(X, y).temperature_
    clf.partial_fit(X, y)
    assert clf.temperature_ == temperature
    fresh = TransformerTextClassifier(calibration="temperature", **TINY)
    assert fresh.partial_fit(X, y).temperature_ == 1.0


def test_calibration_that_cannot_hold_out_raises_before_training():
    X, y = _noisy_documents(40)
    y[0] = 7  # one document cannot be in both parts of a stratified split
    clf = TransformerTextClassifier(calibration="temperature", **TINY)
    with pytest.raises(ValueError, match="calibration='temperature' could not hold"):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")


@pytest.mark.parametrize("value", ["platt", 1.0, True])
def test_bad_calibration_raises(value):
    X, y = _noisy_documents(40)
    clf = TransformerTextClassifier(calibration=value, **TINY)
    with pytest.raises(ValueError, match="calibration"):
        clf.fit(X, y)


def test_saved_model_keeps_its_temperature(tmp_path):
    X, y = _noisy_documents(200)
    clf = TransformerTextClassifier(calibration="temperature", max_epochs=2, **TINY)
    clf.fit(X, y)
    clf.save(tmp_path / "clf.safetensors")
    loaded = TransformerTextClassifier.load(tmp_path / "clf.safetensors")
    assert loaded.temperature_ == clf.temperature_
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
