"""A fast, exact scorer for the fitted TF-IDF + logistic-regression pipeline of the classifier.

scikit-learn builds every character n-gram of every text as a Python string and looks it up in
a dict one at a time; that, not the model, sets the classifier's throughput. This scorer reads
the fitted vocabularies, IDF weights and coefficients once and then, for a whole batch at a
time, turns each character n-gram into an exact integer key with numpy (a character is a digit
in the vocabulary's own alphabet), finds the keys in a sorted array of the vocabulary's keys,
and applies sublinear TF, IDF, the per-block L2 norm and the logistic function as array sums.
It returns what ``predict_proba`` returns (to rounding), and it is only built for pipelines
whose settings it reproduces exactly; for any other, :func:`build_scorer` returns None.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise, repeat
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

_SAME_TFIDF = {"lowercase": True, "strip_accents": None, "preprocessor": None, "input": "content"}
_SAME_WEIGHTS = {"norm": "l2", "use_idf": True, "sublinear_tf": True, "binary": False}
# Pruning n-grams by their prefix (below) is exact only when df alone chose the vocabulary.
CHUNK = 256  # texts scored per pass
DENSE_KEYS = 1 << 20  # at most 8 MB per dense table
_DF_ONLY = {"max_df": 1.0, "max_features": None, "vocabulary": None}


def _settings_match(vectorizer: TfidfVectorizer, wanted: dict[str, Any]) -> bool:
    params = vectorizer.get_params()
    return all(params.get(key) == value for key, value in wanted.items())


def _weigh(
    rows: np.ndarray, features: np.ndarray, n_rows: int, idf: np.ndarray, coef: np.ndarray
) -> np.ndarray:
    """Return each row's L2-normalised sublinear TF-IDF vector dot ``coef``."""
    width = len(idf)
    pairs, counts = np.unique(rows * width + features, return_counts=True)
    row, feature = pairs // width, pairs % width
    weights = (1.0 + np.log(counts)) * idf[feature]
    norms = np.sqrt(np.bincount(row, weights * weights, minlength=n_rows))
    norms[norms == 0] = 1.0  # a text with no known n-gram scores 0, as sklearn's normalize does
    return np.bincount(row, weights * coef[feature], minlength=n_rows) / norms


class _WordBlock:
    """Word 1-2 grams: regex tokens and their adjacent pairs, looked up in the vocabulary."""

    def __init__(self, vectorizer: TfidfVectorizer, coef: np.ndarray) -> None:
        self._tokens = re.compile(vectorizer.token_pattern).findall
        self._vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self._coef = coef

    @classmethod
    def fits(cls, vectorizer: TfidfVectorizer) -> bool:
        """Say whether this block reproduces ``vectorizer`` exactly."""
        return (
            _settings_match(vectorizer, {**_SAME_TFIDF, **_SAME_WEIGHTS})
            and vectorizer.analyzer == "word"
            and vectorizer.tokenizer is None
            and vectorizer.stop_words is None
            and tuple(vectorizer.ngram_range) == (1, 2)
            and re.compile(vectorizer.token_pattern).groups == 0
        )

    def scores(self, lowered: Sequence[str]) -> np.ndarray:
        """Return each lowered text's score contribution from this block."""
        unknown = len(self._vocabulary)
        ids: list[int] = []
        lengths = []
        for text in lowered:
            tokens = self._tokens(text)
            before = len(ids)
            ids.extend(map(self._vocabulary.get, tokens, repeat(unknown)))
            pairs = map(" ".join, pairwise(tokens))
            ids.extend(map(self._vocabulary.get, pairs, repeat(unknown)))
            lengths.append(len(ids) - before)
        features = np.array(ids, dtype=np.int64)
        rows = np.repeat(np.arange(len(lowered)), lengths)
        known = features != unknown
        return _weigh(rows[known], features[known], len(lowered), self._idf, self._coef)


class _CharBlock:
    """char_wb n-grams as integer keys: digit i of a key is the alphabet index of character i.

    char_wb pads each whitespace-separated word with one space and takes its n-grams; joining
    the padded words with single spaces yields every one of them exactly once, plus n-grams
    with a space inside, which no vocabulary entry has. Characters outside the vocabulary's
    alphabet (and the newline between texts) are digit 0, which no key contains.
    """

    def __init__(self, vectorizer: TfidfVectorizer, coef: np.ndarray) -> None:
        vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._low, self._high = vectorizer.ngram_range
        alphabet = sorted({char for gram in vocabulary for char in gram})
        self._base = len(alphabet) + 1
        self._digits = np.zeros(0x110000, dtype=np.int32)  # every code point, 4.5 MB
        self._digits[[ord(char) for char in alphabet]] = np.arange(1, self._base)
        keys = np.array([self._key(gram) for gram in vocabulary], dtype=np.int64)
        order = np.argsort(keys)
        self._keys = keys[order]
        self._features = np.fromiter(vocabulary.values(), dtype=np.int64)[order]
        # Short n-grams have few possible keys: a dense key -> feature table beats a search.
        self._tables = {
            n: self._table(n) for n in range(2, self._high + 1) if self._base**n <= DENSE_KEYS
        }
        self._idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self._coef = coef

    @classmethod
    def fits(cls, vectorizer: TfidfVectorizer) -> bool:
        """Say whether this block reproduces ``vectorizer`` exactly (and its keys fit 63 bits)."""
        low, high = vectorizer.ngram_range
        # From 2 up, a padded word (3+ chars) is never shorter than the smallest n, which
        # sklearn would emit whole; 1-grams would count the shared space twice.
        if not (vectorizer.analyzer == "char_wb" and 2 <= low <= 3 and low <= high):
            return False
        alphabet = {char for gram in vectorizer.vocabulary_ for char in gram}
        fits_bits = (len(alphabet) + 1) ** high < 2**63
        return fits_bits and _settings_match(
            vectorizer, {**_SAME_TFIDF, **_SAME_WEIGHTS, **_DF_ONLY}
        )

    def _table(self, n: int) -> np.ndarray:
        table = np.full(self._base**n, -1, dtype=np.int64)
        sized = (self._keys >= self._base ** (n - 1)) & (self._keys < self._base**n)
        table[self._keys[sized]] = self._features[sized]
        return table

    def _find(self, n: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return a mask of the n-gram keys in the vocabulary, and their features."""
        table = self._tables.get(n)
        if table is not None:
            features = table[keys]
            hit = features >= 0
            return hit, features[hit]
        found = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        hit = self._keys[found] == keys
        return hit, self._features[found[hit]]

    def _key(self, gram: str) -> int:
        return sum(int(self._digits[ord(char)]) * self._base**i for i, char in enumerate(gram))

    def scores(self, lowered: Sequence[str]) -> np.ndarray:
        """Return each lowered text's score contribution from this block."""
        padded = [" " + " ".join(text.split()) + " " for text in lowered]
        joined = "\n".join(padded) + "\n" * self._high  # the tail lets every window read ahead
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        digits = self._digits[codes].astype(np.int64)
        row_of = np.repeat(np.arange(len(padded)), [len(text) + 1 for text in padded])
        starts = np.arange(len(row_of))
        keys = digits[: len(row_of)].copy()
        rows, features = [], []
        for n in range(2, self._high + 1):
            # An n-gram seen in min_df texts has its (n-1)-gram prefix in as many, so only
            # windows whose prefix is known can be known: the rest are dropped before the search.
            next_digit = digits[starts + n - 1]
            keys = np.where(next_digit > 0, keys + next_digit * self._base ** (n - 1), 0)
            hit, found = self._find(n, keys)
            if n >= self._low:
                rows.append(row_of[starts[hit]])
                features.append(found)
            if n > 2 or self._low <= 2:
                starts, keys = starts[hit], keys[hit]
        return _weigh(
            np.concatenate(rows), np.concatenate(features), len(lowered), self._idf, self._coef
        )


class LinearScorer:
    """P(sarcastic) from a fitted word + char_wb TF-IDF logistic regression, a batch at a time."""

    def __init__(self, word: _WordBlock, char: _CharBlock, intercept: float) -> None:
        self._word = word
        self._char = char
        self._intercept = intercept

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Return the probability of class 1 for each text, as ``predict_proba(texts)[:, 1]``."""
        # A chunk's arrays (a few hundred n-grams per text) stay in cache; a whole batch's do not.
        chunks = [texts[start : start + CHUNK] for start in range(0, len(texts), CHUNK)]
        scores = np.concatenate([self._scores(chunk) for chunk in chunks] or [np.zeros(0)])
        return np.asarray(1.0 / (1.0 + np.exp(-scores)))

    def _scores(self, texts: Sequence[str]) -> np.ndarray:
        lowered = [text.lower() for text in texts]
        scores: np.ndarray = self._word.scores(lowered) + self._char.scores(lowered)
        return scores + self._intercept


def build_scorer(pipeline: object) -> LinearScorer | None:
    """Return a scorer equivalent to ``pipeline``, or None if its shape is not the one known."""
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        return None
    (_, features), (_, model) = pipeline.steps
    if not isinstance(features, FeatureUnion) or not isinstance(model, LogisticRegression):
        return None
    parts = [part for _, part in features.transformer_list]
    if len(parts) != 2 or features.transformer_weights is not None:
        return None
    word, char = parts
    if not (isinstance(word, TfidfVectorizer) and isinstance(char, TfidfVectorizer)):
        return None
    if not (_WordBlock.fits(word) and _CharBlock.fits(char)) or list(model.classes_) != [0, 1]:
        return None
    coef = np.asarray(model.coef_, dtype=np.float64)[0]
    split = len(word.vocabulary_)
    if coef.shape != (split + len(char.vocabulary_),):
        return None
    return LinearScorer(
        _WordBlock(word, coef[:split]), _CharBlock(char, coef[split:]), float(model.intercept_[0])
    )
