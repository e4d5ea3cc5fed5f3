"""VBench ``imaging_quality``: MUSIQ (SPAQ) on every frame, VBench's default ``longer`` resizing.

VBench 0.1.5 (``vbench/imaging_quality.py``), per clip:

1. every decoded frame as float [0, 255]; when the longer side exceeds 512, torchvision's
   ``Resize((int(s·H), int(s·W)), antialias=False)`` with ``s = 512 / longer`` (bilinear on the
   float tensor, nothing rounded), then ``/255``;
2. MUSIQ (:mod:`.musiq`) scores each frame (SPAQ: 0..100); the clip's score is the mean.

VBench reports per-video scores on that 0..100 scale and divides only its aggregate by 100;
evalkit's per-clip ``imaging_quality`` is already divided by 100 (one scale everywhere) and keeps
the raw mean as ``musiq_score``; the VBench results file gets the raw value back.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext
from evalkit.metrics.vbench.common import VBenchDimension, VBenchOptions

__all__ = ["ImagingQuality", "longer_side_512"]


class ImagingQualityOptions(VBenchOptions):
    musiq: str | None = Field(None, description="MUSIQ trained on SPAQ: musiq_spaq_ckpt-358bb6af.pth")
    batch_size: int = Field(4, ge=1, description="frames per forward pass (MUSIQ sees ~600 tokens a frame)")


def longer_side_512(frames: np.ndarray) -> Any:
    """uint8 ``(T, H, W, 3)`` → float ``(T, 3, h, w)`` in [0, 1]: VBench's ``longer`` mode."""
    import torch.nn.functional as F

    from evalkit.metrics.vbench.preprocess import as_float_tchw

    x = as_float_tchw(frames)
    h, w = x.shape[-2:]
    if max(h, w) > 512:
        scale = 512.0 / max(h, w)
        x = F.interpolate(x, size=(int(scale * h), int(scale * w)), mode="bilinear", align_corners=False,
                          antialias=False)
    return x / 255.0


@functools.lru_cache(maxsize=1)
def _load(path: str, device: str) -> Any:
    from evalkit.metrics.vbench.musiq import load_musiq
    from evalkit.metrics.vbench.weights import verify_sha256

    verify_sha256("musiq_spaq", path)  # once per file and process, not per clip
    return load_musiq(path, device)


class ImagingQuality(VBenchDimension):
    name = "imaging_quality"
    description = "VBench imaging quality: MUSIQ (SPAQ) per frame, longer side at most 512, /100"
    primary = "imaging_quality"
    units = "MUSIQ score / 100 (0..1)"
    version = "1"
    Options: ClassVar[type[BaseModel]] = ImagingQualityOptions
    backbones: ClassVar[dict[str, str]] = {"musiq": "musiq_spaq"}

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        import torch

        weights = self.weights("musiq")
        device = self.device()
        model = _load(weights.location, device)
        scores: list[float] = []
        with torch.inference_mode():
            for start in range(0, clip.num_frames, self.options.batch_size):
                x = longer_side_512(clip.frames[start : start + self.options.batch_size]).to(device)
                scores.extend(float(s) for s in model(x).cpu())
        raw = sum(scores) / len(scores)  # VBench accumulates float(score) frame by frame
        return {self.name: raw / 100.0, "musiq_score": raw, "frames": len(scores)}
