"""Fusion of the detector families into one calibrated probability (Platt scaling).

A logistic regression on the families' logits ``z`` (shape ``(N, F)``):
``p = sigmoid(w · z + b)``, fitted by Newton's method with a small L2 penalty on a held-out
calibration split (not the split the networks were trained on), so the output is a calibrated
probability rather than an over-confident network score.

By default the fit weights the two classes equally, so the probability is calibrated for a
50/50 prior whatever the real:fake mix of the calibration data (the shipped data has three
fake sources per real clip). For another prior ``π`` add ``log(π / (1 - π))`` to the logit.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["PlattFusion"]


@dataclasses.dataclass
class PlattFusion:
    """``weights (F,)`` and ``bias``; :meth:`fit` returns a fitted instance."""

    weights: list[float]
    bias: float

    @staticmethod
    def fit(logits: np.ndarray, labels: np.ndarray, l2: float = 1e-2, steps: int = 50,
            balanced: bool = True) -> PlattFusion:
        """Fit on ``logits (N, F)`` and ``labels (N,)`` (1 = fake); ``balanced``: equal total
        weight per class (a 50/50 prior)."""
        x = np.c_[np.asarray(logits, np.float64), np.ones(len(labels))]
        y = np.asarray(labels, np.float64)
        n_pos = max(1.0, y.sum())
        n_neg = max(1.0, len(y) - y.sum())
        sw = (np.where(y > 0, len(y) / (2 * n_pos), len(y) / (2 * n_neg)) if balanced
              else np.ones(len(y)))
        w = np.zeros(x.shape[1])
        reg = np.full(x.shape[1], l2)
        reg[-1] = 0.0
        for _ in range(steps):
            p = 1 / (1 + np.exp(-np.clip(x @ w, -40, 40)))
            grad = x.T @ (sw * (p - y)) / len(y) + reg * w
            hess = (x * (sw * p * (1 - p))[:, None]).T @ x / len(y) + np.diag(reg + 1e-9)
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-9:
                break
        return PlattFusion([float(v) for v in w[:-1]], float(w[-1]))

    def logit(self, logits: np.ndarray) -> np.ndarray:
        """Fused logit of ``(N, F)`` family logits → ``(N,)``."""
        return np.asarray(logits, np.float64) @ np.asarray(self.weights) + self.bias

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``(N,)``."""
        return 1 / (1 + np.exp(-np.clip(self.logit(logits), -40, 40)))
