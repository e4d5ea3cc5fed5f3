"""Exact areas and antialiased coverage of the world's shapes (discs and axis-aligned squares).

Two jobs, both vectorised over any broadcast shape (frames x objects, pixels, ...):

* ``*_rect_area``: the exact area of a shape inside an axis-aligned rectangle, used for the
  ground-truth ``visible_fraction`` (inside the view and not behind the occluder).
* ``*_coverage``: per-pixel alpha for rendering. A box's alpha is its exact area inside each
  pixel (product of per-axis interval overlaps). A ball's alpha is the classic analytic
  approximation ``clip(r - d + 0.5, 0, 1)`` with ``d`` the distance from the pixel centre to the
  ball centre: a 1-pixel linear ramp across the edge, symmetric about the centre, so the
  alpha-weighted centroid equals the true centre (no supersampling loops).

Units are whatever the caller uses consistently (pixels for coverage, metres or pixels for areas).
Pixel ``(row i, col j)`` covers ``[j, j + 1) x [i, i + 1)``; its centre is ``(j + 0.5, i + 0.5)``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "interval_overlap",
    "box_rect_area",
    "disc_rect_area",
    "axis_coverage",
    "disc_coverage",
]


def interval_overlap(c: np.ndarray, h: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Length of ``[c - h, c + h]`` inside ``[lo, hi]`` (all broadcast together)."""
    return np.clip(np.minimum(c + h, hi) - np.maximum(c - h, lo), 0.0, None)


def box_rect_area(cx, cy, half, x0, x1, y0, y1) -> np.ndarray:
    """Area of the square of centre ``(cx, cy)``, half-side ``half``, inside ``[x0,x1]x[y0,y1]``."""
    return interval_overlap(cx, half, x0, x1) * interval_overlap(cy, half, y0, y1)


def _segment_primitive(y: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``S(y) = integral of sqrt(r^2 - y^2) dy``, valid for ``|y| <= r``."""
    y = np.clip(y, -r, r)
    return 0.5 * (y * np.sqrt(np.maximum(r * r - y * y, 0.0)) + r * r * np.arcsin(y / r))


def disc_rect_area(cx, cy, r, x0, x1, y0, y1) -> np.ndarray:
    """Exact area of the disc of centre ``(cx, cy)``, radius ``r > 0``, inside ``[x0,x1]x[y0,y1]``.

    The area is ``integral over y of |[-s(y), s(y)] ∩ [a, b]| dy`` with ``s(y) = sqrt(r^2 - y^2)``
    (coordinates relative to the centre). Between the heights where ``s(y)`` crosses ``|a|`` or
    ``|b|`` each bound of the chord is either a rectangle side (a constant) or the circle (``±s``),
    so each piece integrates in closed form with :func:`_segment_primitive`. The kind of each piece
    is read off at its midpoint.
    """
    cx, cy, r, x0, x1, y0, y1 = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64)
                                                      for v in (cx, cy, r, x0, x1, y0, y1)))
    a, b = x0 - cx, x1 - cx
    lo = np.maximum(y0 - cy, -r)
    hi = np.maximum(np.minimum(y1 - cy, r), lo)
    # Heights where a chord end meets a rectangle side: y = ±sqrt(r^2 - side^2) when |side| < r.
    knots = [lo, hi]
    for side in (a, b):
        h = np.sqrt(np.maximum(r * r - side * side, 0.0))
        knots += [np.clip(-h, lo, hi), np.clip(h, lo, hi)]
    y = np.sort(np.stack(knots, axis=-1), axis=-1)  # (..., 6)
    ya, yb = y[..., :-1], y[..., 1:]
    mid = 0.5 * (ya + yb)
    r_, a_, b_ = r[..., None], a[..., None], b[..., None]
    s_mid = np.sqrt(np.maximum(r_ * r_ - mid * mid, 0.0))
    s_int = _segment_primitive(yb, r_) - _segment_primitive(ya, r_)  # integral of s over the piece
    dy = yb - ya
    upper = np.where(b_ < s_mid, b_ * dy, s_int)  # integral of min(b, s)
    lower = np.where(a_ > -s_mid, a_ * dy, -s_int)  # integral of max(a, -s)
    inside = np.minimum(b_, s_mid) > np.maximum(a_, -s_mid)
    return np.where(inside, upper - lower, 0.0).sum(axis=-1)


def axis_coverage(centre: np.ndarray, half: float, start: int, n: int) -> np.ndarray:
    """Overlap of ``[centre - half, centre + half]`` with pixels ``start .. start + n - 1``.

    Args:
        centre: ``(T,)`` centre coordinates in pixels; ``start``: ``(T,)`` int first pixel index.
    Returns:
        ``(T, n)`` float32 coverage in ``[0, 1]``.
    """
    edges = np.asarray(start)[:, None] + np.arange(n, dtype=np.float64)[None, :]
    c = np.asarray(centre, dtype=np.float64)[:, None]
    return np.clip(np.minimum(c + half, edges + 1.0) - np.maximum(c - half, edges), 0.0, 1.0
                   ).astype(np.float32)


def disc_coverage(cx: np.ndarray, cy: np.ndarray, r: float, x_start: np.ndarray,
                  y_start: np.ndarray, nx: int, ny: int) -> np.ndarray:
    """Antialiased alpha of a disc over per-frame pixel windows.

    Args:
        cx, cy: ``(T,)`` disc centres in pixels; ``r``: radius in pixels.
        x_start, y_start: ``(T,)`` int top-left pixel of each frame's window.
        nx, ny: window size in pixels.
    Returns:
        ``(T, ny, nx)`` float32 alpha ``clip(r - d + 0.5, 0, 1)``.
    """
    dx = (x_start[:, None] + np.arange(nx) + 0.5 - cx[:, None]).astype(np.float32)
    dy = (y_start[:, None] + np.arange(ny) + 0.5 - cy[:, None]).astype(np.float32)
    d = np.sqrt(dx[:, None, :] ** 2 + dy[:, :, None] ** 2)
    return np.clip(np.float32(r + 0.5) - d, 0.0, 1.0)
