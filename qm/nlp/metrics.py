"""Scores shared by training (model selection on validation) and the eval command (held-out test)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


def classification_report(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict:
    """accuracy, macro/weighted F1 and per-class F1 over the classes present in truth or prediction."""
    present = [lab for lab in labels if lab in set(y_true) | set(y_pred)]
    per = f1_score(y_true, y_pred, labels=present, average=None, zero_division=0)
    true_present = [lab for lab in present if lab in set(y_true)]
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else 0.0,
        "macro_f1": float(f1_score(y_true, y_pred, labels=true_present, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=true_present, average="weighted",
                                      zero_division=0)),
        "per_class_f1": {lab: round(float(f), 4) for lab, f in zip(present, per, strict=True)},
        "support": {lab: int(sum(1 for t in y_true if t == lab)) for lab in true_present},
    }


def positive_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    tp = float(np.sum(y_true & y_pred))
    denom = float(np.sum(y_true) + np.sum(y_pred))
    return 2 * tp / denom if denom else 0.0


def bootstrap_f1_ci(y_true: np.ndarray, y_pred: np.ndarray, n_boot: int = 1000, seed: int = 0,
                    groups: np.ndarray | None = None) -> tuple[float, float]:
    """95% percentile CI of the positive-class F1, resampling whole dialogues when ``groups`` is given
    (sentences of one chat are not independent)."""
    rng = np.random.default_rng(seed)
    y_true = y_true.astype(bool)
    y_pred = y_pred.astype(bool)
    if groups is None:
        groups = np.arange(len(y_true))
    uniq, inv = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inv == g) for g in range(len(uniq))]
    scores = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(uniq), len(uniq))
        idx = np.concatenate([members[g] for g in pick]) if len(pick) else np.zeros(0, int)
        scores.append(positive_f1(y_true[idx], y_pred[idx]))
    lo, hi = np.percentile(scores, [2.5, 97.5])
    return float(lo), float(hi)
