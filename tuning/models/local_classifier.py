"""The local classifier: TF-IDF word and character n-grams into a logistic regression.

Word 1-2 grams catch phrasing ("oh great", "just love"); char_wb 2-5 grams catch spelling,
elongation and punctuation ("soooo", "!!", "/s"); ``class_weight="balanced"`` keeps a skewed
training set from drowning the sarcastic class.

The probabilities are calibrated, because channels flag at a probability threshold (0.8 by
default). A regularised logistic regression on a few hundred chat messages is timid: on the
seed data, out of fold, 1 % of sarcastic messages reached 0.8. Platt scaling fitted on
out-of-fold scores fixes that (23 % reach it, and 89 % of what reaches it is sarcastic), and
since Platt scaling is itself a logistic function of the linear score, it folds into the model's
own weights: the saved model is still one plain logistic regression, as fast as before.

When enough of the training rows are channel feedback (``channel``), Platt scaling is fitted on
those rows' out-of-fold scores only, so "flag at p >= 0.8" means what it says on the channel's
own messages; unless the fit there runs backwards (a slope <= 0: channel labels exist only for
what was flagged or marked, so they can rank the other way), then on every row. The same
out-of-fold probabilities choose the model's decision threshold (best F1 on the sarcastic class,
:func:`~tuning.models.thresholds.best_threshold`), which it stores and ``label`` uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline

from tuning.errors import DatasetError, ModelError
from tuning.models import artifacts
from tuning.models.linear_scorer import build_scorer
from tuning.models.thresholds import best_threshold
from tuning.records import Label, Prediction
from tuning.text import MAX_TEXT_CHARS

KIND = "local-classifier"
MODEL_FILE = "classifier.skops"
MIN_PER_CLASS = 5
CALIBRATION_FOLDS = 5
MIN_CHANNEL_ROWS = 40  # fewer channel rows than this: calibrate on every row


def build_pipeline(*, c: float = 1.0) -> Pipeline:
    """Return an unfitted TF-IDF (word 1-2 + char_wb 2-5) logistic-regression pipeline."""
    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
                ),
            ),
        ]
    )
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    return Pipeline([("features", features), ("model", model)])


def _check(texts: Sequence[str], labels: Sequence[int]) -> None:
    if len(texts) != len(labels):
        raise DatasetError(f"{len(texts)} texts but {len(labels)} labels")
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=2)
    if len(counts) > 2 or min(counts) < MIN_PER_CLASS:
        raise DatasetError(
            f"need labels 0/1 with at least {MIN_PER_CLASS} of each; got {counts.tolist()}"
        )


def cross_validated_f1(
    texts: Sequence[str], labels: Sequence[int], *, folds: int = 5, seed: int = 0
) -> float:
    """Return the F1 on the sarcastic class from ``folds``-fold stratified cross-validation."""
    _check(texts, labels)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = cross_val_predict(build_pipeline(), list(texts), list(labels), cv=splitter)
    return float(f1_score(labels, predicted, pos_label=1))


def train_classifier(
    texts: Sequence[str],
    labels: Sequence[int],
    *,
    cv_folds: int = 5,
    channel: Sequence[bool] | None = None,
) -> tuple[Pipeline, dict[str, float]]:
    """Fit the pipeline on labelled texts (1 = sarcastic); return it and its training metrics.

    ``channel`` marks the rows that are channel feedback (see the module docstring). The
    metrics include ``threshold``, the decision threshold chosen on out-of-fold probabilities.
    """
    _check(texts, labels)
    metrics = {"n_train": float(len(texts)), "n_sarcastic": float(sum(labels))}
    if cv_folds >= 2:
        metrics["cv_f1"] = cross_validated_f1(texts, labels, folds=cv_folds)
    pipeline = build_pipeline().fit(list(texts), list(labels))
    threshold, on_channel = calibrate(pipeline, texts, labels, channel=channel)
    metrics["threshold"] = threshold
    metrics["calibrated_on_channel"] = float(on_channel)
    return pipeline, metrics


def calibration_rows(labels: Sequence[int], channel: Sequence[bool] | None) -> np.ndarray:
    """Return a mask of the rows to calibrate on: the channel rows if enough, else all."""
    every = np.ones(len(labels), dtype=bool)
    if channel is None:
        return every
    mask = np.asarray(channel, dtype=bool)
    if len(mask) != len(labels):
        raise DatasetError(f"{len(labels)} labels but {len(mask)} channel marks")
    counts = np.bincount(np.asarray(labels, dtype=int)[mask], minlength=2)
    return mask if mask.sum() >= MIN_CHANNEL_ROWS and counts.min() >= MIN_PER_CLASS else every


def calibrate(
    pipeline: Pipeline,
    texts: Sequence[str],
    labels: Sequence[int],
    *,
    channel: Sequence[bool] | None = None,
) -> tuple[float, bool]:
    """Fold Platt scaling, fitted on out-of-fold scores, into a fitted pipeline's weights.

    Platt scaling maps a score s to sigmoid(a*s + b); with s = w.x + c that is a logistic
    regression with weights a*w and intercept a*c + b, so the model keeps its shape and speed.
    Return the F1-best threshold on the calibrated out-of-fold probabilities of the rows it was
    fitted on, and whether those were the channel rows.
    """
    folds = min(CALIBRATION_FOLDS, int(np.bincount(np.asarray(labels, dtype=int)).min()))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    scores = cross_val_predict(
        build_pipeline(), list(texts), list(labels), cv=splitter, method="decision_function"
    )
    rows = calibration_rows(labels, channel)
    platt = _platt(scores, labels, rows)
    if platt.coef_[0, 0] <= 0 and not rows.all():
        # Channel labels are chosen by what was flagged, so on them a higher score can mean
        # "less often sarcastic"; a backwards slope would invert the model. Use every row.
        rows = np.ones(len(labels), dtype=bool)
        platt = _platt(scores, labels, rows)
    y = np.asarray(labels, dtype=int)[rows]
    slope, offset = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    model = pipeline.named_steps["model"]
    model.coef_ = model.coef_ * slope
    model.intercept_ = model.intercept_ * slope + offset
    probabilities = platt.predict_proba(np.reshape(scores[rows], (-1, 1)))[:, 1]
    return best_threshold(y.tolist(), probabilities.tolist()), not bool(rows.all())


def _platt(scores: np.ndarray, labels: Sequence[int], rows: np.ndarray) -> LogisticRegression:
    """Return Platt scaling (a logistic regression on the score) fitted on ``rows``."""
    y = np.asarray(labels, dtype=int)[rows]
    return LogisticRegression(C=1e6, max_iter=1000).fit(np.reshape(scores[rows], (-1, 1)), y)


class LocalClassifier:
    """A fitted pipeline serving the :class:`~tuning.models.base.Classifier` protocol."""

    def __init__(self, pipeline: Any, *, version: str, threshold: float = 0.5) -> None:
        self._pipeline = pipeline
        # The same probabilities without sklearn's per-n-gram Python work; None: use the pipeline.
        self._scorer = build_scorer(pipeline)
        self._version = version
        self.threshold = threshold

    @property
    def version(self) -> str:
        """The registry version this classifier serves."""
        return self._version

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        """Return the probability that each text is sarcastic, in input order (blocking)."""
        if not texts:
            return []
        # Past the limit, more text changes nothing but the cost: score the first 4,000 chars.
        clipped = [text[:MAX_TEXT_CHARS] for text in texts]
        if self._scorer is not None:
            return [float(p) for p in self._scorer.probabilities(clipped)]
        return [float(p) for p in self._pipeline.predict_proba(clipped)[:, 1]]

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Return one prediction per text, in input order (blocking)."""
        return self.predictions(texts, self.probabilities(texts))

    def predictions(self, texts: Sequence[str], probabilities: Sequence[float]) -> list[Prediction]:
        """Return the predictions for texts whose probabilities were computed elsewhere."""
        return [
            Prediction(text=text, label=self._label(p), probability=p)
            for text, p in zip(texts, probabilities, strict=True)
        ]

    async def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """Return one prediction per text, in input order, computed off the event loop."""
        return await asyncio.to_thread(self.predict, list(texts))

    def _label(self, probability: float) -> Label:
        return "sarcastic" if probability >= self.threshold else "not_sarcastic"

    def save(self, directory: Path, *, fingerprint: str, metrics: dict[str, float]) -> None:
        """Write the skops model and its sidecar into ``directory``."""
        artifacts.dump_estimator(self._pipeline, directory / MODEL_FILE)
        artifacts.write_meta(
            directory,
            version=self._version,
            kind=KIND,
            fingerprint=fingerprint,
            metrics={**metrics, "threshold": self.threshold},
        )

    @classmethod
    def load(cls, directory: Path) -> LocalClassifier:
        """Load a classifier saved by :meth:`save`; raise ModelError naming a bad file."""
        meta = artifacts.read_meta(directory, kind=KIND)
        pipeline = artifacts.load_estimator(directory / MODEL_FILE)
        if not hasattr(pipeline, "predict_proba"):
            raise ModelError(f"{directory / MODEL_FILE}: not a classifier")
        threshold = float(meta.get("metrics", {}).get("threshold", 0.5))
        return cls(pipeline, version=str(meta["version"]), threshold=threshold)
