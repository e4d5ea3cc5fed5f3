"""Tracking on camera footage: OpenCV background subtraction with camera-motion compensation.

The world extractor (:mod:`physics_probes.extract`) is exact on rendered scenes and holds the
whole clip in float32; camera footage needs other tools and a bounded cost. This module:

1. **Streams** the frames (any iterable of uint8 ``(H, W, 3)`` RGB; :func:`analyse_video_file`
   decodes a file one frame at a time) and keeps only a copy at a *working resolution* (long
   side :attr:`FootageOptions.work_long_side`, lowered further for long clips so that the copies
   stay under :attr:`FootageOptions.max_work_bytes`). Positions are reported in the original
   pixels.
2. **Compensates camera motion**: Shi-Tomasi corners tracked by pyramidal Lucas-Kanade
   (``cv2.calcOpticalFlowPyrLK``) from frame to frame, a similarity transform fitted by RANSAC
   (``cv2.estimateAffinePartial2D``; moving objects are its outliers), chained to map every
   frame into the first frame's view. Shifts under :attr:`FootageOptions.camera_min_shift_px`
   are taken as a still camera (no warping, so no resampling noise).
3. **Separates moving objects** with OpenCV's MOG2 background subtractor on the stabilised
   frames, after a global gain correction (lighting drift). The model is first trained on frames
   spread over the whole clip, so an object that is in view from the first frame is foreground
   from the first frame, then applied frame by frame with a slow learning rate.
4. **Measures** each connected component (``cv2.connectedComponentsWithStats`` after a
   morphological open/close): centroid, area, box, mean colour, and whether it touches the edge
   of the view; and **links** them into tracks with the Hungarian tracker of
   :mod:`physics_probes.track` (a tighter position gate than for rendered scenes).

The result is a :class:`~physics_probes.analysis.ClipAnalysis` like the world path's, with
``source="footage"``, the frame times (container time stamps when known) and the camera
transform of every frame, so the same probes read it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from physics_probes.analysis import ClipAnalysis, ContentCache
from physics_probes.extract import Detections
from physics_probes.track import Track, TrackOptions, link_tracks

__all__ = ["FootageOptions", "analyse_footage", "analyse_video_file", "analyse_clip_footage",
           "work_size"]

log = logging.getLogger(__name__)

#: Tracks need this many sightings to count as objects on footage (shorter ones are flicker).
MIN_SIGHTINGS = 3


@dataclasses.dataclass(frozen=True)
class FootageOptions:
    """Knobs of :func:`analyse_footage`.

    Attributes:
        work_long_side: long side of the working resolution (pixels).
        max_work_bytes: the working copies of all frames stay under this many bytes (the
            working resolution is lowered for long clips).
        var_threshold: MOG2's squared Mahalanobis threshold (higher: fewer, surer pixels).
        history_s: MOG2's memory in seconds.
        train_frames: frames (spread over the clip) that train the background first.
        min_area_share, max_area_share: component area limits as shares of the working frame.
        max_objects_per_frame: keep the largest this-many components per frame.
        camera_min_shift_px: camera motion below this (working pixels) counts as none.
        max_corners: corners tracked for the camera motion.
        position_gate: the tracker's largest jump from the prediction (share of the diagonal).
        max_gap_s: a track unseen for longer than this ends (a later blob is a new track).
        size_gate: the tracker's largest jump from the prediction in object sizes (a ball
            rebounding at the floor misses its prediction by about twice its step).
    """

    work_long_side: int = 384
    max_work_bytes: int = 192 * 2**20
    var_threshold: float = 36.0
    history_s: float = 4.0
    train_frames: int = 40
    min_area_share: float = 1.5e-4
    max_area_share: float = 0.25
    max_objects_per_frame: int = 8
    camera_min_shift_px: float = 0.3
    max_corners: int = 300
    position_gate: float = 0.2
    max_gap_s: float = 0.2
    size_gate: float = 3.0


def work_size(height: int, width: int, num_frames: int, options: FootageOptions
              ) -> tuple[int, int]:
    """``(h, w)`` working size: long side at most ``work_long_side`` and ``num_frames`` working
    RGB frames within ``max_work_bytes``; never larger than the clip."""
    scale = min(1.0, options.work_long_side / max(height, width))
    per_frame = max(1, num_frames) * 3
    budget_scale = np.sqrt(options.max_work_bytes / (per_frame * height * width))
    scale = min(scale, float(budget_scale))
    return max(8, int(round(height * scale))), max(8, int(round(width * scale)))


def _camera_step(prev: np.ndarray, cur: np.ndarray, options: FootageOptions) -> np.ndarray:
    """``(2, 3)`` similarity transform taking points of ``prev`` (gray) to ``cur``."""
    eye = np.eye(2, 3, dtype=np.float64)
    pts = cv2.goodFeaturesToTrack(prev, options.max_corners, 0.01, 7)
    if pts is None or len(pts) < 8:
        return eye
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None, winSize=(21, 21),
                                              maxLevel=3)
    ok = status.ravel() == 1
    if ok.sum() < 8:
        return eye
    m, inliers = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC,
                                             ransacReprojThreshold=1.5)
    if m is None or inliers is None or inliers.sum() < 0.3 * ok.sum():
        return eye
    return m


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a`` after ``b`` for ``(2, 3)`` affine maps."""
    a3, b3 = np.vstack([a, [0, 0, 1]]), np.vstack([b, [0, 0, 1]])
    return (a3 @ b3)[:2]


def _invert(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(m)


def _is_still(m: np.ndarray, h: int, w: int, min_shift: float) -> bool:
    """Whether ``m`` moves no corner of an ``h x w`` frame by ``min_shift`` pixels or more."""
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], dtype=np.float64)
    moved = corners @ m.T - corners[:, :2]
    return bool(np.abs(moved).max() < min_shift)


def analyse_footage(frames: Iterable[np.ndarray], fps: float, *, num_frames: int,
                    times_s: np.ndarray | None = None,
                    options: FootageOptions | None = None) -> ClipAnalysis:
    """Track the moving objects of camera footage.

    Args:
        frames: uint8 ``(height, width, 3)`` RGB frames, consumed once (a generator is fine).
        fps: frame rate (used when ``times_s`` is None).
        num_frames: the expected frame count (sets the working resolution of long clips; the
            true count is what ``frames`` yields).
        times_s: ``(T,)`` frame times in seconds (e.g. from the container's time stamps).
        options: tuning.
    """
    options = options or FootageOptions()
    height = width = wh = ww = 0
    sx = sy = 1.0
    work: list[np.ndarray] = []
    to_ref: list[np.ndarray] = []  # (2, 3) working-frame -> first-frame maps
    prev_gray: np.ndarray | None = None
    acc = np.eye(2, 3, dtype=np.float64)
    moving_camera = False
    for frame in frames:
        if not work:
            height, width = frame.shape[:2]
            wh, ww = work_size(height, width, num_frames, options)
            sx, sy = width / ww, height / wh
        small = cv2.resize(frame, (ww, wh), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        if prev_gray is not None:
            step = _camera_step(prev_gray, gray, options)  # prev -> cur
            if not _is_still(step, wh, ww, options.camera_min_shift_px):
                acc = _compose(acc, _invert(step))  # cur -> prev -> ... -> first
        if not _is_still(acc, wh, ww, 2 * options.camera_min_shift_px):
            moving_camera = True
        work.append(small)
        to_ref.append(acc.copy())
        prev_gray = gray
    t_len = len(work)
    if t_len == 0:
        raise ValueError("the clip has no frames")
    times = (np.asarray(times_s, dtype=np.float64)[:t_len]
             if times_s is not None and len(times_s) >= t_len else np.arange(t_len) / fps)
    camera = np.stack(to_ref)
    if not moving_camera:
        camera[:] = np.eye(2, 3)
    dets = _detect(work, camera, moving_camera, (wh, ww), (sx, sy), fps, options,
                   height, width)
    del work
    linking = TrackOptions(position_gate=options.position_gate, size_gate=options.size_gate,
                           max_gap=max(2, int(round(options.max_gap_s * fps))))
    tracks = [t for t in _join_handoffs(link_tracks(dets, linking), options.size_gate)
              if len(t) >= MIN_SIGHTINGS]
    # Back to original pixels for the camera transforms too: x_ref = A x_frame + b.
    cam = camera.copy()
    cam[:, 0, 2] *= sx
    cam[:, 1, 2] *= sy
    log.debug("footage: %d frames at %dx%d working size, camera %s, %d tracks", t_len, ww, wh,
              "moving" if moving_camera else "still", len(tracks))
    return ClipAnalysis(tracks=tuple(tracks), num_frames=t_len, height=height, width=width,
                        fps=float(fps), occluders=np.zeros((0, 4)), source="footage",
                        times=times, camera=cam, moving_camera=moving_camera,
                        min_area_share=0.0, pixel_scale=float(sx))


def _join_handoffs(tracks: list[Track], size_gate: float) -> list[Track]:
    """Join a track that ends with one that starts in the next frame or the one after, right
    where the first was heading (within ``size_gate`` of its sizes), whatever their colours:
    one object that changed colour (the tracker's colour gate split it) is one object, so
    constancy can see the change and permanence sees no vanishing. Only one-to-one pairs."""
    ends: dict[int, list[int]] = {}
    for i, a in enumerate(tracks):
        if len(a) < 2:
            continue
        step = (a.centroid[-1] - a.centroid[-2]) / max(int(a.frames[-1] - a.frames[-2]), 1)
        for j, b in enumerate(tracks):
            gap = int(b.frames[0] - a.frames[-1])
            if i == j or not 1 <= gap <= 2:
                continue
            predicted = a.centroid[-1] + gap * step
            if np.linalg.norm(b.centroid[0] - predicted) <= size_gate * a.size_px + 2.0:
                ends.setdefault(i, []).append(j)
    starts: dict[int, list[int]] = {}
    for i, js in ends.items():
        for j in js:
            starts.setdefault(j, []).append(i)
    follow = {i: js[0] for i, js in ends.items() if len(js) == 1 and len(starts[js[0]]) == 1}
    if not follow:
        return tracks
    heads = [i for i in range(len(tracks)) if i not in starts or i not in follow.values()]
    out = []
    for i in heads:
        chain = [tracks[i]]
        while i in follow:
            i = follow[i]
            chain.append(tracks[i])
        first = chain[0]
        fields = ["frames", "centroid", "area", "colour", "bbox", "touches_border", "static"]
        if all(t.object_width is not None for t in chain):
            fields.append("object_width")
        out.append(Track(track_id=first.track_id, **{
            f: np.concatenate([getattr(t, f) for t in chain]) for f in fields}))
    return out


def _gain(img: np.ndarray, valid: np.ndarray | None, ref_level: float) -> np.ndarray:
    """``img`` scaled so its mean level (over ``valid``) matches ``ref_level``."""
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    level = float(gray[valid > 0].mean()) if valid is not None and valid.any() else float(gray.mean())
    if level < 1.0:
        return img
    return cv2.convertScaleAbs(img, alpha=ref_level / level)


def _detect(work: list[np.ndarray], camera: np.ndarray, moving_camera: bool,
            wsize: tuple[int, int], scale: tuple[float, float], fps: float,
            options: FootageOptions, height: int, width: int) -> Detections:
    """MOG2 foreground components of every (stabilised) working frame, in original pixels."""
    wh, ww = wsize
    sx, sy = scale
    t_len = len(work)
    ones = np.full((wh, ww), 255, np.uint8)
    ref_level = float(cv2.cvtColor(work[0], cv2.COLOR_RGB2GRAY).mean())

    def stabilised(i: int) -> tuple[np.ndarray, np.ndarray]:
        if not moving_camera:
            return _gain(work[i], None, ref_level), ones
        m = camera[i]
        img = cv2.warpAffine(work[i], m, (ww, wh), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
        valid = cv2.warpAffine(ones, m, (ww, wh), flags=cv2.INTER_NEAREST, borderValue=0)
        valid = cv2.erode(valid, np.ones((5, 5), np.uint8))
        return _gain(img, valid, ref_level), valid

    history = max(10, int(options.history_s * fps))
    mog = cv2.createBackgroundSubtractorMOG2(history=history, varThreshold=options.var_threshold,
                                            detectShadows=False)
    for i in np.linspace(0, t_len - 1, min(options.train_frames, t_len)).astype(int):
        mog.apply(stabilised(int(i))[0], learningRate=-1)
    rate = 1.0 / history
    k = max(3, int(round(min(wh, ww) / 120)) | 1)
    open_k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    close_k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    min_area = max(4.0, options.min_area_share * wh * ww)
    max_area = options.max_area_share * wh * ww
    rows: dict[str, list] = {k_: [] for k_ in ("frame", "cx", "cy", "area", "colour", "box",
                                                "edge", "width")}
    for i in range(t_len):
        img, valid = stabilised(i)
        fg = mog.apply(img, learningRate=rate)
        fg = cv2.bitwise_and(fg, valid)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, open_k)
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, close_k)
        n, lab, stats, cents = cv2.connectedComponentsWithStats(fg, connectivity=8)
        if n <= 1:
            continue
        areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
        keep = np.flatnonzero((areas >= min_area) & (areas <= max_area)) + 1
        keep = keep[np.argsort(-stats[keep, cv2.CC_STAT_AREA])][:options.max_objects_per_frame]
        if keep.size == 0:
            continue
        means = np.stack([cv2.mean(img, mask=(lab == j).astype(np.uint8))[:3] for j in keep])
        background = mog.getBackgroundImage()
        border = cv2.dilate(255 - valid, np.ones((3, 3), np.uint8)) if moving_camera else None
        for j, colour in zip(keep, means):
            x, y, w, h, a = stats[j]
            edge = x <= 0 or y <= 0 or x + w >= ww or y + h >= wh
            if border is not None and not edge:
                edge = bool(border[y:y + h, x:x + w][lab[y:y + h, x:x + w] == j].any())
            rows["frame"].append(i)
            rows["cx"].append(cents[j, 0] * sx)
            rows["cy"].append(cents[j, 1] * sy)
            rows["area"].append(a * sx * sy)
            rows["colour"].append(colour)
            rows["box"].append((x * sx, y * sy, (x + w) * sx, (y + h) * sy))
            rows["width"].append(_coverage_width(img, background, lab, j, (x, y, w, h)) * sx)
            rows["edge"].append(edge)
    n = len(rows["frame"])
    return Detections(
        frame=np.asarray(rows["frame"], dtype=np.int64),
        centroid=np.stack([rows["cx"], rows["cy"]], axis=1) if n else np.zeros((0, 2)),
        area=np.asarray(rows["area"], dtype=np.float64),
        colour=np.asarray(rows["colour"], dtype=np.float64).reshape(-1, 3),
        contrast=np.zeros(n), bbox=np.asarray(rows["box"], dtype=np.float64).reshape(-1, 4),
        touches_border=np.asarray(rows["edge"], dtype=bool), static=np.zeros(n, dtype=bool),
        num_frames=t_len, height=height, width=width, background=None,
        object_width=np.asarray(rows["width"], dtype=np.float64))


def _coverage_width(img: np.ndarray, background: np.ndarray, lab: np.ndarray, j: int,
                    box: tuple[int, int, int, int]) -> float:
    """Sub-pixel width of component ``j``: each pixel's coverage is its colour distance from
    the background model over the component's core distance (clipped to 0-1), summed along
    each row; the widest row is the object's width (motion blur along y leaves the middle row's
    width alone; the thresholded mask's box is a pixel or two wider)."""
    x, y, w, h = box
    y0, y1 = max(0, y - 1), min(lab.shape[0], y + h + 1)
    x0, x1 = max(0, x - 2), min(lab.shape[1], x + w + 2)
    diff = img[y0:y1, x0:x1].astype(np.float32) - background[y0:y1, x0:x1].astype(np.float32)
    dist = np.sqrt((diff * diff).sum(axis=2))
    mask = cv2.dilate((lab[y0:y1, x0:x1] == j).astype(np.uint8), np.ones((3, 3), np.uint8))
    inside = dist[mask > 0]
    if inside.size == 0:
        return float(w)
    core = float(np.quantile(inside, 0.8))
    if core <= 1e-6:
        return float(w)
    alpha = np.clip(dist / core, 0.0, 1.0) * (mask > 0)
    rows = alpha.sum(axis=1)
    return float(np.sort(rows)[-min(3, rows.size):].mean())


def analyse_video_file(path: str | Path, options: FootageOptions | None = None,
                       fps: float | None = None, start_frame: int = 0,
                       max_count: int | None = None) -> tuple[ClipAnalysis, dict]:
    """Stream a video file (frames ``start_frame`` on, at most ``max_count`` of them) through
    :func:`analyse_footage`, with the container's frame times unless ``fps`` overrides them.

    Returns the analysis and the file's facts: ``info`` (its ``VideoInfo``) and ``timing``
    (:func:`physics_probes.timing.frame_times`).
    """
    from evalkit.video import iter_video_frames, probe_video
    from physics_probes.timing import frame_times

    info = probe_video(path)
    timing = frame_times(path)
    rate = fps or info.fps
    times = None
    if fps is None and timing.get("times_s") is not None:
        stop = None if max_count is None else start_frame + max_count
        times = timing["times_s"][start_frame:stop]
        times = times - times[0] if times.size else None
    remaining = max(1, info.num_frames - start_frame)
    expected = remaining if max_count is None else min(max_count, remaining)
    frames = iter_video_frames(path, start_frame=start_frame, first_frames=max_count)
    analysis = analyse_footage(frames, rate, num_frames=expected, times_s=times,
                               options=options)
    return analysis, {"info": info, "timing": timing}


_cache = ContentCache(4)  # footage analyses are larger than the world's: fewer kept


def analyse_clip_footage(clip: Any, options: FootageOptions | None = None) -> ClipAnalysis:
    """:func:`analyse_footage` on an in-memory :class:`~evalkit.clip.Clip` (frames are read
    one at a time: no float copy of the clip), cached by content so that the probe metrics
    the runner calls on one clip share one analysis. Frame times from the clip's metadata
    (``frame_times_s``) when it carries them."""
    times = (clip.metadata or {}).get("frame_times_s")
    # the frame times are part of the input: the same pixels at other times are another motion
    return _cache.get_or_compute(
        clip.frames, (clip.fps, options, times),
        lambda: analyse_footage(iter(clip.frames), clip.fps, num_frames=clip.num_frames,
                                times_s=np.asarray(times) if times is not None else None,
                                options=options))
