"""Clips → model input tensors for the bundled evaluator: frame selection, bilinear resize,
values in ``[-1, 1]``.

Every frame is resized bilinearly to ``size x size`` (aspect ratio not kept, no crop; PyTorch's
half-pixel bilinear without antialiasing) and scaled ``x / 127.5 - 1``. The Kinetics-400 I3D of
FVD does not use this module: its input is made by the FVD protocols of
:mod:`evalkit.metrics.video_features.protocols`, frame by frame from a stream.

Frame selection: ``"first"`` takes the first ``T`` consecutive frames (FVD16 as StyleGAN-V and
cd-fvd do); ``"uniform"`` takes ``T`` evenly spaced frames over the whole clip
(:func:`evalkit.clip.sample_frames`). A clip shorter than ``T`` repeats frames (nearest index)
in both modes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Union

import numpy as np
import torch
import torch.nn.functional as F

from evalkit.clip import Clip, sample_frames

__all__ = ["FrameSampling", "VideoInput", "as_frame_arrays", "select_frames", "to_model_input"]

FrameSampling = Literal["first", "uniform"]

#: What feature extractors accept: clips, a uint8 ``(N, T, H, W, 3)`` array or tensor, or a list
#: of uint8 ``(T, H, W, 3)`` arrays.
VideoInput = Union[Sequence[Clip], Sequence[np.ndarray], np.ndarray, torch.Tensor]


def as_frame_arrays(videos: VideoInput) -> list[np.ndarray]:
    """Each video as a uint8 ``(T, H, W, 3)`` array."""
    if isinstance(videos, torch.Tensor):
        videos = videos.detach().cpu().numpy()
    if isinstance(videos, np.ndarray):
        if videos.ndim != 5 or videos.shape[-1] != 3:
            raise ValueError(f"videos must be (N, T, H, W, 3), got shape {videos.shape}")
        videos = list(videos)
    out = []
    for v in videos:
        frames = v.frames if isinstance(v, Clip) else np.asarray(v)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(
                f"each video must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}"
            )
        out.append(frames)
    return out


def select_frames(frames: np.ndarray, num_frames: int, sampling: FrameSampling) -> np.ndarray:
    """``num_frames`` frames of a ``(T, H, W, 3)`` array by ``sampling`` (module docstring)."""
    if sampling == "first" and frames.shape[0] >= num_frames:
        return frames[:num_frames]
    if sampling not in ("first", "uniform"):
        raise ValueError(f"frame sampling must be 'first' or 'uniform', got {sampling!r}")
    return sample_frames(Clip(frames, 1.0), num_frames).frames


def to_model_input(
    videos: VideoInput, num_frames: int, size: int, sampling: FrameSampling = "first"
) -> torch.Tensor:
    """Float32 ``(N, 3, num_frames, size, size)`` in ``[-1, 1]`` (bilinear, no crop)."""
    batch = []
    for frames in as_frame_arrays(videos):
        x = torch.from_numpy(np.ascontiguousarray(select_frames(frames, num_frames, sampling)))
        x = x.permute(0, 3, 1, 2).float()  # (T, 3, H, W)
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        batch.append(x.permute(1, 0, 2, 3) / 127.5 - 1.0)  # (3, T, size, size)
    if not batch:
        raise ValueError("no videos given")
    return torch.stack(batch).clamp_(-1.0, 1.0)
