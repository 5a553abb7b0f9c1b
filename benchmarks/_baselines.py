"""The linear text baselines of ``text_quality``: TF-IDF + LR and NBSVM (NB-LR).

Both search ``C`` on a stratified validation split of the training data
(highest validation accuracy, ties to the lower log-loss) and refit on all
of it with the chosen value, as a careful user of scikit-learn would.
"""

import numpy as np
from _text_sets import stratified_split
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder

__all__ = ["NBLogisticRegression", "searched_nbsvm", "searched_tfidf"]

C_GRID = (0.25, 1.0, 4.0, 16.0, 64.0)
VALIDATION_SIZE = 0.2


class NBLogisticRegression(ClassifierMixin, BaseEstimator):
    """Log-count-ratio features with a logistic regression (Wang & Manning 2012).

    Binarized word 1-2-gram counts, each scaled by its log-count ratio
    ``r = log((p / |p|_1) / (q / |q|_1))`` with ``p`` and ``q`` the smoothed
    (``alpha``) counts in and outside a class; a binary logistic regression
    per class (one-vs-rest for more than two classes, its probabilities
    normalised to sum to 1). The LR form of NBSVM, without the interpolation.
    """

    def __init__(self, *, C=1.0, alpha=1.0, ngram_range=(1, 2), max_iter=1000):
        self.C = C
        self.alpha = alpha
        self.ngram_range = ngram_range
        self.max_iter = max_iter

    def fit(self, X, y):
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        y = encoder.transform(y)
        self.vectorizer_ = CountVectorizer(binary=True, ngram_range=self.ngram_range)
        counts = self.vectorizer_.fit_transform(X).tocsr()
        targets = [1] if len(self.classes_) == 2 else range(len(self.classes_))
        self.ratios_, self.models_ = [], []
        for k in targets:
            inside = y == k
            p = self.alpha + np.asarray(counts[inside].sum(axis=0)).ravel()
            q = self.alpha + np.asarray(counts[~inside].sum(axis=0)).ravel()
            ratio = np.log(p / p.sum()) - np.log(q / q.sum())
            model = LogisticRegression(C=self.C, max_iter=self.max_iter)
            model.fit(counts @ sparse.diags(ratio), inside)
            self.ratios_.append(ratio)
            self.models_.append(model)
        return self

    def predict_proba(self, X):
        counts = self.vectorizer_.transform(X).tocsr()
        positive = np.column_stack(
            [
                model.predict_proba(counts @ sparse.diags(ratio))[:, 1]
                for ratio, model in zip(self.ratios_, self.models_, strict=True)
            ]
        )
        if len(self.classes_) == 2:
            return np.column_stack([1 - positive[:, 0], positive[:, 0]])
        return positive / positive.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def tfidf_lr(C):
    return make_pipeline(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
        LogisticRegression(C=C, max_iter=1000),
    )


def nbsvm(C):
    return NBLogisticRegression(C=C)


def search_c(make, X, y, seed):
    """The ``C`` of ``C_GRID`` that ``make(C)`` scores best on a validation split."""
    X_fit, X_val, y_fit, y_val = stratified_split(X, y, VALIDATION_SIZE, seed)
    best = None
    for C in C_GRID:
        model = make(C).fit(X_fit, y_fit)
        proba = model.predict_proba(X_val)
        known = np.isin(y_val, model.classes_)
        accuracy = accuracy_score(y_val, model.classes_[proba.argmax(axis=1)])
        loss = log_loss(y_val[known], proba[known], labels=model.classes_)
        key = (-accuracy, loss)
        if best is None or key < best[0]:
            best = (key, C)
    return best[1]


class Searched(ClassifierMixin, BaseEstimator):
    """``make(C)`` with ``C`` searched on a validation split, refit on all of ``X``."""

    def __init__(self, make, seed=0):
        self.make = make
        self.seed = seed

    def fit(self, X, y):
        self.C_ = search_c(self.make, X, y, self.seed)
        self.model_ = self.make(self.C_).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


def searched_tfidf(seed=0):
    return Searched(tfidf_lr, seed)


def searched_nbsvm(seed=0):
    return Searched(nbsvm, seed)
