"""``motion_magnitude``: how much a clip moves, from optical flow computed without weights.

Flow is OpenCV's dense Farnebäck flow (``cv2.calcOpticalFlowFarneback``: a coarse-to-fine
pyramid with warping) on luma. As VBench's dynamic degree does with RAFT flow, the clip's
motion is the mean of the largest 5% of flow magnitudes in each frame pair (motion of the
moving thing, not diluted by static background), averaged over pairs. Reported in pixels per
frame and, resolution- and fps-independent, in frame sizes per second (primary value).

Flow is only trusted where the image has texture in two directions (corners, the rim of a
ball): pixels whose structure tensor's smaller eigenvalue (``cv2.cornerMinEigenVal``) is too
weak, that lie at the border or whose flow points out of the frame are excluded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, ClipMetric, MetricError

#: ``cv2.cornerMinEigenVal`` (Sobel derivatives, block sums, OpenCV's scaling) reads about
#: this many times the mean-of-block eigenvalue of central-difference gradients that
#: ``min_eigenvalue`` is stated in.
_OPENCV_EIGEN_SCALE = 4.0


class MotionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    levels: int = Field(default=3, ge=1, le=6, description="pyramid levels")
    window: int = Field(default=5, ge=3, le=21, description="flow and texture window (px, odd)")
    iterations: int = Field(default=3, ge=1, le=10, description="flow iterations per level")
    top_fraction: float = Field(default=0.05, gt=0, le=1, description="share of largest flows")
    min_eigenvalue: float = Field(default=1.0, gt=0, description="texture threshold")


def dense_flow(
    prev: np.ndarray, nxt: np.ndarray, *, levels: int = 3, window: int = 5,
    iterations: int = 3, min_eigenvalue: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Dense flow from ``prev`` to ``nxt`` (OpenCV Farnebäck).

    Args:
        prev, nxt: float32 luma ``(H, W)`` in [0, 255].
    Returns:
        flow ``(H, W, 2)`` as (dx, dy) in pixels, and a bool mask ``(H, W)`` of pixels with
        enough texture for the estimate to mean anything.
    """
    import cv2

    a = np.ascontiguousarray(prev, dtype=np.float32)
    b = np.ascontiguousarray(nxt, dtype=np.float32)
    h, w = a.shape
    levels = max(1, min(levels, int(np.log2(max(1, min(h, w) // (2 * window)))) + 1))
    if np.array_equal(a, b):  # identical frames: no motion (the solver would leave ~1e-5 px)
        flow = np.zeros((h, w, 2), np.float32)
    else:
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, levels, max(window, 5),
                                            iterations, 5, 1.1, 0)
    eig = cv2.cornerMinEigenVal(a, window, 3)
    valid = eig > _OPENCV_EIGEN_SCALE * min_eigenvalue
    # Near the border, content enters or leaves the view and has no match: distrust it, and
    # any flow that points outside the image.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tx, ty = xx + flow[..., 0], yy + flow[..., 1]
    valid &= (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    margin = min(window // 2 + 1, h // 4, w // 4)
    if margin > 0:
        valid[:margin] = valid[-margin:] = False
        valid[:, :margin] = valid[:, -margin:] = False
    return flow, valid


class MotionMagnitude(ClipMetric):
    name = "motion_magnitude"
    description = "optical-flow motion (OpenCV Farneback, top 5% of pixels), frames/s"
    higher_is_better = None  # more motion is neither better nor worse by itself
    units = "frame sizes per second"
    primary = "motion_magnitude"
    # 2: OpenCV's Farnebäck flow (was a hand-written Lucas-Kanade in numpy).
    version = "2"
    Options = MotionOptions

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        if clip.num_frames < 2:
            raise MetricError(f"{self.name} needs at least 2 frames, the clip has 1")
        opts = self.options
        luma = clip.gray()
        tops, means, textured = [], [], []
        for t in range(clip.num_frames - 1):
            flow, valid = dense_flow(
                luma[t], luma[t + 1], levels=opts.levels, window=opts.window,
                iterations=opts.iterations, min_eigenvalue=opts.min_eigenvalue,
            )
            magnitude = np.hypot(flow[..., 0], flow[..., 1])[valid]
            textured.append(float(valid.mean()))
            if magnitude.size == 0:  # a flat frame: nothing can move that flow could see
                tops.append(0.0)
                means.append(0.0)
                continue
            k = max(1, int(round(opts.top_fraction * magnitude.size)))
            tops.append(float(np.partition(magnitude, -k)[-k:].mean()))
            means.append(float(magnitude.mean()))
        top = float(np.mean(tops))
        return {
            "motion_magnitude": top * clip.fps / min(clip.height, clip.width),
            "flow_px_per_frame_top": top,
            "flow_px_per_frame_mean": float(np.mean(means)),
            # Share of pixels flow could measure; near 0 means the numbers above say little.
            "textured_fraction": float(np.mean(textured)),
        }
