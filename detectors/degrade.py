"""Degradations a clip meets on its way to a moderation system, for robustness training and
evaluation: H.264 re-encoding, resizing, cropping, blurring.

Each takes and returns uint8 ``(T, H, W, 3)`` frames. ``CONDITIONS`` names the evaluation
conditions of ``detectors eval``; :func:`random_chain` draws the training augmentation.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from detectors.preprocess import area_resize

__all__ = ["h264", "resize_factor", "center_crop", "gaussian_blur", "CONDITIONS", "random_chain",
           "apply_condition"]


def h264(frames: np.ndarray, crf: int, fps: float = 8.0) -> np.ndarray:
    """Encode to H.264 (libx264, ``crf``, yuv420p for even sizes) and decode back."""
    from evalkit.clip import Clip
    from evalkit.video import read_video, write_video

    with tempfile.TemporaryDirectory(prefix="evalkit-degrade-") as tmp:
        path = Path(tmp) / "clip.mp4"
        write_video(path, Clip(np.ascontiguousarray(frames), fps), crf=int(crf))
        return read_video(path).frames


def resize_factor(frames: np.ndarray, factor: float) -> np.ndarray:
    """Resize by ``factor`` (e.g. 0.5), keeping at least 8 pixels a side."""
    _, h, w, _ = frames.shape
    return area_resize(frames, max(8, round(h * factor)), max(8, round(w * factor)))


def center_crop(frames: np.ndarray, keep: float = 0.75) -> np.ndarray:
    """Keep the central ``keep`` fraction of each side."""
    _, h, w, _ = frames.shape
    ch, cw = max(8, round(h * keep)), max(8, round(w * keep))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(frames[:, y0:y0 + ch, x0:x0 + cw])


def gaussian_blur(frames: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Separable Gaussian blur of each frame (reflect padding)."""
    from scipy.ndimage import gaussian_filter1d

    out = gaussian_filter1d(frames.astype(np.float32), sigma, axis=1, mode="reflect")
    out = gaussian_filter1d(out, sigma, axis=2, mode="reflect")
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


CONDITIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "clean": lambda f: f,
    "h264_crf23": lambda f: h264(f, 23),
    "h264_crf28": lambda f: h264(f, 28),
    "h264_crf35": lambda f: h264(f, 35),
    "resize_0.5": lambda f: resize_factor(f, 0.5),
    "crop_0.75": lambda f: center_crop(f, 0.75),
    "blur_1.0": lambda f: gaussian_blur(f, 1.0),
}


def apply_condition(frames: np.ndarray, name: str) -> np.ndarray:
    if name not in CONDITIONS:
        raise ValueError(f"unknown condition '{name}'; expected one of {', '.join(CONDITIONS)}")
    return CONDITIONS[name](frames)


def random_chain(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random training degradation: maybe crop, maybe resize, maybe blur, maybe H.264."""
    out = frames
    if rng.random() < 0.25:
        out = center_crop(out, float(rng.uniform(0.6, 0.9)))
    if rng.random() < 0.3:
        out = resize_factor(out, float(rng.uniform(0.4, 0.8)))
    if rng.random() < 0.25:
        out = gaussian_blur(out, float(rng.uniform(0.4, 1.4)))
    if rng.random() < 0.6:
        out = h264(out, int(rng.integers(18, 38)))
    return out
