"""VBench 0.1.5's frame transforms (``vbench/utils.py``), in plain torch.

VBench decodes a clip to ``torch.Tensor(frames)``: float32 ``(T, 3, H, W)`` in [0, 255], and
applies torchvision transforms to that float tensor, so nothing is rounded or clamped between
steps:

- ``dino_transform(224)``: ``Resize(224, antialias=False)`` (bilinear, shorter side to 224, the
  longer to ``int(224 * long / short)``), ``/255``, ImageNet mean/std. **No crop**: a 16:9 clip
  enters DINO as 224 x 398.
- ``clip_transform(224)``: ``Resize(224, bicubic, antialias=False)``, ``CenterCrop(224)`` with
  torchvision's offsets ``int(round((H - 224) / 2))`` (Python's round: halves to even), ``/255``,
  OpenAI CLIP mean/std. Bicubic on floats overshoots [0, 255] slightly; VBench keeps that.

torchvision's ``Resize`` on a tensor is ``F.interpolate(..., align_corners=False,
antialias=False)`` for these modes, which is what :func:`resize_shorter` calls.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from evalkit.metrics.base import MetricError

__all__ = ["CLIP_MEAN", "CLIP_STD", "IMAGENET_MEAN", "IMAGENET_STD", "as_float_tchw",
           "center_crop", "clip_transform", "dino_transform", "middle_frame_indices", "normalize",
           "resize_shorter", "shorter_side_size"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def as_float_tchw(frames: np.ndarray) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` RGB → float32 ``(T, 3, H, W)`` in [0, 255] (VBench's ``load_video``)."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()


def shorter_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """torchvision ``Resize(int)``'s output ``(h, w)``: the shorter side becomes ``size``, the
    longer ``int(size * long / short)`` (truncated)."""
    short, long = (height, width) if height <= width else (width, height)
    new_short, new_long = size, int(size * long / short)
    return (new_short, new_long) if height <= width else (new_long, new_short)


def resize_shorter(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """float ``(T, 3, H, W)`` → ``(T, 3, h, w)`` with the shorter side ``size``; no antialias,
    no rounding, no clamping (torchvision ``Resize`` on a float tensor)."""
    h, w = x.shape[-2:]
    out = shorter_side_size(h, w, size)
    if (h, w) == out:
        return x
    return F.interpolate(x, size=out, mode=mode, align_corners=False, antialias=False)


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """torchvision ``CenterCrop(size)`` of an image at least ``size`` on both sides."""
    h, w = x.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"center_crop: {h}x{w} is smaller than {size}")
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return x[..., top : top + size, left : left + size]


def normalize(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """``(x - mean) / std`` per channel of a ``(T, 3, H, W)`` tensor."""
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - m) / s


def dino_transform(x: torch.Tensor, size: int = 224) -> torch.Tensor:
    """VBench's ``dino_transform``: float ``(T, 3, H, W)`` [0, 255] → normalised, no crop."""
    return normalize(resize_shorter(x, size, "bilinear") / 255.0, IMAGENET_MEAN, IMAGENET_STD)


def clip_transform(x: torch.Tensor, size: int = 224, uint8: bool = False) -> torch.Tensor:
    """VBench's ``clip_transform``: ``(T, 3, H, W)`` [0, 255] → ``(T, 3, size, size)``.

    ``uint8``: the frames were a uint8 tensor in VBench (``read_frames_decord_by_fps``, used by
    the ViCLIP dimensions), so torchvision's resize clamps to [0, 255] and rounds back to uint8;
    on VBench's float frames (``load_video``) nothing is rounded.
    """
    x = resize_shorter(x, size, "bicubic")
    if uint8:
        x = x.clamp(0, 255).round()
    return normalize(center_crop(x, size) / 255.0, CLIP_MEAN, CLIP_STD)


def middle_frame_indices(num_frames: int, length: int) -> list[int]:
    """VBench ``get_frame_indices(num_frames, length, sample="middle")``: the middle frame of
    each of ``min(num_frames, length)`` equal intervals, padded with the last index to
    ``num_frames``."""
    if length < 1:
        raise MetricError("the clip has no frames")
    count = min(num_frames, length)
    edges = np.linspace(0, length, count + 1).astype(int)
    indices = [int((edges[i] + edges[i + 1] - 1) // 2) for i in range(count)]
    return indices + [indices[-1]] * (num_frames - len(indices))
