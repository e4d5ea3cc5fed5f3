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


class _FlowCache:
    """RAFT flow magnitudes of the clip being scored, shared between ``dynamic_degree`` and the
    flicker's static filter: the runner hands both the same decoded frames, and at 8 fps their
    frame pairs are the same, so each pair goes through RAFT once. Holds one clip (the frames
    array itself, so its identity cannot be reused by another array while cached)."""

    def __init__(self) -> None:
        self.frames: np.ndarray | None = None
        self.model: Any = None
        self.iters = 0
        self.rad: dict[tuple[int, int], Any] = {}

    def lookup(self, model: Any, frames: np.ndarray, iters: int) -> dict[tuple[int, int], Any]:
        if self.frames is not frames or self.model is not model or self.iters != iters:
            self.frames, self.model, self.iters, self.rad = frames, model, iters, {}
        return self.rad


_FLOWS = _FlowCache()


def raft_pair_scores(model: Any, frames: np.ndarray, pairs: Sequence[tuple[int, int]],
                     top_fraction: float, device: str, batch_size: int,
                     iters: int = 20) -> list[float]:
    """Per frame pair, the mean of the largest ``int(h·w·top_fraction)`` RAFT flow magnitudes.

    Args:
        model: :class:`~evalkit.metrics.vbench.raft.RAFT` in eval mode.
        frames: uint8 ``(T, H, W, 3)``; pairs index into it.
        pairs: ``(i, j)`` frame indices; flow from frame i to frame j.
        top_fraction: 0.05 (dynamic degree) or 0.02 (static filter).
    Returns:
        one float per pair.
    """
    import torch

    from evalkit.metrics.vbench.raft import InputPadder

    cache = _FLOWS.lookup(model, frames, iters)
    todo = [p for p in dict.fromkeys(pairs) if p not in cache]
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # (T,3,H,W)
    padder = InputPadder(x.shape)
    with torch.inference_mode():
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            a = x[[i for i, _ in chunk]].to(device)
            b = x[[j for _, j in chunk]].to(device)
            a, b = padder.pad(a, b)
            _, flow = model(a, b, iters=iters, test_mode=True)  # (B, 2, h, w), padded size
            rad = torch.sqrt(flow[:, 0] ** 2 + flow[:, 1] ** 2).flatten(1).cpu()  # (B, h·w)
            for pair, r in zip(chunk, rad):
                cache[pair] = r
    out: list[float] = []
    for pair in pairs:
        rad = cache[pair]
        cut = int(rad.shape[0] * top_fraction)
        top = torch.topk(rad, cut).values if cut > 0 else rad[:0]
        out.append(float(top.double().mean()))
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
        kept = list(range(0, clip.num_frames, interval))  # VBench's extract_frame
        n = len(kept)
        thres = 6.0 * (min(clip.frames.shape[1:3]) / 256.0)
        count_num = round(4 * (n / 16.0))
        # indices into the whole clip, so the static filter can reuse these flows
        scores = raft_pair_scores(model, clip.frames, list(zip(kept[:-1], kept[1:])), 0.05,
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
