"""Bring any clip to the detector's working resolution (numpy only).

The detectors see clips as ``(T, 64, 64, 3)`` uint8: the frames are resized with exact area
averaging (any ratio; antialiased when shrinking, bilinear-like when enlarging) and the time
axis is cut into windows of ``window`` consecutive frames. The same function prepares the
training data and the inputs at prediction time, so both see identical pixels.
"""

from __future__ import annotations

import functools

import numpy as np

from evalkit.clip import Clip

__all__ = ["WORK_SIZE", "WINDOW", "area_resize", "to_working", "windows"]

#: Working resolution (square) and clip window length of the shipped detectors.
WORK_SIZE = 64
WINDOW = 8


@functools.lru_cache(maxsize=128)
def _weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` resampling weights: area averaging when shrinking, linear
    interpolation (half-pixel centres) when enlarging; rows sum to 1."""
    w = np.zeros((n_out, n_in), dtype=np.float32)
    if n_out <= n_in:
        edges = np.arange(n_out + 1) * (n_in / n_out)
        for i in range(n_out):
            lo, hi = edges[i], edges[i + 1]
            for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), n_in)):
                w[i, j] = max(0.0, min(hi, j + 1) - max(lo, j))
    else:
        pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = pos - lo
        w[np.arange(n_out), lo] += 1 - frac
        w[np.arange(n_out), hi] += frac
    return w / w.sum(axis=1, keepdims=True)


def area_resize(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize uint8 ``(T, H, W, 3)`` frames to ``(T, height, width, 3)`` (see module doc)."""
    t, h, w, _ = frames.shape
    if (h, w) == (height, width):
        return frames
    a_h, a_w = _weights(h, height), _weights(w, width)
    out = np.einsum("ph,thwc->tpwc", a_h, frames.astype(np.float32), optimize=True)
    out = np.einsum("qw,tpwc->tpqc", a_w, out, optimize=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def to_working(clip: Clip | np.ndarray, size: int = WORK_SIZE) -> np.ndarray:
    """Frames of a clip (or array) as uint8 ``(T, size, size, 3)``.

    Non-square frames are centre-cropped to a square first (the detectors were trained on
    square crops), then area-resized.
    """
    frames = clip.frames if isinstance(clip, Clip) else clip
    _, h, w, _ = frames.shape
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return area_resize(np.ascontiguousarray(frames[:, y0:y0 + s, x0:x0 + s]), size, size)


def windows(num_frames: int, window: int = WINDOW, stride: int | None = None
            ) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` frame windows covering ``num_frames`` (the last one aligned to
    the end; a clip shorter than ``window`` gives one window ``(0, num_frames)``)."""
    stride = stride or window
    if num_frames <= window:
        return [(0, num_frames)]
    starts = list(range(0, num_frames - window + 1, stride))
    if starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    return [(s, s + window) for s in starts]
