"""Controlled damage to videos, for checking that distribution metrics respond to it.

Each corruption takes uint8 ``(N, T, H, W, 3)`` videos, a strength (0 = unchanged) and a seed,
and returns new uint8 videos of the same shape:

- ``noise``: additive Gaussian pixel noise, ``strength`` = standard deviation in 0..255 units;
- ``blur``: separable Gaussian blur of every frame, ``strength`` = sigma in pixels;
- ``shuffle``: temporal damage only, ``strength`` in ``[0, 1]`` = the fraction of frame positions
  whose frames are permuted among themselves (1 = a fully random frame order). Every frame is
  kept, so per-frame (spatial) statistics are unchanged.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = ["CORRUPTIONS", "corrupt"]

CORRUPTIONS = ("noise", "blur", "shuffle")


def _noise(v: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(v + rng.normal(0.0, s, size=v.shape), 0, 255)


def _blur(v: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    out = gaussian_filter1d(v.astype(np.float32), s, axis=2, mode="nearest")
    return gaussian_filter1d(out, s, axis=3, mode="nearest")


def _shuffle(v: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    if not 0 <= s <= 1:
        raise ValueError(f"shuffle strength is a fraction in [0, 1], got {s}")
    out = v.copy()
    t = v.shape[1]
    k = int(round(s * t))
    for i in range(v.shape[0]):
        if k < 2:
            break
        pos = np.sort(rng.choice(t, k, replace=False))
        perm = pos.copy()
        while np.array_equal(perm, pos):  # a real reordering, never the identity
            perm = rng.permutation(pos)
        out[i, pos] = v[i, perm]
    return out


def corrupt(videos: np.ndarray, kind: str, strength: float, seed: int = 0) -> np.ndarray:
    """``videos`` damaged by ``kind`` at ``strength`` (see the module docstring)."""
    if videos.dtype != np.uint8 or videos.ndim != 5:
        raise ValueError(f"videos must be uint8 (N, T, H, W, 3), got {videos.dtype} {videos.shape}")
    if strength == 0:
        return videos.copy()
    fn = {"noise": _noise, "blur": _blur, "shuffle": _shuffle}.get(kind)
    if fn is None:
        raise ValueError(f"unknown corruption {kind!r}; choose from {CORRUPTIONS}")
    out = fn(videos, float(strength), np.random.default_rng(seed))
    return out if out.dtype == np.uint8 else np.rint(out).astype(np.uint8)
