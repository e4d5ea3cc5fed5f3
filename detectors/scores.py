"""Binary-detection statistics (numpy only): AUC, AP, accuracy, TPR at a fixed FPR, ECE, and the
ROC / PR curves the leaderboard draws.

Labels are 1 for AI-generated (positive) and 0 for real; scores are probabilities (or any
monotone score for the ranking metrics).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

__all__ = ["auc", "average_precision", "roc_curve", "pr_curve", "tpr_at_fpr", "ece",
           "summary", "curve_points"]


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN with one class."""
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _counts_at_thresholds(labels: np.ndarray, scores: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scores sorted high to low and, at each distinct score used as threshold, how many
    clips are predicted positive and how many of those are positives.

    Returns ``(thresholds, predicted_positive, true_positive, labels_sorted)``.
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    return s[distinct], distinct + 1, np.cumsum(y)[distinct], y


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` at every distinct score, from (0, 0) to (1, 1)."""
    thresholds, predicted, tps, y = _counts_at_thresholds(labels, scores)
    fps = predicted - tps
    tpr = np.r_[0.0, tps / max(1, y.sum())]
    fpr = np.r_[0.0, fps / max(1, (~y).sum())]
    return fpr, tpr, np.r_[np.inf, thresholds]


def pr_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(precision, recall)`` at every distinct score (recall increasing)."""
    _, predicted, tps, y = _counts_at_thresholds(labels, scores)
    precision = tps / predicted
    recall = tps / max(1, y.sum())
    return np.r_[1.0, precision], np.r_[0.0, recall]


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """AP = Σ (R_n − R_{n−1}) P_n (the step-wise area under the PR curve)."""
    if not np.asarray(labels).astype(bool).any():
        return float("nan")
    precision, recall = pr_curve(labels, scores)
    return float(np.sum(np.diff(recall) * precision[1:]))


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, max_fpr: float = 0.01) -> float:
    """Highest TPR reachable with FPR ≤ ``max_fpr``."""
    fpr, tpr, _ = roc_curve(labels, scores)
    ok = fpr <= max_fpr + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def _class_weights(labels: np.ndarray) -> np.ndarray:
    """Weights giving each class the same total weight (sum = N)."""
    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = max(1, int(y.sum())), max(1, int((~y).sum()))
    return np.where(y, len(y) / (2 * n_pos), len(y) / (2 * n_neg))


def ece(labels: np.ndarray, probs: np.ndarray, bins: int = 10, balanced: bool = False) -> float:
    """Expected calibration error with ``bins`` equal-width probability bins; ``balanced``
    weights the classes equally (the 50/50 prior the shipped fusion is calibrated for)."""
    labels = np.asarray(labels, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    w = _class_weights(labels) if balanced else np.ones(len(labels))
    idx = np.minimum((probs * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            wm = w[m]
            total += wm.sum() * abs(np.average(probs[m], weights=wm)
                                    - np.average(labels[m], weights=wm))
    return float(total / max(1e-12, w.sum()))


def summary(labels: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """``auc, ap, accuracy, balanced_accuracy, tpr_at_1pct_fpr, ece, ece_balanced, n, n_fake,
    n_real`` of probabilities (accuracies at ``threshold``)."""
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=np.float64)
    correct = ((probs >= threshold).astype(int) == labels).astype(np.float64)
    return {
        "auc": auc(labels, probs),
        "ap": average_precision(labels, probs),
        "accuracy": float(correct.mean()),
        "balanced_accuracy": float(np.average(correct, weights=_class_weights(labels))),
        "tpr_at_1pct_fpr": tpr_at_fpr(labels, probs, 0.01),
        "ece": ece(labels, probs),
        "ece_balanced": ece(labels, probs, balanced=True),
        "n": int(len(labels)),
        "n_fake": int(labels.sum()),
        "n_real": int((1 - labels).sum()),
    }


def curve_points(labels: np.ndarray, probs: np.ndarray, max_points: int = 200
                 ) -> dict[str, dict[str, list[float]]]:
    """``{"roc": {"fpr", "tpr"}, "pr": {"precision", "recall"}}`` thinned to ``max_points``."""
    fpr, tpr, _ = roc_curve(labels, probs)
    precision, recall = pr_curve(labels, probs)

    def thin(*arrays: np.ndarray) -> list[list[float]]:
        n = len(arrays[0])
        idx = np.unique(np.round(np.linspace(0, n - 1, min(n, max_points))).astype(int))
        return [[round(float(v), 6) for v in a[idx]] for a in arrays]

    fpr_l, tpr_l = thin(fpr, tpr)
    p_l, r_l = thin(precision, recall)
    return {"roc": {"fpr": fpr_l, "tpr": tpr_l}, "pr": {"precision": p_l, "recall": r_l}}
