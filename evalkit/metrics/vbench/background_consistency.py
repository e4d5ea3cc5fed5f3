"""VBench ``background_consistency``: CLIP ViT-B/32 image features of consecutive and first frames.

VBench 0.1.5 (``vbench/background_consistency.py``), per clip, all frames in one batch:

1. ``clip_transform(224)`` on the float frames: bicubic resize of the shorter side to 224, no
   antialias, no clamping; centre crop 224 at ``int(round((H - 224) / 2))``; ``/255``; OpenAI
   CLIP mean/std (:mod:`.preprocess`);
2. CLIP ViT-B/32 ``encode_image`` (projected post-layernorm CLS), L2-normalised;
3. value = mean over frames ``i ≥ 1`` of ``(max(0, cos(f_i, f_{i-1})) + max(0, cos(f_i, f_0))) / 2``.

VBench on a GPU runs CLIP in float16 (``clip.load`` keeps OpenAI's half weights on CUDA);
evalkit runs float32 everywhere, VBench's numbers on a CPU. Aggregate: per frame pair, as
subject consistency.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, MetricError
from evalkit.metrics.vbench.common import VBenchDimension, VBenchOptions, consistency_sums


class BackgroundConsistencyOptions(VBenchOptions):
    clip: str | None = Field(None, description="CLIP ViT-B/32: OpenAI's ViT-B-32.pt, a "
                                               "transformers folder, or a cached hub id")


class BackgroundConsistency(VBenchDimension):
    name = "background_consistency"
    description = "VBench background consistency: CLIP ViT-B/32 cosine to the previous and first frame"
    primary = "background_consistency"
    version = "1"
    Options: ClassVar[type[BaseModel]] = BackgroundConsistencyOptions
    backbones: ClassVar[dict[str, str]] = {"clip": "clip_vit_b32"}

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        if clip.num_frames < 2:
            raise MetricError(f"{self.name} needs at least 2 frames, the clip has 1")
        feats = clip_image_features(self.weights("clip"), self.device(), clip.frames,
                                    self.options.batch_size)
        video_sim, pairs = consistency_sums(feats)
        return {self.name: video_sim / pairs, "pairs": pairs}


def clip_image_features(weights: Any, device: str, frames: Any, batch_size: int) -> Any:
    """L2-normalised CLIP image features of every frame.

    Args:
        weights: a :class:`~evalkit.metrics.vbench.weights.ResolvedWeights` of a CLIP backbone.
        frames: uint8 ``(T, H, W, 3)``.
    Returns:
        float32 ``(T, P)`` CPU tensor.
    """
    import torch
    import torch.nn.functional as F

    from evalkit.metrics.vbench.backbones import load_clip_vision
    from evalkit.metrics.vbench.preprocess import as_float_tchw, clip_transform

    model = load_clip_vision(weights, device)
    x = as_float_tchw(frames)
    feats = []
    with torch.inference_mode():
        for i in range(0, x.shape[0], batch_size):
            batch = clip_transform(x[i : i + batch_size].to(device), 224)  # VBench: clip_transform(224)
            feats.append(F.normalize(model(batch).float(), dim=-1, p=2).cpu())
    return torch.cat(feats)
