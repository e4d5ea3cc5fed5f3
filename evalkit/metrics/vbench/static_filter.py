"""VBench's static-video filter (``vbench/cli/static_filter.py``), run before temporal flickering.

VBench scores temporal flickering only on clips this filter calls static. Per clip, all frames
(no fps subsampling), RAFT (20 iterations) on the consecutive pairs plus two more,
``(first, last)`` and ``(last, first)``; each pair's score is the mean of the largest
``int(h·w·0.02)`` flow magnitudes (padded size). With ``thres = 3·(min(H, W)/256)`` and
``count_num = round(2·T/16)`` the clip is static unless more than ``count_num`` consecutive pairs
score above ``thres``, or either of the two extra pairs scores above ``thres·count_num·2``
(VBench's ``check_static``, edge cases included).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evalkit.metrics.vbench.dynamic_degree import raft_pair_scores

__all__ = ["check_static", "static_verdict"]


def check_static(scores: list[float], thres: float, count_num: int) -> bool:
    """VBench's ``StaticFilter.check_static`` on the pair scores (consecutive pairs, then the
    two extra pairs)."""
    count = 0
    for score in scores[:-2]:
        if score > thres:
            count += 1
        if count > count_num:
            return False
    for score in scores[-2:]:
        if score > thres * count_num * 2:
            return False
    return True


def static_verdict(model: Any, frames: np.ndarray, device: str, batch_size: int) -> dict[str, Any]:
    """Run the filter on uint8 ``(T, H, W, 3)`` frames → ``{static, thres, count_num, scores}``."""
    t = frames.shape[0]
    pairs = [(i, i + 1) for i in range(t - 1)] + [(0, t - 1), (t - 1, 0)]
    scores = raft_pair_scores(model, frames, pairs, 0.02, device, batch_size)
    thres = 3.0 * (min(frames.shape[1:3]) / 256.0)
    count_num = round(2 * (t / 16.0))
    return {"static": check_static(scores, thres, count_num), "thres": thres,
            "count_num": count_num, "scores": scores}
