"""Least-squares polynomial fits of a coordinate against time, with the statistics probes need."""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["PolyFit", "polyfit", "shared_acceleration_fit", "SegmentFit"]


@dataclasses.dataclass(frozen=True)
class PolyFit:
    """``y(t) = sum_k coeffs[k] t^k`` fitted to ``n`` points.

    Attributes:
        coeffs: ``(degree + 1,)`` lowest order first (``y0``, velocity, half the acceleration).
        stderr: ``(degree + 1,)`` standard errors of ``coeffs`` (``inf`` without spare points).
        r2: coefficient of determination (1.0 when ``y`` is constant and fitted exactly).
        rmse: root mean square residual, in ``y`` units.
        n: number of points.
    """

    coeffs: np.ndarray
    stderr: np.ndarray
    r2: float
    rmse: float
    n: int

    def __call__(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        return sum(c * t**k for k, c in enumerate(self.coeffs))

    @property
    def acceleration(self) -> float:
        """Second derivative (constant for degree 2; 0 for lower degrees)."""
        return 2.0 * float(self.coeffs[2]) if self.coeffs.size > 2 else 0.0

    @property
    def acceleration_stderr(self) -> float:
        return 2.0 * float(self.stderr[2]) if self.stderr.size > 2 else 0.0


def _stats(design: np.ndarray, y: np.ndarray, coeffs: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(stderr, r2, rmse)`` of a linear least-squares fit."""
    n, p = design.shape
    resid = y - design @ coeffs
    sse = float(resid @ resid)
    sst = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - sse / sst if sst > 1e-12 else (1.0 if sse < 1e-12 else 0.0)
    if n > p:
        sigma2 = sse / (n - p)
        cov = sigma2 * np.linalg.pinv(design.T @ design)
        stderr = np.sqrt(np.maximum(np.diag(cov), 0.0))
    else:
        stderr = np.full(p, np.inf)
    return stderr, r2, float(np.sqrt(sse / n))


def polyfit(t: np.ndarray, y: np.ndarray, degree: int) -> PolyFit:
    """Fit a polynomial of ``degree`` to ``(N,)`` times and values (``N > degree``)."""
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if t.size <= degree:
        raise ValueError(f"a degree-{degree} fit needs more than {degree} points, got {t.size}")
    design = t[:, None] ** np.arange(degree + 1)[None, :]
    coeffs = np.linalg.lstsq(design, y, rcond=None)[0]
    stderr, r2, rmse = _stats(design, y, coeffs)
    return PolyFit(coeffs=coeffs, stderr=stderr, r2=r2, rmse=rmse, n=int(t.size))


@dataclasses.dataclass(frozen=True)
class SegmentFit:
    """Parabolic flights sharing one acceleration: ``y = a_k + b_k t + c t^2`` on segment ``k``.

    Attributes:
        intercepts: ``(S,)`` ``a_k``; slopes: ``(S,)`` ``b_k``; half_acceleration: ``c``.
        stderr_half_acceleration: standard error of ``c``.
        r2, rmse, n: as in :class:`PolyFit`, over all segments.
        sse: sum of squared residuals.
    """

    intercepts: np.ndarray
    slopes: np.ndarray
    half_acceleration: float
    stderr_half_acceleration: float
    r2: float
    rmse: float
    n: int
    sse: float

    def segment(self, k: int, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        return self.intercepts[k] + self.slopes[k] * t + self.half_acceleration * t * t


def shared_acceleration_fit(t: np.ndarray, y: np.ndarray, segment: np.ndarray) -> SegmentFit:
    """Fit parabolas with a common acceleration to the segments ``0..S-1`` of ``(N,)`` points.

    ``segment`` ``(N,)`` int gives each point's segment; every segment needs 2 points or more.
    """
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    segment = np.asarray(segment)
    s = int(segment.max()) + 1
    design = np.zeros((t.size, 2 * s + 1))
    rows = np.arange(t.size)
    design[rows, 2 * segment] = 1.0
    design[rows, 2 * segment + 1] = t
    design[:, -1] = t * t
    coeffs = np.linalg.lstsq(design, y, rcond=None)[0]
    stderr, r2, rmse = _stats(design, y, coeffs)
    resid = y - design @ coeffs
    return SegmentFit(intercepts=coeffs[0:-1:2], slopes=coeffs[1:-1:2],
                      half_acceleration=float(coeffs[-1]), stderr_half_acceleration=float(stderr[-1]),
                      r2=r2, rmse=rmse, n=int(t.size), sse=float(resid @ resid))
