"""VBench ``aesthetic_quality``: the LAION aesthetic predictor on CLIP ViT-L/14 features.

VBench 0.1.5 (``vbench/aesthetic_quality.py``), per clip, all frames (batches of 32):
``clip_transform(224)`` (as background consistency), CLIP ViT-L/14 ``encode_image``, L2-normalise,
the linear head ``sa_0_4_vit_l_14_linear.pth`` (768 → 1), divide by 10, mean over frames. The
aggregate is the mean over clips.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext
from evalkit.metrics.vbench.background_consistency import clip_image_features
from evalkit.metrics.vbench.common import VBenchDimension, VBenchOptions


class AestheticQualityOptions(VBenchOptions):
    clip: str | None = Field(None, description="CLIP ViT-L/14: OpenAI's ViT-L-14.pt, a "
                                               "transformers folder, or a cached hub id")
    head: str | None = Field(None, description="LAION aesthetic head sa_0_4_vit_l_14_linear.pth")


class AestheticQuality(VBenchDimension):
    name = "aesthetic_quality"
    description = "VBench aesthetic quality: LAION aesthetic head on CLIP ViT-L/14, /10, mean over frames"
    primary = "aesthetic_quality"
    version = "1"
    Options: ClassVar[type[BaseModel]] = AestheticQualityOptions
    backbones: ClassVar[dict[str, str]] = {"clip": "clip_vit_l14", "head": "laion_aesthetic_l14"}

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        import torch

        from evalkit.metrics.vbench.backbones import load_aesthetic_head

        device = self.device()
        feats = clip_image_features(self.weights("clip"), device, clip.frames, self.options.batch_size)
        head = load_aesthetic_head(self.weights("head"), device)
        with torch.inference_mode():
            scores = head(feats.to(device)).squeeze(dim=-1).float().cpu() / 10  # (T,)
        return {self.name: float(scores.mean()), "frames": int(scores.shape[0])}
