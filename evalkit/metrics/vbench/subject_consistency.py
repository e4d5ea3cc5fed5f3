"""VBench ``subject_consistency``: DINO ViT-B/16 features of consecutive and first frames.

VBench 0.1.5 (``vbench/subject_consistency.py``), per clip, all frames:

1. ``dino_transform(224)`` on the float frames: bilinear resize of the shorter side to 224,
   no antialias, **no crop**, ``/255``, ImageNet mean/std (:mod:`.preprocess`);
2. DINO ViT-B/16 (``dino_vitb16``, position grid interpolated with DINO's own rule) → the CLS
   feature after the final norm, L2-normalised; VBench runs one frame at a time, evalkit
   ``batch_size`` frames at a time (same features up to float rounding);
3. value = mean over frames ``i ≥ 1`` of ``(max(0, cos(f_i, f_{i-1})) + max(0, cos(f_i, f_0))) / 2``.

The aggregate over clips is VBench's: summed over all frame pairs of all clips, divided by the
number of pairs (``summary.vbench``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, MetricError
from evalkit.metrics.vbench.common import VBenchDimension, VBenchOptions, consistency_sums


class SubjectConsistencyOptions(VBenchOptions):
    dino: str | None = Field(None, description="DINO ViT-B/16: dino_vitbase16_pretrain.pth, a "
                                               "transformers folder, or a cached hub id")


class SubjectConsistency(VBenchDimension):
    name = "subject_consistency"
    description = "VBench subject consistency: DINO ViT-B/16 cosine to the previous and first frame"
    primary = "subject_consistency"
    version = "1"
    Options: ClassVar[type[BaseModel]] = SubjectConsistencyOptions
    backbones: ClassVar[dict[str, str]] = {"dino": "dino_vitb16"}

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        if clip.num_frames < 2:
            raise MetricError(f"{self.name} needs at least 2 frames, the clip has 1")
        import torch
        import torch.nn.functional as F

        from evalkit.metrics.vbench.backbones import load_dino
        from evalkit.metrics.vbench.preprocess import as_float_tchw, dino_transform

        device = self.device()
        model = load_dino(self.weights("dino"), device)
        x = as_float_tchw(clip.frames)
        feats = []
        with torch.inference_mode():
            for i in range(0, x.shape[0], self.options.batch_size):
                batch = dino_transform(x[i : i + self.options.batch_size].to(device))
                feats.append(F.normalize(model(batch), dim=-1, p=2).float().cpu())
        video_sim, pairs = consistency_sums(torch.cat(feats))
        return {self.name: video_sim / pairs, "pairs": pairs}
