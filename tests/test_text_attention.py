"""The text classifier's attention readout: what ``attention_weights`` reports.

With ``pooling="attention"`` (the default) the logits are an exact sum of
per-token parts, so the reported weights must be a distribution over the
kept tokens that does not depend on batch-mates, and deleting the tokens
they rank highest must move the prediction more than deleting others.
"""

from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
from sklearn.utils.class_weight import compute_sample_weight

from sklearn_transformers import TransformerTextClassifier

TINY = dict(
    embed_dim=16,
    num_heads=2,
    num_layers=1,
    ff_dim=32,
    max_epochs=6,
    min_df=1,
    random_state=0,
)
FILLER = ["the", "a", "film", "movie", "was", "it", "plot", "story", "and", "this"]


def make_keyword_reviews(n_samples, seed):
    """Reviews of filler words holding one word that decides the label."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for _ in range(n_samples):
        positive = bool(rng.integers(2))
        words = list(rng.choice(FILLER, size=rng.integers(4, 9)))
        words.insert(rng.integers(len(words) + 1), "great" if positive else "awful")
        X.append(" ".join(words))
        y.append("pos" if positive else "neg")
    return X, np.asarray(y)


X_TRAIN, Y_TRAIN = make_keyword_reviews(200, seed=0)
X_TEST, _ = make_keyword_reviews(20, seed=1)


@pytest.fixture(scope="module")
def clf():
    return TransformerTextClassifier(**TINY).fit(X_TRAIN, Y_TRAIN)


def test_attention_is_the_default_pooling_from_scratch(clf):
    assert clf.pooling == "auto"
    assert clf.pooling_ == clf.module_.pooling == "attention"


@pytest.mark.parametrize("method", ["auto", "contribution", "attention"])
def test_weights_are_a_distribution_over_the_kept_tokens(clf, method):
    docs = [*X_TEST[:5], "", "great"]
    for doc, (tokens, weights) in zip(
        docs, clf.attention_weights(docs, method=method), strict=True
    ):
        assert tokens == doc.split()  # no [CLS], no padding
        assert weights.shape == (len(tokens),)
        assert np.all(weights >= 0)
        if tokens:
            assert weights.sum() == pytest.approx(1.0)


def test_padding_gets_zero_attention(clf):
    ids = torch.tensor([[2, 5, 6, 0, 0], [2, 5, 6, 7, 8]])  # [CLS] x x [PAD] [PAD]
    clf.module_.eval()
    with torch.no_grad():
        for method in ("attention", "contribution"):
            weights = getattr(clf.module_, method)(ids)
            assert torch.all(weights[0, 3:] == 0)
            assert torch.all(weights[:, 0] == 0)  # [CLS] is not read out


def test_weights_and_predictions_do_not_depend_on_batch_mates(clf):
    short, long = X_TEST[0], " ".join(X_TEST[1:6])
    alone = clf.attention_weights([short])[0][1]
    batched = clf.attention_weights([short, long])[0][1]
    np.testing.assert_allclose(alone, batched, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        clf.predict_proba([short])[0], clf.predict_proba([short, long])[0], rtol=1e-5
    )


def test_the_deciding_word_gets_the_largest_weight(clf):
    for doc, (tokens, weights) in zip(
        X_TEST, clf.attention_weights(X_TEST), strict=True
    ):
        assert tokens[int(np.argmax(weights))] in {"great", "awful"}, doc


def test_deleting_the_top_weighted_token_moves_the_prediction_most(clf):
    for doc in X_TEST[:8]:
        tokens, weights = clf.attention_weights([doc])[0]
        base = clf.predict_proba([doc])[0]
        changes = []
        for j in range(len(tokens)):
            kept = " ".join(tokens[:j] + tokens[j + 1 :])
            changes.append(np.abs(clf.predict_proba([kept])[0] - base).sum())
        top = int(np.argmax(weights))
        others = [c for j, c in enumerate(changes) if j != top]
        assert changes[top] > max(others), (doc, weights, changes)


def test_contribution_is_raw_attention_times_value_size(clf):
    tokens, contribution = clf.attention_weights(X_TEST[:1], method="contribution")[0]
    _, attention = clf.attention_weights(X_TEST[:1], method="attention")[0]
    # Filler words carry little evidence: their share shrinks from attention
    # to contribution, the deciding word's grows.
    top = int(np.argmax(contribution))
    assert contribution[top] > attention[top]


def test_transform_is_the_attention_weighted_state(clf):
    embeddings = clf.transform(X_TEST[:3])
    assert embeddings.shape == (3, TINY["embed_dim"])
    assert clf.get_feature_names_out().shape == (TINY["embed_dim"],)


@pytest.mark.parametrize(
    ("pooling", "method", "match"),
    [
        ("mean", "contribution", "pooling='attention'"),
        ("attention", "gradient", "method must be"),
    ],
)
def test_bad_method_is_a_clear_error(pooling, method, match):
    model = TransformerTextClassifier(**{**TINY, "max_epochs": 1, "pooling": pooling})
    model.fit(X_TRAIN[:20], Y_TRAIN[:20])
    with pytest.raises(ValueError, match=match):
        model.attention_weights(X_TEST[:1], method=method)


def terms(doc, known):
    """The terms the readout weighs: words (unknown ones as [unk]), and each
    word with the one before it ([cls] before the first)."""
    words = [word if word in known else "[unk]" for word in doc.split()]
    pairs = zip(["[cls]", *words[:-1]], words, strict=True)
    return words + [f"{a} {b}" for a, b in pairs]


def log_count_ratio(features, y, positive):
    """|log((p / |p|_1) / (q / |q|_1))| of each column, with p and q the
    numbers of documents (plus one) of each class that contain it (NBSVM)."""
    present = (features > 0).astype(float)
    p = 1 + np.asarray(present[y == positive].sum(axis=0)).ravel()
    q = 1 + np.asarray(present[y != positive].sum(axis=0)).ravel()
    return np.abs(np.log(p / p.sum()) - np.log(q / q.sum()))


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_starts_from_the_logistic_regression_of_tfidf_vectors(class_weight):
    # One epoch at a tiny learning rate: the model is still its linear start,
    # a logistic regression on sublinear, L2-normalised TF-IDF vectors of the
    # words and word pairs, each column scaled by its log-count ratio to the
    # chosen power, so its probabilities are that model's. On new documents
    # the weights and norms come from their own terms; a term no training
    # document has (an unknown word, a new pair) has no value but the largest
    # idf, log(1 + n) + 1, in the norm.
    rare = np.flatnonzero(Y_TRAIN == "pos")[:30]
    keep = np.sort(np.concatenate([np.flatnonzero(Y_TRAIN == "neg"), rare]))
    X = [X_TRAIN[i] + " " + X_TRAIN[i][:9] for i in keep]  # repeated terms
    y = Y_TRAIN[keep]
    params = {**TINY, "max_epochs": 1, "lr": 1e-9, "class_weight": class_weight}
    model = TransformerTextClassifier(**params).fit(X, y)
    start = model.readout_start_
    # Chosen on held-out documents: a scaled start, so the test covers it.
    assert start["power"] > 0, start

    known = {word for doc in X for word in doc.split()}
    tfidf = TfidfVectorizer(
        analyzer=lambda doc: terms(doc, known), sublinear_tf=True, norm=None
    ).fit(X)
    features = normalize(tfidf.transform(X))
    scale = log_count_ratio(features, y, "pos") ** start["power"]
    # The start's settings; its solver stops at the default tolerance.
    linear = LogisticRegression(C=start["C"], max_iter=1000)
    linear.fit(
        features.multiply(scale).tocsr(),
        y,
        sample_weight=compute_sample_weight(class_weight, y),
    )

    X_new = [*make_keyword_reviews(20, seed=2)[0], "great zebra film quux", "a movie"]
    weights = tfidf.transform(X_new).toarray()
    unseen_idf = np.log(1 + len(X)) + 1
    for i, doc in enumerate(X_new):
        unseen = Counter(t for t in terms(doc, known) if t not in tfidf.vocabulary_)
        norm_sq = (weights[i] ** 2).sum() + sum(
            ((1 + np.log(c)) * unseen_idf) ** 2 for c in unseen.values()
        )
        weights[i] /= np.sqrt(norm_sq)
    np.testing.assert_allclose(
        model.predict_proba(X_new), linear.predict_proba(weights * scale), atol=1e-4
    )


def test_start_is_chosen_by_held_out_log_loss():
    # Every (power, C) candidate is scored on held-out documents and the one
    # of the lowest log-loss is refitted on all of them.
    model = TransformerTextClassifier(**{**TINY, "max_epochs": 1}).fit(X_TRAIN, Y_TRAIN)
    start = model.readout_start_
    candidates = start["candidates"]
    assert len(candidates) > 1
    assert all(np.isfinite(c["log_loss"]) for c in candidates)
    best = min(candidates, key=lambda c: c["log_loss"])
    assert (start["power"], start["C"]) == (best["power"], best["C"])
    # One word decides each review: scaling the columns by how well they
    # separate the classes beats the plain TF-IDF vectors (power 0).
    plain = min(c["log_loss"] for c in candidates if c["power"] == 0)
    assert best["log_loss"] < plain


def test_start_is_not_chosen_when_a_class_is_too_rare_to_hold_out():
    rare = np.flatnonzero(Y_TRAIN == "pos")[:20]
    keep = np.sort(np.concatenate([np.flatnonzero(Y_TRAIN == "neg"), rare]))
    model = TransformerTextClassifier(**{**TINY, "max_epochs": 1}).fit(
        [X_TRAIN[i] for i in keep], Y_TRAIN[keep]
    )
    start = model.readout_start_
    assert (start["power"], start["C"]) == (0.0, 16.0)  # plain TF-IDF, C=16
    assert all(c["log_loss"] is None for c in start["candidates"])


def test_start_choice_is_reproducible():
    params = {**TINY, "max_epochs": 1, "random_state": 3}
    first = TransformerTextClassifier(**params).fit(X_TRAIN, Y_TRAIN)
    second = TransformerTextClassifier(**params).fit(X_TRAIN, Y_TRAIN)
    assert first.readout_start_ == second.readout_start_


@pytest.mark.parametrize("class_weight", ["balanced", {"pos": 9.0, "neg": 1.0}])
def test_linear_start_is_weighted_by_class_weight(class_weight):
    # Few positive reviews; with a tiny learning rate the model is its linear
    # start, which class_weight must shift toward the rare class as the
    # weighted loss does (a dict names the labels as given, not encoded).
    rng = np.random.default_rng(0)
    rare = np.flatnonzero(Y_TRAIN == "pos")[:12]
    keep = np.sort(np.concatenate([np.flatnonzero(Y_TRAIN == "neg"), rare]))
    X, y = [X_TRAIN[i] for i in keep], Y_TRAIN[keep]
    params = {**TINY, "max_epochs": 1, "lr": 1e-6}
    plain = TransformerTextClassifier(**params, class_weight=None).fit(X, y)
    weighted = TransformerTextClassifier(**params, class_weight=class_weight).fit(X, y)
    column = list(plain.classes_).index("pos")
    X_new = [" ".join(rng.choice(FILLER, size=6)) for _ in range(20)]
    assert (
        weighted.predict_proba(X_new)[:, column].mean()
        > plain.predict_proba(X_new)[:, column].mean() + 0.1
    )


def test_documents_of_zero_weight_leave_the_start_unchanged():
    # Their words count neither in the vocabulary nor in the idf, and the
    # logistic regression gives them no weight: the start is the one of the
    # other documents.
    params = {**TINY, "max_epochs": 1, "lr": 1e-9}
    extra = ["great great awful zebra"] * 40
    X = [*X_TRAIN[:120], *extra]
    y = np.concatenate([Y_TRAIN[:120], ["neg"] * 40])
    weights = np.r_[np.ones(120), np.zeros(40)]
    weighted = TransformerTextClassifier(**params).fit(X, y, sample_weight=weights)
    plain = TransformerTextClassifier(**params).fit(X_TRAIN[:120], Y_TRAIN[:120])
    X_new, _ = make_keyword_reviews(30, seed=2)
    np.testing.assert_allclose(
        weighted.predict_proba(X_new), plain.predict_proba(X_new), atol=1e-3
    )


def test_partial_fit_keeps_the_idf_of_its_first_call():
    model = TransformerTextClassifier(**{**TINY, "max_epochs": 1})
    model.partial_fit(X_TRAIN[:100], Y_TRAIN[:100], classes=["neg", "pos"])
    word_idf = model.module_.word_idf.clone()
    pair_idf = model.module_.pair_idf.clone()
    model.partial_fit(["great great great"] * 50, ["pos"] * 50)
    torch.testing.assert_close(model.module_.word_idf, word_idf, rtol=0, atol=0)
    torch.testing.assert_close(model.module_.pair_idf, pair_idf, rtol=0, atol=0)


def test_start_is_skipped_when_the_first_batch_lacks_a_class():
    # A logistic regression needs every class: the values start at zero, and
    # readout_start_ says that no start was fitted.
    negative = np.flatnonzero(Y_TRAIN == "neg")[:40]
    model = TransformerTextClassifier(**{**TINY, "max_epochs": 1})
    model.partial_fit(
        [X_TRAIN[i] for i in negative], Y_TRAIN[negative], classes=["neg", "pos"]
    )
    assert model.readout_start_ is None
