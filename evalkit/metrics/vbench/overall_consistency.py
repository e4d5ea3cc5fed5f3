"""VBench ``overall_consistency``: ViCLIP similarity between the clip and its prompt.

VBench 0.1.5 (``vbench/overall_consistency.py``), per clip:

1. ``read_frames_decord_by_fps(path, num_frames=8, sample="middle")``: the middle frame of each
   of 8 equal intervals (padded with the last for shorter clips), as **uint8**;
2. ``clip_transform(224)`` on that uint8 tensor: torchvision resizes uint8 bicubic without
   antialias and **rounds and clamps back to uint8**, then centre-crops 224 at
   ``int(round((H - 224) / 2))``, divides by 255 and applies OpenAI's CLIP mean/std (the float
   path of the other dimensions keeps the resize unrounded; this one does not);
3. ViCLIP ``encode_vision`` of the 8 frames and ``encode_text`` of the prompt (32 tokens), both
   L2-normalised; the value is their cosine.

Aggregate: the mean over clips. ``temporal_style`` (:mod:`.temporal_style`) is the same
computation on VBench's temporal-style prompts.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, MetricError
from evalkit.metrics.vbench.common import VBenchDimension, VBenchOptions

__all__ = ["OverallConsistency", "ViCLIPOptions", "viclip_frames", "viclip_score"]


class ViCLIPOptions(VBenchOptions):
    viclip: str | None = Field(None, description="ViCLIP weights: ViClip-InternVid-10M-FLT.pth")
    bpe: str | None = Field(None, description="OpenAI's bpe_simple_vocab_16e6.txt.gz (ViCLIP's tokenizer)")


def viclip_frames(frames: np.ndarray, num_frames: int = 8, size: int = 224) -> Any:
    """uint8 ``(T, H, W, 3)`` → float32 ``(1, num_frames, 3, size, size)``, as VBench feeds ViCLIP."""
    from evalkit.metrics.vbench.preprocess import as_float_tchw, clip_transform, middle_frame_indices

    x = as_float_tchw(frames[middle_frame_indices(num_frames, len(frames))])
    return clip_transform(x, size, uint8=True).unsqueeze(0)


@functools.lru_cache(maxsize=1)
def _load(weights: str, bpe: str, device: str) -> Any:
    from evalkit.metrics.vbench.viclip import load_viclip

    return load_viclip(weights, bpe, device)


def viclip_score(weights: str, bpe: str, device: str, frames: np.ndarray, prompt: str) -> float:
    """Cosine between ViCLIP's clip and prompt features (VBench's per-video value)."""
    import torch
    import torch.nn.functional as F

    model = _load(weights, bpe, device)
    with torch.inference_mode():
        video = viclip_frames(frames, model.config.num_frames, model.config.image_size).to(device)
        v = F.normalize(model.encode_vision(video).float(), dim=-1)
        t = F.normalize(model.encode_text([prompt]).float(), dim=-1)
    return float((v @ t.T)[0, 0].cpu())


class OverallConsistency(VBenchDimension):
    name = "overall_consistency"
    description = "VBench overall consistency: ViCLIP cosine between 8 frames and the prompt"
    primary = "overall_consistency"
    units = "cosine (VBench: raw, about 0.1-0.3)"
    version = "1"
    Options: ClassVar[type[BaseModel]] = ViCLIPOptions
    backbones: ClassVar[dict[str, str]] = {"viclip": "viclip_l14", "bpe": "clip_bpe"}

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        if not context.prompt:
            raise MetricError(f"{self.name} needs the clip's prompt")
        weights, bpe = self.weights("viclip"), self.weights("bpe")
        return {self.name: viclip_score(weights.location, bpe.location, self.device(), clip.frames,
                                        context.prompt)}
