"""``motion_magnitude``: how much a clip moves, from optical flow computed without weights.

Flow comes from pyramidal Lucas–Kanade (coarse-to-fine, with warping) on luma. As VBench's
dynamic degree does with RAFT flow, the clip's motion is the mean of the largest 5% of flow
magnitudes in each frame pair (motion of the moving thing, not diluted by static
background), averaged over pairs. Reported in pixels per frame and, resolution- and
fps-independent, in frame sizes per second (primary value).

Lucas–Kanade only sees motion where the image has texture in two directions (corners, the
rim of a ball); pixels whose structure tensor is too weak are excluded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, ClipMetric, MetricError


class MotionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    levels: int = Field(default=3, ge=1, le=6, description="pyramid levels")
    window: int = Field(default=5, ge=3, le=21, description="LK window (px, odd)")
    # One refinement per level: more iterations sharpen the median but blow up outliers at
    # occlusion boundaries, which the top-5% statistic then picks up.
    iterations: int = Field(default=1, ge=1, le=10, description="LK refinements per level")
    top_fraction: float = Field(default=0.05, gt=0, le=1, description="share of largest flows")
    min_eigenvalue: float = Field(default=1.0, gt=0, description="texture threshold")


def lucas_kanade_flow(
    prev: np.ndarray, nxt: np.ndarray, *, levels: int = 3, window: int = 5,
    iterations: int = 1, min_eigenvalue: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Dense flow from ``prev`` to ``nxt``.

    Args:
        prev, nxt: float32 luma ``(H, W)`` in [0, 255].
    Returns:
        flow ``(H, W, 2)`` as (dx, dy) in pixels, and a bool mask ``(H, W)`` of pixels with
        enough texture for the estimate to mean anything.
    """
    pyramid = [(prev, nxt)]
    for _ in range(levels - 1):
        a, b = pyramid[-1]
        if min(a.shape) < 2 * window:
            break
        pyramid.append((_downsample(a), _downsample(b)))
    flow = np.zeros((*pyramid[-1][0].shape, 2), np.float32)
    valid = np.ones(pyramid[-1][0].shape, bool)
    for level, (a, b) in enumerate(reversed(pyramid)):
        if level > 0:
            flow = 2.0 * _upsample(flow, a.shape)
        gy, gx = np.gradient(a)
        sxx = ndimage.uniform_filter(gx * gx, window)
        syy = ndimage.uniform_filter(gy * gy, window)
        sxy = ndimage.uniform_filter(gx * gy, window)
        det = sxx * syy - sxy * sxy
        trace = sxx + syy
        min_eig = 0.5 * (trace - np.sqrt(np.maximum(trace * trace - 4 * det, 0)))
        valid = min_eig > min_eigenvalue
        safe_det = np.where(valid, det, 1.0)
        yy, xx = np.mgrid[0: a.shape[0], 0: a.shape[1]].astype(np.float32)
        for _ in range(iterations):
            warped = ndimage.map_coordinates(
                b, [yy + flow[..., 1], xx + flow[..., 0]], order=1, mode="nearest"
            )
            it = warped - a
            sxt = ndimage.uniform_filter(gx * it, window)
            syt = ndimage.uniform_filter(gy * it, window)
            du = (-syy * sxt + sxy * syt) / safe_det
            dv = (sxy * sxt - sxx * syt) / safe_det
            flow[..., 0] += np.where(valid, du, 0.0)
            flow[..., 1] += np.where(valid, dv, 0.0)
    # Near the border, content enters or leaves the view and has no match: distrust it, and
    # any flow that points outside the image.
    h, w = prev.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tx, ty = xx + flow[..., 0], yy + flow[..., 1]
    valid &= (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    margin = min(window // 2 + 1, h // 4, w // 4)
    valid[:margin] = valid[-margin:] = False
    valid[:, :margin] = valid[:, -margin:] = False
    return flow, valid


def _downsample(img: np.ndarray) -> np.ndarray:
    smooth = ndimage.gaussian_filter(img, 1.0)
    return smooth[::2, ::2]


def _upsample(flow: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    zoom = (shape[0] / flow.shape[0], shape[1] / flow.shape[1], 1)
    up = ndimage.zoom(flow, zoom, order=1)
    return up[: shape[0], : shape[1]]


class MotionMagnitude(ClipMetric):
    name = "motion_magnitude"
    description = "optical-flow motion (pyramidal Lucas-Kanade, top 5% of pixels), frames/s"
    higher_is_better = None  # more motion is neither better nor worse by itself
    units = "frame sizes per second"
    primary = "motion_magnitude"
    version = "1"
    Options = MotionOptions

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        if clip.num_frames < 2:
            raise MetricError(f"{self.name} needs at least 2 frames, the clip has 1")
        opts = self.options
        luma = clip.gray()
        tops, means, textured = [], [], []
        for t in range(clip.num_frames - 1):
            flow, valid = lucas_kanade_flow(
                luma[t], luma[t + 1], levels=opts.levels, window=opts.window,
                iterations=opts.iterations, min_eigenvalue=opts.min_eigenvalue,
            )
            magnitude = np.hypot(flow[..., 0], flow[..., 1])[valid]
            textured.append(float(valid.mean()))
            if magnitude.size == 0:  # a flat frame: nothing can move that LK could see
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
            # Share of pixels LK could measure; near 0 means the numbers above say little.
            "textured_fraction": float(np.mean(textured)),
        }
