"""Word tokenization, vocabulary building and encoding to token ids.

Knows nothing of the estimators. One regular-expression pass per document
(the scanning itself runs in C), one dictionary lookup per kept token, and
numpy for counting, truncation and layout; there is no per-character or
per-token Python loop. Documents are processed ``CHUNK_SIZE`` at a time, so
only one chunk's token strings are alive at once: a corpus is held as integer
arrays, not as lists of str (which would take hundreds of MiB for a corpus
of reviews).
"""

import re
from itertools import chain, count, islice, repeat

import numpy as np

from ._unicode import COMBINING_MARKS

__all__ = [
    "CLS_TOKEN",
    "PAD_TOKEN",
    "SPECIAL_TOKENS",
    "UNK_TOKEN",
    "build_vocabulary",
    "encode",
    "iter_tokenize",
    "tokenize",
    "word_tokenize",
]

PAD_TOKEN, UNK_TOKEN, CLS_TOKEN = "[PAD]", "[UNK]", "[CLS]"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, CLS_TOKEN)  # ids 0, 1, 2
PAD_ID, UNK_ID, CLS_ID = 0, 1, 2

# Documents tokenized and mapped to ids at a time: only one chunk's token
# strings are alive at once, the corpus is kept as integer arrays.
CHUNK_SIZE = 2048

# A word is a run of unicode letters, digits, underscores and combining marks
# (so "हिन्दी" stays whole), with inner apostrophes kept ("don't"); every other
# non-space character is a token of its own, so "!" and ":)" carry signal.
_WORD = rf"[\w{COMBINING_MARKS}]+"
_WORD_PATTERN = re.compile(rf"{_WORD}(?:['’]{_WORD})*|[^\w\s]")
# ASCII text has no combining marks: the same tokens from a smaller pattern,
# which scans faster.
_ASCII_WORD_PATTERN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def word_tokenize(text):
    """Split ``text`` into words and punctuation marks (unicode-aware).

    Examples
    --------
    >>> word_tokenize("Don't buy it... 5€ wasted!")
    ["Don't", 'buy', 'it', '.', '.', '.', '5', '€', 'wasted', '!']
    """
    if text.isascii():
        return _ASCII_WORD_PATTERN.findall(text)
    return _WORD_PATTERN.findall(text)


def tokenize(documents, *, lowercase=True, tokenizer=None):
    """Tokenize every document: a list with one list of tokens per document.

    ``tokenizer`` is a callable ``str -> list[str]``, or None for
    :func:`word_tokenize`. ``lowercase`` is applied before tokenizing.
    """
    return list(iter_tokenize(documents, lowercase=lowercase, tokenizer=tokenizer))


def iter_tokenize(documents, *, lowercase=True, tokenizer=None):
    """Like :func:`tokenize`, lazily: an iterator of the documents' token lists.

    :func:`build_vocabulary` and :func:`encode` consume it a chunk of
    documents at a time, so the token strings of a whole corpus are never
    held at once.
    """
    if lowercase:
        documents = map(str.lower, documents)
    if tokenizer is None:
        return map(word_tokenize, documents)
    return map(_check_tokenizer_output, count(), map(tokenizer, documents))


def _check_tokenizer_output(i, doc):
    """Return document ``i``'s tokens from a custom tokenizer, if they are str."""
    if not isinstance(doc, (list, tuple)):
        raise TypeError(
            "tokenizer must return a list of str for each document; it "
            f"returned {type(doc).__name__} for document {i}."
        )
    bad = next((t for t in doc if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(
            "tokenizer must return a list of str for each document; it "
            f"returned a {type(bad).__name__} token for document {i}."
        )
    return doc


class _Indexer(dict):
    """token -> provisional id, numbering new tokens in order of appearance."""

    def __missing__(self, token):
        self[token] = len(self)
        return self[token]


def _chunks(token_lists, max_len):
    """Documents ``CHUNK_SIZE`` at a time: ``(kept token lists, lengths)``.

    Each document is cut to its first ``max_len`` tokens; ``lengths`` are the
    full lengths, before the cut.
    """
    documents = iter(token_lists)
    while chunk := list(islice(documents, CHUNK_SIZE)):
        lengths = np.fromiter(map(len, chunk), dtype=np.int64, count=len(chunk))
        for i in np.flatnonzero(lengths > max_len).tolist():  # the few long ones
            chunk[i] = chunk[i][:max_len]
        yield chunk, lengths


def _grown(counts, n_types):
    """``counts`` padded with zeros to length ``n_types`` (new token types)."""
    return np.pad(counts, (0, n_types - len(counts)))


def _with_cls(ids, kept):
    """Prepend the classification token to every document: ``(ids, offsets)``."""
    n_docs = len(kept)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(kept + 1, out=offsets[1:])
    out = np.empty(offsets[-1], dtype=np.int64)
    is_cls = np.zeros(offsets[-1], dtype=bool)
    is_cls[offsets[:-1]] = True
    out[is_cls] = CLS_ID
    out[~is_cls] = ids
    return out, offsets


def _count_tokens(token_lists, max_len):
    """One pass over the documents: provisional ids and their counts.

    Returns the words in provisional-id order (an ``_Indexer``), the
    documents' provisional ids (first ``max_len`` tokens each), their full
    lengths, and each word's term and document frequency.
    """
    indexer = _Indexer()
    pieces, length_parts = [], []
    # Document frequencies, in an array whose capacity doubles as token types
    # appear: a chunk's work is then proportional to its own tokens, not to
    # the vocabulary so far (term frequencies are counted once, at the end).
    doc_freq = np.zeros(1024, dtype=np.int64)
    for chunk, lengths in _chunks(token_lists, max_len):
        kept = np.minimum(lengths, max_len)
        provisional = np.fromiter(
            map(indexer.__getitem__, chain.from_iterable(chunk)),
            dtype=np.int64,
            count=int(kept.sum()),
        )
        n_types = len(indexer)
        # Document frequency: count each (document, token) pair once. Sorting
        # and comparing neighbours is faster here than np.unique's hashing.
        doc_of_token = np.repeat(np.arange(len(chunk), dtype=np.int64), kept)
        pairs = np.sort(doc_of_token * n_types + provisional)
        first = np.ones(len(pairs), dtype=bool)
        first[1:] = pairs[1:] != pairs[:-1]
        types, n_docs_with = np.unique(pairs[first] % n_types, return_counts=True)
        if n_types > len(doc_freq):
            doc_freq = _grown(doc_freq, max(n_types, 2 * len(doc_freq)))
        doc_freq[types] += n_docs_with
        pieces.append(provisional.astype(np.int32))
        length_parts.append(lengths)
    lengths = np.concatenate(length_parts) if length_parts else np.zeros(0, np.int64)
    n_types = len(indexer)
    provisional = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
    del pieces
    term_freq = np.bincount(provisional, minlength=n_types)
    doc_freq = doc_freq[:n_types]
    return indexer, provisional, lengths, term_freq, doc_freq


def build_vocabulary(token_lists, *, max_len, min_df=1, max_features=None):
    """Learn a vocabulary from tokenized documents and encode them.

    Only the first ``max_len`` tokens of each document count (the ones the
    model sees). Tokens kept: those in at least ``min_df`` documents (an int
    count, or a float proportion of documents), then the ``max_features`` most
    frequent; text equal to a special token's name maps to ``[UNK]``. Ids: the
    special tokens first, then by decreasing frequency, ties in alphabetical
    order.

    ``token_lists`` may be any iterable of token lists, e.g. the lazy
    :func:`iter_tokenize`: documents are read ``CHUNK_SIZE`` at a time and
    only their integer ids are kept.

    Returns
    -------
    vocabulary : dict of str -> int
    ids, offsets : ndarray
        The documents encoded as in :func:`encode`.
    n_truncated : int
        Documents longer than ``max_len``.
    """
    indexer, provisional, lengths, term_freq, doc_freq = _count_tokens(
        token_lists, max_len
    )
    n_docs = len(lengths)
    n_types = len(indexer)

    min_count = min_df if isinstance(min_df, (int, np.integer)) else min_df * n_docs
    words = np.array(list(indexer), dtype=object)
    # A document's literal "[PAD]", "[UNK]" or "[CLS]" is an unknown word, not
    # the special token.
    is_special = np.isin(words, SPECIAL_TOKENS)
    candidates = np.flatnonzero((doc_freq >= max(min_count, 1)) & ~is_special)
    # Ties in alphabetical (code point) order, compared as Python str: numpy's
    # fixed-width str dtype drops trailing NUL characters, which would make
    # "b\x00" equal to "b" and their order depend on the documents' order.
    candidate_words = words[candidates].tolist()
    alphabetical = np.empty(len(candidates), dtype=np.int64)
    alphabetical[sorted(range(len(candidates)), key=candidate_words.__getitem__)] = (
        np.arange(len(candidates))
    )
    # Lexsort sorts by the last key first: frequency down, then the token.
    order = np.lexsort((alphabetical, -term_freq[candidates]))
    chosen = candidates[order][:max_features]

    vocabulary = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    start = len(SPECIAL_TOKENS)
    vocabulary.update(
        zip(words[chosen].tolist(), range(start, start + len(chosen)), strict=True)
    )
    remap = np.full(n_types, UNK_ID, dtype=np.int64)
    remap[chosen] = np.arange(start, start + len(chosen))
    ids, offsets = _with_cls(remap[provisional], np.minimum(lengths, max_len))
    return vocabulary, ids, offsets, int((lengths > max_len).sum())


def encode(token_lists, vocabulary, *, max_len):
    """Encode tokenized documents with a fitted vocabulary.

    Each document becomes ``[CLS]`` followed by the ids of its first
    ``max_len`` tokens; unknown tokens map to ``[UNK]``. ``token_lists`` may
    be any iterable of token lists, read ``CHUNK_SIZE`` documents at a time.

    Returns
    -------
    ids : ndarray of shape (n_tokens,)
        All documents' ids, one after another.
    offsets : ndarray of shape (n_documents + 1,)
        Document ``i`` is ``ids[offsets[i]:offsets[i + 1]]``.
    n_truncated : int
        Documents longer than ``max_len``.
    """
    pieces, length_parts = [], []
    for chunk, lengths in _chunks(token_lists, max_len):
        kept = np.minimum(lengths, max_len)
        pieces.append(
            np.fromiter(
                map(vocabulary.get, chain.from_iterable(chunk), repeat(UNK_ID)),
                dtype=np.int64,
                count=int(kept.sum()),
            )
        )
        length_parts.append(lengths)
    lengths = np.concatenate(length_parts) if length_parts else np.zeros(0, np.int64)
    ids = np.concatenate(pieces) if pieces else np.zeros(0, np.int64)
    del pieces
    ids[ids < len(SPECIAL_TOKENS)] = UNK_ID  # literal "[PAD]" etc. are unknown words
    ids, offsets = _with_cls(ids, np.minimum(lengths, max_len))
    return ids, offsets, int((lengths > max_len).sum())
