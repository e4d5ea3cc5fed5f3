"""The one video type used everywhere in evalkit, and the frame operations on it.

A :class:`Clip` is frames as a ``uint8`` array of shape ``(T, H, W, 3)`` in RGB, a frame rate,
and free-form metadata (prompt, seed, generator, source file, ...). Conversions to tensors or
float ranges happen at the edges (a model's preprocessing), never in the type itself.

File I/O lives in :mod:`evalkit.video`; this module only holds pure array operations.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

__all__ = ["Clip", "sample_frames", "sample_at_fps", "resize"]


@dataclasses.dataclass(frozen=True, eq=False)
class Clip:
    """A video clip.

    Attributes:
        frames: ``uint8`` array ``(T, H, W, 3)``, RGB, C-contiguous.
        fps: frames per second (> 0).
        metadata: JSON-serialisable facts about the clip: ``prompt``, ``seed``, ``generator``,
            ``source_file``, ... Keys are free-form; values must survive ``json.dumps``.
    """

    frames: np.ndarray
    fps: float
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        frames = self.frames
        if not isinstance(frames, np.ndarray):
            raise TypeError(f"Clip.frames must be a numpy array, got {type(frames).__name__}")
        if frames.dtype != np.uint8:
            raise TypeError(f"Clip.frames must be uint8, got {frames.dtype}")
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"Clip.frames must have shape (T, H, W, 3), got {frames.shape}")
        if frames.shape[0] < 1 or frames.shape[1] < 1 or frames.shape[2] < 1:
            raise ValueError(f"Clip.frames must be non-empty, got shape {frames.shape}")
        # PyAV hands out Fraction rates; accept any real number, refuse strings and None.
        if self.fps is None or isinstance(self.fps, (str, bytes)):
            raise TypeError(f"Clip.fps must be a number, got {self.fps!r}")
        try:
            fps = float(self.fps)
        except (TypeError, ValueError):
            raise TypeError(f"Clip.fps must be a number, got {self.fps!r}") from None
        if not math.isfinite(fps) or fps <= 0:
            raise ValueError(f"Clip.fps must be a positive number, got {self.fps}")
        if not frames.flags.c_contiguous:
            object.__setattr__(self, "frames", np.ascontiguousarray(frames))
        object.__setattr__(self, "fps", fps)

    # -- shape helpers ----------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def duration_s(self) -> float:
        """Duration in seconds, counting each frame as lasting ``1 / fps``."""
        return self.num_frames / self.fps

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        keys = ", ".join(sorted(self.metadata))
        return (
            f"Clip(T={self.num_frames}, H={self.height}, W={self.width}, fps={self.fps:g}, "
            f"metadata=[{keys}])"
        )

    def with_frames(self, frames: np.ndarray, fps: float | None = None, **metadata: Any) -> Clip:
        """A new clip with other frames (and optionally fps), keeping and updating metadata."""
        return Clip(frames, self.fps if fps is None else fps, {**self.metadata, **metadata})

    def with_metadata(self, **metadata: Any) -> Clip:
        return Clip(self.frames, self.fps, {**self.metadata, **metadata})

    def as_float(self) -> np.ndarray:
        """Frames as ``float32`` in ``[0, 1]``, shape ``(T, H, W, 3)``."""
        return self.frames.astype(np.float32) / 255.0

    def gray(self) -> np.ndarray:
        """Luma (BT.601) as ``float32`` in ``[0, 255]``, shape ``(T, H, W)``."""
        f = self.frames.astype(np.float32)
        return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


# ----------------------------------------------------------------------------------------------
# Frame sampling and resizing
# ----------------------------------------------------------------------------------------------


def sample_frames(clip: Clip, num_frames: int) -> Clip:
    """``num_frames`` evenly spaced frames spanning the clip (first and last included).

    When the clip has fewer frames than asked, frames repeat (nearest index), so the result
    always has exactly ``num_frames`` frames. The fps is scaled so the duration is kept.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if num_frames == 1:
        idx = np.array([0])
    else:
        idx = np.round(np.linspace(0, clip.num_frames - 1, num_frames)).astype(np.int64)
    new_fps = clip.fps * num_frames / clip.num_frames
    return clip.with_frames(clip.frames[idx], fps=new_fps)


def sample_at_fps(clip: Clip, fps: float) -> Clip:
    """Resample in time to ``fps`` by picking the frame shown at each new time stamp.

    Frame ``i`` of the result shows the source frame displayed at time ``i / fps``.
    """
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps}")
    n_out = max(1, int(np.floor(clip.duration_s * fps + 1e-9)))
    times = np.arange(n_out) / fps
    idx = np.minimum(np.floor(times * clip.fps + 1e-9).astype(np.int64), clip.num_frames - 1)
    return clip.with_frames(clip.frames[idx], fps=fps)


def resize(clip: Clip, height: int, width: int) -> Clip:
    """Resize every frame to ``(height, width)``.

    Uses area averaging when shrinking by an integer factor (exact, alias-free) and bilinear
    interpolation with half-pixel centres otherwise (the convention of
    ``torch.nn.functional.interpolate(..., align_corners=False)``).
    """
    if height < 1 or width < 1:
        raise ValueError(f"target size must be positive, got {height}x{width}")
    t, h, w, _ = clip.frames.shape
    if (h, w) == (height, width):
        return clip
    if h % height == 0 and w % width == 0:
        fh, fw = h // height, w // width
        f = clip.frames.reshape(t, height, fh, width, fw, 3).astype(np.float32).mean(axis=(2, 4))
        return clip.with_frames(_to_uint8(f))
    return clip.with_frames(_to_uint8(_bilinear(clip.frames.astype(np.float32), height, width)))


def _bilinear(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of ``(T, H, W, C)`` float frames with half-pixel centres."""
    _, h, w, _ = frames.shape

    def axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
        pos = np.clip(pos, 0, n_in - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    y0, y1, wy = axis(h, height)
    x0, x1, wx = axis(w, width)
    rows = frames[:, y0] * (1 - wy)[None, :, None, None] + frames[:, y1] * wy[None, :, None, None]
    return rows[:, :, x0] * (1 - wx)[None, None, :, None] + rows[:, :, x1] * wx[None, None, :, None]


def _to_uint8(frames: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)
