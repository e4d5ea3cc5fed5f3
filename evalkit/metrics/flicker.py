"""``temporal_flickering``: VBench's temporal flickering score.

VBench (Huang et al., 2024) scores flicker as the mean absolute difference between
consecutive frames, over all pixels and channels, mapped to [0, 1]::

    score = (255 - mean_t mean_pixels |I_{t+1} - I_t|) / 255

1 means no change between frames. This equals VBench 0.1.5's ``cal_score`` (cv2 ``absdiff`` of
float32 frames, mean per pair, mean over pairs; the channel order does not matter).

VBench applies it only to clips of static scenes: its static filter
(:mod:`evalkit.metrics.vbench.static_filter`, RAFT optical flow) picks them first. With
``static_filter: true`` (needs ``raft-things.pth``, found as for ``dynamic_degree``) each clip also
gets ``static`` (1/0) and the summary's ``vbench`` aggregate averages the static clips only, as
VBench does; the per-clip value is still written for every clip. Without the filter, on clips
with real motion the score also falls with the amount of motion, so read it beside
``motion_magnitude``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, MetricError
from evalkit.metrics.vbench.common import VBenchDimension, VBenchOptions


def mean_abs_frame_difference(frames: np.ndarray) -> np.ndarray:
    """Per consecutive pair, mean |I_{t+1} - I_t| over pixels and channels.

    Args:
        frames: uint8 ``(T, H, W, 3)``.
    Returns:
        float64 ``(T - 1,)`` in [0, 255].
    """
    diffs = np.abs(np.diff(frames.astype(np.int16), axis=0))
    return diffs.reshape(diffs.shape[0], -1).mean(axis=1, dtype=np.float64)


class TemporalFlickeringOptions(VBenchOptions):
    static_filter: bool = Field(False, description="VBench's RAFT static filter: flag moving "
                                                   "clips and leave them out of the aggregate")
    raft: str | None = Field(None, description="RAFT checkpoint raft-things.pth (static_filter)")
    batch_size: int = Field(4, ge=1, description="frame pairs per RAFT call (static_filter)")


class TemporalFlickering(VBenchDimension):
    name = "temporal_flickering"
    description = "VBench temporal flickering: (255 - mean |frame diff|) / 255; 1 = no flicker"
    higher_is_better = True
    units = "score in [0, 1]"
    primary = "temporal_flickering"
    version = "1"
    Options: ClassVar[type[BaseModel]] = TemporalFlickeringOptions
    backbones: ClassVar[dict[str, str]] = {"raft": "raft_things"}

    @classmethod
    def required_backbones(cls, options: dict[str, Any]) -> dict[str, str]:
        return dict(cls.backbones) if options.get("static_filter") else {}

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        if clip.num_frames < 2:
            raise MetricError(f"{self.name} needs at least 2 frames, the clip has 1")
        mad = float(mean_abs_frame_difference(clip.frames).mean())
        out: dict[str, Any] = {"temporal_flickering": (255.0 - mad) / 255.0, "mean_abs_diff": mad}
        if self.options.static_filter:
            from evalkit.metrics.vbench.backbones import load_raft_model
            from evalkit.metrics.vbench.static_filter import static_verdict

            device = self.device()
            verdict = static_verdict(load_raft_model(self.weights("raft"), device), clip.frames,
                                     device, self.options.batch_size)
            out["static"] = int(verdict["static"])
        return out
