"""Print the local classifier's F1 on the sarcastic class of iSarcasmEval (train.En.csv).

(a) seed + iSarcasmEval: 5-fold stratified CV over the iSarcasmEval rows, the seed rows added to
    every training fold; scored on the held-out iSarcasmEval fold only. Shown at the default
    threshold (0.5) and at a threshold picked by an inner 3-fold CV on the training fold alone
    (the test fold never influences it), and at the threshold the trained model stores (chosen
    on its own out-of-fold probabilities, as production does).
(b) seed only: trained on the shipped seed data, scored on every iSarcasmEval row.
(c) seed only, 5-fold CV on the seed data itself, with how many sarcastic messages reach the
    default flag threshold (0.8) and how many of those that reach it are sarcastic.

Run: ``.venv/bin/python bench/cv_f1.py [PATH]`` (default ../shared/data/isarcasmeval/train.En.csv).
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from tuning.datasets.basedata import LabelledMessage, dedupe_messages, load_seed_messages
from tuning.models.local_classifier import train_classifier

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/isarcasmeval/train.En.csv"
SEED = 0


def load_isarcasmeval(path: Path) -> list[LabelledMessage]:
    """Return the non-empty, de-duplicated (tweet, sarcastic) rows of the file."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [LabelledMessage(r["tweet"], int(r["sarcastic"])) for r in csv.DictReader(handle)]
    return dedupe_messages(r for r in rows if r.text.strip())


def fit_proba(train: Sequence[LabelledMessage], test: Sequence[str]) -> np.ndarray:
    """Train as production does (calibrated); return P(sarcastic) for ``test``."""
    return fit_with_threshold(train, test)[0]


def fit_with_threshold(
    train: Sequence[LabelledMessage], test: Sequence[str]
) -> tuple[np.ndarray, float]:
    """Train as production does; return P(sarcastic) for ``test`` and the model's threshold."""
    model, metrics = train_classifier([r.text for r in train], [r.label for r in train], cv_folds=0)
    return np.asarray(model.predict_proba(list(test))[:, 1]), metrics["threshold"]


def pick_threshold(seed: Sequence[LabelledMessage], train: Sequence[LabelledMessage]) -> float:
    """Choose the F1-best threshold from inner 3-fold out-of-fold probabilities on ``train``."""
    labels = np.array([r.label for r in train])
    probs = np.zeros(len(train))
    for inner_train, inner_test in StratifiedKFold(3, shuffle=True, random_state=SEED).split(
        probs, labels
    ):
        fold = [*seed, *(train[i] for i in inner_train)]
        probs[inner_test] = fit_proba(fold, [train[i].text for i in inner_test])
    grid = np.arange(0.2, 0.81, 0.02)
    scores = [f1_score(labels, probs >= t, zero_division=0) for t in grid]
    return float(grid[int(np.argmax(scores))])


def report(name: str, labels: np.ndarray, predicted: np.ndarray) -> None:
    """Print F1, precision and recall on the sarcastic class."""
    print(
        f"{name:<48} F1 {f1_score(labels, predicted):.3f}  "
        f"P {precision_score(labels, predicted, zero_division=0):.3f}  "
        f"R {recall_score(labels, predicted):.3f}"
    )


def report_seed_cv(seed: Sequence[LabelledMessage]) -> None:
    """Print (c): 5-fold CV on the seed data, and what the default 0.8 threshold catches."""
    labels = np.array([r.label for r in seed])
    probs = np.zeros(len(seed))
    for train_idx, test_idx in StratifiedKFold(5, shuffle=True, random_state=SEED).split(
        probs, labels
    ):
        probs[test_idx] = fit_proba([seed[i] for i in train_idx], [seed[i].text for i in test_idx])
    report("(c) seed only, 5-fold CV on the seed data, 0.5", labels, probs >= 0.5)
    flagged = probs >= 0.8
    print(
        f"{'(c) ROC AUC; at p >= 0.8':<48} {roc_auc_score(labels, probs):.3f}; "
        f"{flagged[labels == 1].mean():.0%} of sarcastic reach it, "
        f"{labels[flagged].mean():.0%} of those reaching it are sarcastic"
    )


def main(argv: Sequence[str]) -> int:
    """Run the evaluations and print the figures."""
    path = Path(argv[0]) if argv else DEFAULT
    seed = load_seed_messages()
    report_seed_cv(seed)
    if not path.is_file():
        print(f"skipped (a) and (b): {path} not found (it lives in ../shared/data, not the repo)")
        return 0
    started = time.perf_counter()
    data = load_isarcasmeval(path)
    seed_keys = {r.text.strip().lower() for r in seed}
    data = [r for r in data if r.text.strip().lower() not in seed_keys]
    labels = np.array([r.label for r in data])
    print(f"iSarcasmEval rows: {len(data)} ({labels.mean():.1%} sarcastic); seed rows: {len(seed)}")
    report("always sarcastic (baseline on this file)", labels, np.ones_like(labels))

    probs, tuned = np.zeros(len(data)), np.zeros(len(data), dtype=bool)
    stored = np.zeros(len(data), dtype=bool)
    for fold, (train_idx, test_idx) in enumerate(
        StratifiedKFold(5, shuffle=True, random_state=SEED).split(probs, labels), start=1
    ):
        train = [data[i] for i in train_idx]
        probs[test_idx], own = fit_with_threshold([*seed, *train], [data[i].text for i in test_idx])
        stored[test_idx] = probs[test_idx] >= own
        threshold = pick_threshold(seed, train)
        tuned[test_idx] = probs[test_idx] >= threshold
        print(
            f"  fold {fold}: inner-CV threshold {threshold:.2f}, model's own {own:.2f}",
            file=sys.stderr,
        )
    report("(a) seed + iSarcasmEval, 5-fold CV, threshold 0.5", labels, probs >= 0.5)
    report("(a) same, threshold from inner CV", labels, tuned)
    report("(a) same, the threshold the model stores", labels, stored)
    print(f"{'(a) ROC AUC of the CV probabilities':<48} {roc_auc_score(labels, probs):.3f}")

    seed_probs = fit_proba(seed, [r.text for r in data])
    report("(b) seed only, on all iSarcasmEval rows, 0.5", labels, seed_probs >= 0.5)
    print(f"{'(b) ROC AUC':<48} {roc_auc_score(labels, seed_probs):.3f}")
    print(f"took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
