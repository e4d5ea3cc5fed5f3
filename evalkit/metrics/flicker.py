"""``temporal_flickering``: VBench's temporal flickering score.

VBench (Huang et al., 2024) scores flicker as the mean absolute difference between
consecutive frames, over all pixels and channels, mapped to [0, 1]::

    score = (255 - mean_t mean_pixels |I_{t+1} - I_t|) / 255

1 means no change between frames. VBench applies it to clips of static scenes; on clips with
real motion it also falls with the amount of motion, so read it beside ``motion_magnitude``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, ClipMetric, MetricError


def mean_abs_frame_difference(frames: np.ndarray) -> np.ndarray:
    """Per consecutive pair, mean |I_{t+1} - I_t| over pixels and channels.

    Args:
        frames: uint8 ``(T, H, W, 3)``.
    Returns:
        float64 ``(T - 1,)`` in [0, 255].
    """
    diffs = np.abs(np.diff(frames.astype(np.int16), axis=0))
    return diffs.reshape(diffs.shape[0], -1).mean(axis=1, dtype=np.float64)


class TemporalFlickering(ClipMetric):
    name = "temporal_flickering"
    description = "VBench temporal flickering: (255 - mean |frame diff|) / 255; 1 = no flicker"
    higher_is_better = True
    units = "score in [0, 1]"
    primary = "temporal_flickering"
    version = "1"

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        if clip.num_frames < 2:
            raise MetricError(f"{self.name} needs at least 2 frames, the clip has 1")
        mad = float(mean_abs_frame_difference(clip.frames).mean())
        return {"temporal_flickering": (255.0 - mad) / 255.0, "mean_abs_diff": mad}
