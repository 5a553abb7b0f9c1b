"""Tests of the tokenizer, vocabulary building and encoding."""

import numpy as np
import pytest

from sklearn_transformers import _vocabulary
from sklearn_transformers._vocabulary import (
    CLS_TOKEN,
    PAD_TOKEN,
    SPECIAL_TOKENS,
    UNK_TOKEN,
    build_vocabulary,
    encode,
    iter_tokenize,
    tokenize,
    word_tokenize,
)


def _documents(ids, offsets):
    return [ids[offsets[i] : offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]


# --------------------------------------------------------------- tokenizer
@pytest.mark.parametrize(
    "text, expected",
    [
        ("naïve café", ["naïve", "café"]),
        ("ÜBER straße", ["ÜBER", "straße"]),
        ("日本語", ["日本語"]),
        ("Ελληνικά κείμενο", ["Ελληνικά", "κείμενο"]),
        ("привет, мир", ["привет", ",", "мир"]),
        ("Don't stop", ["Don't", "stop"]),
        ("l’homme", ["l’homme"]),
        ("rock'n'roll", ["rock'n'roll"]),
        ("'quoted'", ["'", "quoted", "'"]),
        ("it's 'fine'", ["it's", "'", "fine", "'"]),
        ("Hello, world!", ["Hello", ",", "world", "!"]),
        ("Wow!!!", ["Wow", "!", "!", "!"]),
        ("a--b", ["a", "-", "-", "b"]),
        ("x_y 42 3.14", ["x_y", "42", "3", ".", "14"]),
        ("5€ :)", ["5", "€", ":", ")"]),
        ("😀 ok", ["😀", "ok"]),
        ("", []),
        ("  \t\n ", []),
    ],
)
def test_word_tokenize(text, expected):
    assert word_tokenize(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        # Combining marks belong to their word: a decomposed "naïve" (i + U+0308)
        # and Devanagari vowel signs / virama must not become tokens of their own.
        ("nai\u0308ve", ["nai\u0308ve"]),
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),
    ],
    ids=["decomposed-accent", "devanagari"],
)
def test_word_tokenize_keeps_combining_marks_in_words(text, expected):
    assert word_tokenize(text) == expected


def test_word_tokenize_output_is_a_list_of_str():
    tokens = word_tokenize("Some text, with punctuation!")
    assert isinstance(tokens, list)
    assert all(isinstance(token, str) and token for token in tokens)


@pytest.mark.parametrize(
    "lowercase, expected",
    [
        (True, [["good", "film", "!"], [], ["naïve", "ünïcode"]]),
        (False, [["Good", "FILM", "!"], [], ["Naïve", "Ünïcode"]]),
    ],
)
def test_tokenize_lowercase(lowercase, expected):
    documents = ["Good FILM!", "", "Naïve Ünïcode"]
    assert tokenize(documents, lowercase=lowercase) == expected


def test_tokenize_uses_custom_tokenizer_after_lowercasing():
    seen = []

    def tokenizer(text):
        seen.append(text)
        return text.split()

    tokens = tokenize(["Good, FILM!", "a b"], tokenizer=tokenizer)
    assert tokens == [["good,", "film!"], ["a", "b"]]
    assert seen == ["good, film!", "a b"]


def test_tokenize_accepts_tuples_from_custom_tokenizer():
    assert tokenize(["ab"], tokenizer=tuple) == [("a", "b")]


@pytest.mark.parametrize(
    "tokenizer, match",
    [
        (str, "returned str for document 0"),
        (lambda text: None, "returned NoneType for document 0"),
        (lambda text: [text, 1], "returned a int token for document 0"),
    ],
    ids=["str", "none", "int-token"],
)
def test_tokenize_rejects_bad_custom_tokenizer_output(tokenizer, match):
    with pytest.raises(TypeError, match=match):
        tokenize(["some text"], tokenizer=tokenizer)


# -------------------------------------------------------- build_vocabulary
def test_special_tokens_come_first():
    assert SPECIAL_TOKENS == (PAD_TOKEN, UNK_TOKEN, CLS_TOKEN)
    vocabulary, *_ = build_vocabulary([["a", "b"]], max_len=10)
    assert vocabulary[PAD_TOKEN] == 0
    assert vocabulary[UNK_TOKEN] == 1
    assert vocabulary[CLS_TOKEN] == 2
    assert list(vocabulary)[:3] == ["[PAD]", "[UNK]", "[CLS]"]


def test_ids_follow_frequency_with_alphabetical_ties():
    docs = [["pear", "apple", "fig", "apple"], ["fig", "pear", "kiwi"], ["apple"]]
    vocabulary, *_ = build_vocabulary(docs, max_len=10)
    # apple 3; fig, pear 2 (tie: alphabetical); kiwi 1
    assert vocabulary == {
        "[PAD]": 0,
        "[UNK]": 1,
        "[CLS]": 2,
        "apple": 3,
        "fig": 4,
        "pear": 5,
        "kiwi": 6,
    }


def test_frequency_counts_occurrences_not_documents():
    docs = [["b", "b", "b"], ["a"], ["a"]]
    vocabulary, *_ = build_vocabulary(docs, max_len=10)
    assert vocabulary["b"] < vocabulary["a"]


def test_ids_are_contiguous():
    docs = [list("the quick brown fox jumps over the lazy dog")]
    vocabulary, *_ = build_vocabulary(docs, max_len=100)
    assert sorted(vocabulary.values()) == list(range(len(vocabulary)))


def test_each_document_starts_with_cls():
    docs = [["a", "b"], [], ["b", "c", "a"]]
    vocabulary, ids, offsets, n_truncated = build_vocabulary(docs, max_len=10)
    assert n_truncated == 0
    assert offsets.tolist() == [0, 3, 4, 8]
    encoded = _documents(ids, offsets)
    assert all(doc[0] == 2 for doc in encoded)
    assert encoded[1] == [2]
    assert encoded[0] == [2, vocabulary["a"], vocabulary["b"]]
    assert encoded[2] == [2, vocabulary["b"], vocabulary["c"], vocabulary["a"]]
    assert np.count_nonzero(ids == 2) == len(docs)


@pytest.mark.parametrize(
    "min_df, expected",
    [
        (1, {"common", "twice", "once"}),
        (2, {"common", "twice"}),
        (3, {"common"}),
        (0.5, {"common", "twice"}),
        (0.75, {"common"}),
        (1.0, {"common"}),
        (5, set()),
    ],
)
def test_min_df(min_df, expected):
    # document frequency: common 4, twice 2 (three occurrences), once 1
    docs = [["common", "twice", "twice"], ["common", "twice"], ["common", "once"]]
    docs.append(["common"])
    vocabulary, ids, offsets, _ = build_vocabulary(docs, max_len=10, min_df=min_df)
    assert set(vocabulary) == set(SPECIAL_TOKENS) | expected
    # filtered tokens are encoded as [UNK], the documents keep their length
    assert np.diff(offsets).tolist() == [4, 3, 3, 2]
    if "once" not in expected:
        assert _documents(ids, offsets)[2][2] == 1


@pytest.mark.parametrize("max_features", [1, 2, 3, 10])
def test_max_features_keeps_the_most_frequent(max_features):
    docs = [["a", "a", "a", "b", "b", "c"], ["a", "b", "d"]]
    vocabulary, ids, offsets, _ = build_vocabulary(
        docs, max_len=10, max_features=max_features
    )
    kept = ["a", "b", "c", "d"][:max_features]  # a 4, b 3, then c, d tied at 1
    assert list(vocabulary) == [*SPECIAL_TOKENS, *kept]
    assert len(vocabulary) == min(max_features, 4) + 3
    assert ids.max() < len(vocabulary)


def test_max_features_applies_after_min_df():
    docs = [["a", "a", "a", "a", "b"], ["b", "c"], ["c"]]
    vocabulary, *_ = build_vocabulary(docs, max_len=10, min_df=2, max_features=1)
    # "a" is the most frequent but appears in one document only
    assert set(vocabulary) == {*SPECIAL_TOKENS, "b"}


def test_truncation_keeps_the_first_max_len_tokens():
    docs = [["a", "b", "c", "d", "e"], ["f"], ["g", "h", "i"], []]
    vocabulary, ids, offsets, n_truncated = build_vocabulary(docs, max_len=3)
    assert n_truncated == 1  # only the first document is longer than 3
    assert np.diff(offsets).tolist() == [4, 2, 4, 1]  # [CLS] + at most 3 tokens
    first = _documents(ids, offsets)[0]
    assert first == [2, vocabulary["a"], vocabulary["b"], vocabulary["c"]]
    # tokens past max_len are never seen, so they are not in the vocabulary
    assert "d" not in vocabulary
    assert "e" not in vocabulary


def test_truncated_tokens_do_not_count_towards_frequency():
    docs = [["x", "z", "z", "z", "z"], ["y"], ["y"]]
    vocabulary, *_ = build_vocabulary(docs, max_len=2)
    # z counted once (one occurrence within the first 2 tokens), y twice
    assert vocabulary["y"] < vocabulary["z"]


def test_no_documents_longer_than_max_len():
    docs = [["a", "b"], ["c"]]
    *_, n_truncated = build_vocabulary(docs, max_len=2)
    assert n_truncated == 0


def test_empty_documents_only():
    vocabulary, ids, offsets, n_truncated = build_vocabulary([[], []], max_len=4)
    assert vocabulary == {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2}
    assert ids.tolist() == [2, 2]
    assert offsets.tolist() == [0, 1, 2]
    assert n_truncated == 0


def test_special_token_strings_in_documents_keep_special_ids():
    # A custom tokenizer may emit the literal strings "[PAD]", "[UNK]", "[CLS]".
    # The special tokens must keep ids 0, 1, 2 and the ids must stay one
    # contiguous range, else the embedding table is too small for the ids.
    docs = [["[UNK]", "a"], ["a", "[PAD]", "[CLS]"], ["b"]]
    vocabulary, ids, offsets, _ = build_vocabulary(docs, max_len=10)
    assert [vocabulary[token] for token in SPECIAL_TOKENS] == [0, 1, 2]
    assert sorted(vocabulary.values()) == list(range(len(vocabulary)))
    assert ids.max() < len(vocabulary)
    assert np.all(ids[offsets[:-1]] == 2)
    assert np.count_nonzero(ids == 2) == len(docs)  # [CLS] only at the starts
    assert np.count_nonzero(ids == 0) == 0  # nothing looks like padding


# ------------------------------------------------------------------ encode
def test_encode_maps_unknown_tokens_to_unk():
    vocabulary, *_ = build_vocabulary([["good", "film"]], max_len=10)
    ids, offsets, n_truncated = encode(
        [["good", "movie"], [], ["bad", "film", "good"]], vocabulary, max_len=10
    )
    assert n_truncated == 0
    assert offsets.tolist() == [0, 3, 4, 8]
    good, film = vocabulary["good"], vocabulary["film"]
    assert _documents(ids, offsets) == [[2, good, 1], [2], [2, 1, film, good]]
    assert ids.dtype == np.int64
    assert offsets.dtype == np.int64


def test_encode_truncates_to_max_len():
    vocabulary, *_ = build_vocabulary([list("abcdef")], max_len=10)
    ids, offsets, n_truncated = encode(
        [list("abcdef"), list("ab"), list("abc")], vocabulary, max_len=3
    )
    assert n_truncated == 1
    assert _documents(ids, offsets) == [
        [2, vocabulary["a"], vocabulary["b"], vocabulary["c"]],
        [2, vocabulary["a"], vocabulary["b"]],
        [2, vocabulary["a"], vocabulary["b"], vocabulary["c"]],
    ]


def test_encode_matches_build_vocabulary_encoding():
    docs = tokenize(
        ["The film was good!", "", "A bad, bad film.", "good good good good good"]
    )
    vocabulary, ids, offsets, n_truncated = build_vocabulary(docs, max_len=4, min_df=2)
    ids2, offsets2, n_truncated2 = encode(docs, vocabulary, max_len=4)
    np.testing.assert_array_equal(ids2, ids)
    np.testing.assert_array_equal(offsets2, offsets)
    assert n_truncated2 == n_truncated == 3


def test_scale_100k_short_documents():
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(2000)])
    picks = words[rng.integers(0, len(words), size=(100_000, 6))]
    documents = [" ".join(row) for row in picks.tolist()]
    documents[::1000] = [""] * 100  # some empty documents too
    tokens = tokenize(documents)
    vocabulary, ids, offsets, n_truncated = build_vocabulary(tokens, max_len=4)
    assert len(offsets) == 100_001
    assert n_truncated == 100_000 - 100
    assert len(vocabulary) == len(words) + 3
    assert np.diff(offsets).max() == 5
    assert np.diff(offsets).min() == 1
    assert np.all(ids[offsets[:-1]] == 2)
    ids2, offsets2, _ = encode(tokens, vocabulary, max_len=4)
    np.testing.assert_array_equal(ids2, ids)
    np.testing.assert_array_equal(offsets2, offsets)


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 1000])
def test_chunked_processing_gives_the_same_result(monkeypatch, chunk_size):
    # Documents are read CHUNK_SIZE at a time from any iterable (a generator
    # here); the result must not depend on where the chunks split.
    documents = [
        "The film was good!",
        "",
        "A bad, bad film.",
        "good good good good good",
        "[UNK] film",
        "new words only here",
    ]
    expected = build_vocabulary(tokenize(documents), max_len=4, min_df=2)
    monkeypatch.setattr(_vocabulary, "CHUNK_SIZE", chunk_size)
    result = build_vocabulary(iter_tokenize(documents), max_len=4, min_df=2)
    assert list(result[0].items()) == list(expected[0].items())
    for got, want in zip(result[1:], expected[1:], strict=True):
        np.testing.assert_array_equal(got, want)
    encoded = encode(iter_tokenize(documents), expected[0], max_len=4)
    for got, want in zip(encoded, expected[1:], strict=True):
        np.testing.assert_array_equal(got, want)


def test_iter_tokenize_is_lazy_and_checks_custom_tokenizers():
    seen = []

    def tokenizer(text):
        seen.append(text)
        return text.split() if text != "bad" else None

    tokens = iter_tokenize(["a b", "bad"], tokenizer=tokenizer)
    assert seen == []
    assert next(tokens) == ["a", "b"]
    with pytest.raises(TypeError, match="returned NoneType for document 1"):
        next(tokens)


def test_ties_are_alphabetical_for_tokens_ending_in_nul():
    # Found while writing the property tests: numpy's str dtype drops trailing "\x00",
    # so "b\x00" tied with "b" and their order followed the documents.
    for documents in ([["b\x00", "b", "a"]], [["b", "b\x00", "a"]]):
        vocabulary, *_ = build_vocabulary(documents, max_len=10)
        assert list(vocabulary)[3:] == ["a", "b", "b\x00"]
