"""VBench ``dynamic_degree``: does the clip move? RAFT optical flow on frames at about 8 fps.

VBench 0.1.5 (``vbench/dynamic_degree.py``), per clip:

1. frames (RGB, float, native size) subsampled with ``interval = max(1, round(fps / 8))``
   (Python's round: halves to even), keeping frames ``0, interval, 2·interval, …``;
2. for each consecutive pair: RAFT (``raft-things.pth``, 20 iterations, ``test_mode``) on the
   pair padded by replication to multiples of 8 (``InputPadder``, sintel mode); the pair's score
   is the mean of the largest ``int(h·w·0.05)`` flow magnitudes (``h, w``: the padded size);
3. with ``thres = 6·(min(H, W)/256)`` and ``count_num = round(4·n/16)`` (``n`` = frames kept),
   the clip is dynamic when ``count_num`` pairs score above ``thres`` (VBench's ``check_move``
   loop, including its edge case: ``count_num = 0`` makes any clip with a pair dynamic).

The value is 1.0 (dynamic) or 0.0; the aggregate is the fraction of dynamic clips. evalkit
runs ``batch_size`` pairs per RAFT call (VBench one); RAFT's instance/batch norms are per
sample in eval mode, so the flows are the same up to float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, MetricError
from evalkit.metrics.vbench.common import VBenchDimension, VBenchOptions

__all__ = ["DynamicDegree", "frame_interval", "raft_pair_scores"]


def frame_interval(fps: float) -> int:
    """VBench's subsampling step to about 8 fps: ``max(1, round(fps / 8))``."""
    return max(1, round(fps / 8))


def raft_pair_scores(model: Any, frames: np.ndarray, pairs: Sequence[tuple[int, int]],
                     top_fraction: float, device: str, batch_size: int,
                     iters: int = 20) -> list[float]:
    """Per frame pair, the mean of the largest ``int(h·w·top_fraction)`` RAFT flow magnitudes.

    Args:
        model: :class:`~evalkit.metrics.vbench.raft.RAFT` in eval mode.
        frames: uint8 ``(T, H, W, 3)``.
        pairs: ``(i, j)`` frame indices; flow from frame i to frame j.
        top_fraction: 0.05 (dynamic degree) or 0.02 (static filter).
    Returns:
        one float per pair.
    """
    import torch

    from evalkit.metrics.vbench.raft import InputPadder

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # (T,3,H,W)
    padder = InputPadder(x.shape)
    out: list[float] = []
    with torch.inference_mode():
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            a = x[[i for i, _ in chunk]].to(device)
            b = x[[j for _, j in chunk]].to(device)
            a, b = padder.pad(a, b)
            _, flow = model(a, b, iters=iters, test_mode=True)  # (B, 2, h, w)
            rad = torch.sqrt(flow[:, 0] ** 2 + flow[:, 1] ** 2).flatten(1)  # (B, h·w)
            cut = int(rad.shape[1] * top_fraction)
            top = torch.topk(rad, cut, dim=1).values if cut > 0 else rad[:, :0]
            out.extend(top.double().mean(dim=1).cpu().tolist())
    if not all(np.isfinite(out)):
        raise ValueError(f"RAFT gave a non-finite flow on {x.shape[-2]}x{x.shape[-1]} frames "
                         "(its 4-level correlation pyramid needs at least 128 px on each side)")
    return out


class DynamicDegreeOptions(VBenchOptions):
    raft: str | None = Field(None, description="RAFT checkpoint raft-things.pth")
    batch_size: int = Field(4, ge=1, description="frame pairs per RAFT call")


class DynamicDegree(VBenchDimension):
    name = "dynamic_degree"
    description = "VBench dynamic degree: 1 if RAFT flow shows motion in enough ~8 fps frame pairs"
    primary = "dynamic_degree"
    units = "1 dynamic / 0 static (aggregate: fraction of dynamic clips)"
    version = "1"
    Options: ClassVar[type[BaseModel]] = DynamicDegreeOptions
    backbones: ClassVar[dict[str, str]] = {"raft": "raft_things"}

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        if clip.num_frames < 1:
            raise MetricError(f"{self.name} needs frames")
        from evalkit.metrics.vbench.backbones import load_raft_model

        device = self.device()
        model = load_raft_model(self.weights("raft"), device)
        interval = frame_interval(clip.fps)
        frames = clip.frames[::interval]
        n = frames.shape[0]
        thres = 6.0 * (min(frames.shape[1:3]) / 256.0)
        count_num = round(4 * (n / 16.0))
        scores = raft_pair_scores(model, frames, [(i, i + 1) for i in range(n - 1)], 0.05,
                                  device, self.options.batch_size)
        moving, dynamic = 0, False
        for s in scores:  # VBench's check_move
            if s > thres:
                moving += 1
            if moving >= count_num:
                dynamic = True
                break
        return {self.name: float(dynamic), "moving_pairs": sum(s > thres for s in scores),
                "pairs": len(scores), "threshold": thres, "pairs_needed": count_num,
                "frame_interval": interval, "max_pair_flow": max(scores) if scores else 0.0}
