"""Object extraction: per-frame objects (sub-pixel centroid, area, colour, box) from raw frames.

Pipeline (all frames at once, vectorised):

1. Background model (:mod:`physics_probes.background`): temporal median + background colour model.
2. Foreground. *Moving* pixels differ from the median by more than a threshold (a multiple of
   the clip's noise, at least :attr:`ExtractOptions.min_contrast`). Where the median itself holds
   an object-like colour (an object that sat there most of the clip), a frame pixel that now
   looks like plain background is a "ghost" of the absent object and is dropped. *Static*
   pixels are object-like in the median and unchanged in the frame: objects at rest, walls.
3. Connected components per frame (``scipy.ndimage.label`` on the ``(T, H, W)`` volume with a
   structure that never links frames). Static and moving parts are labelled apart, so an object
   passing a wall is not merged with it, and re-joined when adjacent and alike in colour (a slow
   object partly inside its own median footprint).
4. Measurements on each component grown by one pixel (to catch the antialiased rim): each pixel's
   coverage ``alpha`` is its colour's projection onto the segment from the background to the
   object's core colour, clipped to ``[0, 1]``. The area is the sum of alphas and the centroid is
   alpha-weighted, which is exact for a symmetric antialiased edge and survives compression.
5. A moving part is kept only when its core stands well off the background
   (:data:`MIN_CORE_CONTRAST`, :data:`MIN_CORE_CONTRAST_FACTOR`): blobs of a shimmering
   (generated) background barely clear the foreground threshold and are no objects.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from physics_probes.background import (
    BACKGROUND_SIGMA,
    OBJECT_SIGMA,
    BackgroundModel,
    estimate_background,
    mahalanobis,
    temporal_median,
)

__all__ = ["ExtractOptions", "Detections", "extract_objects"]

# Connectivity inside a frame only (8-neighbourhood); frames are never linked by labelling.
_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_STRUCTURE[1] = True
#: Pixels whose contrast is at least this share of the component's peak form its "core" colour.
_CORE_SHARE = 0.8
#: Static and moving parts that touch are one object when their colours are this close (RGB).
_MERGE_COLOUR_DISTANCE = 45.0
#: Fragments are looked for only up to this many components in a clip (pairwise test).
_MAX_FRAGMENT_LABELS = 400
#: A moving component whose contrast vectors have a coherence below this holds two colours.
_MIXED_COHERENCE = 0.97
#: ... and is split when the two contrast directions found have a cosine below this.
_SPLIT_MAX_COS = 0.7
#: ... and when each of the two carries at least this share of the component's contrast.
_SPLIT_MIN_SHARE = 0.15
#: ... and when each is coherent to at least this (one colour each).
_SPLIT_SIDE_COHERENCE = 0.9
#: ... and when each has at least this many body pixels (3x3 neighbourhood all its own).
_SPLIT_MIN_BODY_PX = 4
_BODY_STRUCTURE = np.ones((3, 3), dtype=bool)
#: A moving part is an object only when its core stands at least this far (RGB) from the
#: background under it. A part whose core barely clears the foreground threshold is background
#: shimmer (a generated texture flickering from frame to frame, a codec re-coding it, the ghost
#: a slow object leaves in the median), not an object; as a neighbour of another colour it
#: would make the probes drop the real object's sightings as merged. The shimmer blobs of
#: generated clips have cores 25-35 RGB off the background; world objects 100 RGB or more.
MIN_CORE_CONTRAST = 50.0
#: ... and at least this many times the clip's foreground threshold, which grows with its noise
#: (``noise_factor`` noise standard deviations), so that in a noisy clip a part must clear the
#: noise by a margin too. Kept well under the ratio that a bright object reaches on a busy
#: texture after compression (about 2), which a larger factor would lose.
MIN_CORE_CONTRAST_FACTOR = 1.25


@dataclasses.dataclass(frozen=True)
class ExtractOptions:
    """Knobs of :func:`extract_objects` (defaults suit world clips and generated video).

    Attributes:
        min_contrast: least RGB distance from the background for a pixel to be foreground.
        noise_factor: the threshold is at least this many noise standard deviations.
        min_area_px: least object area in pixels; ``None``: ``max(3, 0.001 * H * W)``.
        max_area_fraction: components larger than this share of the frame are not objects
            (camera motion, lighting changes) and are dropped.
        max_objects_per_frame: keep the largest this-many components of each frame.
        min_core_contrast: a moving part is an object only when its core stands this far
            (RGB) off the background (:data:`MIN_CORE_CONTRAST`); lower it for dull objects.
        min_core_contrast_factor: ... and this many times the foreground threshold
            (:data:`MIN_CORE_CONTRAST_FACTOR`).
    """

    min_contrast: float = 20.0
    noise_factor: float = 6.0
    min_area_px: float | None = None
    max_area_fraction: float = 0.25
    max_objects_per_frame: int = 8
    min_core_contrast: float = MIN_CORE_CONTRAST
    min_core_contrast_factor: float = MIN_CORE_CONTRAST_FACTOR


@dataclasses.dataclass(frozen=True, eq=False)
class Detections:
    """Objects found in a clip: ``N`` detections over ``num_frames`` frames.

    Attributes:
        frame: ``(N,)`` int frame index of each detection (sorted).
        centroid: ``(N, 2)`` float ``(x, y)`` in pixels (pixel ``j`` is centred at ``j + 0.5``).
        area: ``(N,)`` float coverage-weighted area in pixels.
        colour: ``(N, 3)`` float mean RGB of the object's core.
        contrast: ``(N,)`` float mean RGB distance of the core's pixels from the background
            under them: the temporal median (where the median may hold an object's footprint,
            the nearer of it and the background colour); for an object at rest, the
            background colour.
        bbox: ``(N, 4)`` float ``(x0, y0, x1, y1)`` pixel-edge box of the thresholded mask.
        touches_border: ``(N,)`` bool, the box reaches an edge of the frame.
        static: ``(N,)`` bool, found by colour only (unchanged from the median: at rest, walls).
        num_frames, height, width: clip geometry.
        background: the background model used (None from the footage tracker).
        object_width: ``(N,)`` sub-pixel width of each object (its widest row of coverage), or None
            (the footage tracker measures it; it gives the scale from a known object size).
    """

    frame: np.ndarray
    centroid: np.ndarray
    area: np.ndarray
    colour: np.ndarray
    contrast: np.ndarray
    bbox: np.ndarray
    touches_border: np.ndarray
    static: np.ndarray
    num_frames: int
    height: int
    width: int
    background: BackgroundModel | None
    object_width: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    def in_frame(self, t: int) -> np.ndarray:
        """Indices of the detections in frame ``t``."""
        lo, hi = np.searchsorted(self.frame, [t, t + 1])
        return np.arange(lo, hi)


def _threshold(bg: BackgroundModel, options: ExtractOptions) -> float:
    """Least RGB distance from the median for a pixel to be moving foreground."""
    return max(options.min_contrast, options.noise_factor * bg.noise)


def _foreground(f: np.ndarray, bg: BackgroundModel, options: ExtractOptions
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """``(moving, static)`` bool masks ``(T, H, W)``; ``static`` is None when nothing is static."""
    d2 = np.zeros(f.shape[:-1], dtype=np.float32)
    for c in range(3):  # per channel: avoids a (T, H, W, 3) temporary per operation
        dc = f[..., c] - bg.image[..., c]
        d2 += dc * dc
    thr = _threshold(bg, options)
    moving = d2 > thr * thr
    where = bg.unusual
    if not where.any():
        return moving, None
    # Colour distances only where the median is unusual (few pixels): (T, K).
    m = mahalanobis(f[:, where], bg.colour_mean, bg.colour_inv_cov)
    sub = moving[:, where] & ~(m < BACKGROUND_SIGMA)  # drop ghosts of absent objects
    moving[:, where] = sub
    if not bg.object_like.any():
        return moving, None
    static = np.zeros_like(moving)
    static[:, where] = bg.object_like[where][None, :] & ~sub & (m > OBJECT_SIGMA)
    return moving, static


def _label(moving: np.ndarray, static: np.ndarray | None
           ) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Label moving and static parts apart.

    Returns labels ``(T, H, W)`` int32, the label count ``n``, ``(n + 1,)`` bool "label is
    static", and ``(P, 2)`` pairs ``(moving label, static label)`` that touch.
    """
    lab, n_m = ndimage.label(moving, _STRUCTURE)
    no_pairs = np.zeros((0, 2), dtype=np.int64)
    if static is None or not static.any():
        return lab, n_m, np.zeros(n_m + 1, dtype=bool), no_pairs
    lab_s, n_s = ndimage.label(static, _STRUCTURE)
    lab_s = np.where(lab_s > 0, lab_s + n_m, 0).astype(np.int32)
    is_static = np.arange(n_m + n_s + 1) > n_m
    pairs = no_pairs
    if n_m:
        grown = ndimage.maximum_filter(lab_s, size=(1, 3, 3))
        touch = (lab > 0) & (grown > 0)
        if touch.any():
            pairs = np.unique(np.stack([lab[touch], grown[touch]], axis=1), axis=0)
    lab = np.where(lab_s > 0, lab_s, lab).astype(np.int32)
    return lab, n_m + n_s, is_static, pairs


def _split_mixed(lab: np.ndarray, n: int, is_static: np.ndarray, pairs: np.ndarray,
                 f: np.ndarray, bg: BackgroundModel
                 ) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Split moving components that hold two objects of different colours.

    Two objects a pixel or two apart join into one component through their antialiased (or,
    after compression, blurred) rims. Every pixel of one object, rim included, differs from the
    background along one direction (the object's colour minus the background's), so a
    component's contrast vectors are parallel: their coherence ``|sum c| / sum |c|`` is near 1.
    A component well below :data:`_MIXED_COHERENCE` is split in two by 2-means on the
    contrast directions (weighted by contrast), when the two directions found are far apart;
    each half's connected parts become components.
    """
    idx = np.flatnonzero(lab)
    lbl = lab.ravel()[idx]
    moving_px = ~is_static[lbl]
    idx, lbl = idx[moving_px], lbl[moving_px]
    if idx.size == 0:
        return lab, n, is_static, pairs
    hw = lab.shape[1] * lab.shape[2]
    c = f.reshape(-1, 3)[idx] - bg.image.reshape(-1, 3)[idx % hw]
    mag = np.sqrt((c * c).sum(axis=1))
    sums = np.stack([np.bincount(lbl, weights=c[:, k], minlength=n + 1) for k in range(3)], 1)
    total = np.bincount(lbl, weights=mag, minlength=n + 1)
    coherence = np.sqrt((sums * sums).sum(axis=1)) / np.maximum(total, 1e-9)
    mixed = np.flatnonzero((coherence < _MIXED_COHERENCE) & (total > 0))
    if mixed.size == 0:
        return lab, n, is_static, pairs
    lab = lab.copy()
    flat = lab.ravel()
    new_static = [is_static]
    split_any = []
    for m in mixed:
        sel = lbl == m
        pi, ci, mi = idx[sel], c[sel], mag[sel]
        u = ci / np.maximum(mi, 1e-6)[:, None]
        strong = mi >= 0.5 * mi.max()
        a = u[np.argmax(mi)]
        b = u[strong][np.argmin(u[strong] @ a)]
        for _ in range(4):
            side = (u @ b) > (u @ a)
            if side.all() or not side.any():
                break
            a = (u[~side] * mi[~side, None]).sum(0)
            b = (u[side] * mi[side, None]).sum(0)
            a /= max(np.linalg.norm(a), 1e-9)
            b /= max(np.linalg.norm(b), 1e-9)
        if side.all() or not side.any() or float(a @ b) > _SPLIT_MAX_COS:
            continue
        # Two objects, not an object and its compression fringe: each side carries a fair
        # share of the contrast and is itself of one colour.
        w_b, w_a = float(mi[side].sum()), float(mi[~side].sum())
        if min(w_a, w_b) < _SPLIT_MIN_SHARE * (w_a + w_b):
            continue
        coh_b = np.linalg.norm(ci[side].sum(0)) / w_b
        coh_a = np.linalg.norm(ci[~side].sum(0)) / w_a
        if min(coh_a, coh_b) < _SPLIT_SIDE_COHERENCE:
            continue
        # ... and each has a body: pixels whose whole 3x3 neighbourhood is on its side (a
        # fringe of compression-smeared chroma around one object is a thin ring, no body).
        frame_px = pi // hw
        t0 = int(frame_px[0])
        if not np.all(frame_px == t0):
            continue
        ys, xs = (pi % hw) // lab.shape[2], pi % lab.shape[2]
        y0, x0 = ys.min(), xs.min()
        box = np.zeros((ys.max() - y0 + 3, xs.max() - x0 + 3), dtype=np.int8)
        box[ys - y0 + 1, xs - x0 + 1] = np.where(side, 2, 1)
        body = [int(ndimage.binary_erosion(box == v, _BODY_STRUCTURE).sum()) for v in (1, 2)]
        if min(body) < _SPLIT_MIN_BODY_PX:
            continue
        part = np.zeros(lab.shape, dtype=bool)
        part.ravel()[pi[side]] = True
        sub, k = ndimage.label(part, _STRUCTURE)
        flat[pi[side]] = sub.ravel()[pi[side]] + n
        new_static.append(np.zeros(k, dtype=bool))
        split_any.append(m)
        n += k
    if not split_any:
        return lab, n, is_static, pairs
    is_static = np.concatenate(new_static)
    if pairs.size:
        pairs = pairs[~np.isin(pairs[:, 0], split_any)]
    return lab, n, is_static, pairs


def extract_objects(frames: np.ndarray, options: ExtractOptions | None = None) -> Detections:
    """Find the objects in every frame of ``frames``: uint8 ``(T, H, W, 3)`` RGB."""
    options = options or ExtractOptions()
    t_len, h, w, _ = frames.shape
    f = frames.astype(np.float32)
    # The median on the raw (uint8) frames: min/max networks are cheapest on small types.
    bg = estimate_background(f, temporal_median(frames))
    thr = _threshold(bg, options)
    moving, static = _foreground(f, bg, options)
    lab, n, is_static, pairs = _label(moving, static)
    if n == 0:
        return _empty(t_len, h, w, bg)
    lab, n, is_static, pairs = _split_mixed(lab, n, is_static, pairs, f, bg)

    # Grow every component by one pixel to take in its antialiased rim.
    grown = ndimage.maximum_filter(lab, size=(1, 3, 3))
    grown = np.where(lab > 0, lab, grown)
    idx = np.flatnonzero(grown)
    lbl = grown.ravel()[idx]
    pix = f.reshape(-1, 3)[idx]
    rem = idx % (h * w)
    ref = bg.image.reshape(-1, 3)[rem]
    # An object at rest has no background under it in the median: use the background colour.
    ref[is_static[lbl]] = bg.colour_mean
    contrast = pix - ref
    mag = np.sqrt((contrast * contrast).sum(axis=1))

    # Core colour: mean over the pixels with near-peak contrast.
    peak = np.zeros(n + 1, dtype=np.float32)
    np.maximum.at(peak, lbl, mag)
    core = mag >= _CORE_SHARE * peak[lbl]
    core_n = np.bincount(lbl[core], minlength=n + 1).astype(np.float64)
    colour = np.stack([np.bincount(lbl[core], weights=pix[core, c], minlength=n + 1)
                       for c in range(3)], axis=1) / np.maximum(core_n, 1)[:, None]
    # Core contrast: how far the core stands from the background under it (RGB). Where the
    # median is unusual it may hold an object's footprint (a slow object) rather than the
    # background, so there a pixel must also stand out from the background colour: the ghost
    # an object leaves behind differs from the median, but not from the background.
    sep = mag
    if bg.unusual.any():
        under = bg.unusual.ravel()[rem] & ~is_static[lbl]
        d_bg = pix[under] - bg.colour_mean
        sep = mag.copy()
        sep[under] = np.minimum(mag[under], np.sqrt((d_bg * d_bg).sum(axis=1)))
    core_contrast = (np.bincount(lbl[core], weights=sep[core], minlength=n + 1)
                     / np.maximum(core_n, 1))

    # Coverage of each pixel along background -> object colour.
    span = colour[lbl].astype(np.float32) - ref
    alpha = (contrast * span).sum(axis=1) / np.maximum((span * span).sum(axis=1), 1e-6)
    alpha = np.clip(alpha, 0.0, 1.0)
    xs, ys = (rem % w).astype(np.float64) + 0.5, (rem // w).astype(np.float64) + 0.5
    area = np.bincount(lbl, weights=alpha, minlength=n + 1)
    sx = np.bincount(lbl, weights=alpha * xs, minlength=n + 1)
    sy = np.bincount(lbl, weights=alpha * ys, minlength=n + 1)

    slices = ndimage.find_objects(lab, max_label=n)
    boxes = np.full((n + 1, 5), -1.0)
    for i, sl in enumerate(slices, start=1):
        if sl is not None:
            boxes[i] = (sl[2].start, sl[1].start, sl[2].stop, sl[1].stop, sl[0].start)
    alive = boxes[:, 4] >= 0
    _merge_pairs(pairs, colour, core_contrast, area, sx, sy, boxes, alive, is_static)
    _merge_pairs(_fragment_pairs(boxes, colour, alive, is_static), colour, core_contrast, area,
                 sx, sy, boxes, alive, is_static)

    labels = np.flatnonzero(alive)
    # A moving part whose core colour is plainly background colour is no object: background
    # re-coded differently after an object uncovered it (compression), or lighting flicker.
    moving_labels = labels[~is_static[labels]]
    if moving_labels.size:
        plain = mahalanobis(colour[moving_labels].astype(np.float32), bg.colour_mean,
                            bg.colour_inv_cov) < BACKGROUND_SIGMA
        labels = np.setdiff1d(labels, moving_labels[plain])
    # ... nor is one whose core barely clears the foreground threshold (see
    # MIN_CORE_CONTRAST and MIN_CORE_CONTRAST_FACTOR). Static parts are exempt: walls may be dull, and a static part
    # already stands OBJECT_SIGMA off the background's colour model.
    moving_labels = labels[~is_static[labels]]
    least = max(options.min_core_contrast, options.min_core_contrast_factor * thr)
    faint = moving_labels[core_contrast[moving_labels] < least]
    labels = np.setdiff1d(labels, faint)
    min_area = options.min_area_px if options.min_area_px is not None else max(3.0, 1e-3 * h * w)
    labels = labels[(area[labels] >= min_area) & (area[labels] <= options.max_area_fraction * h * w)]
    frame = boxes[labels, 4].astype(np.int64)
    # Sort by frame, then largest first, and keep the largest few per frame.
    order = np.lexsort((-area[labels], frame))
    labels, frame = labels[order], frame[order]
    rank = np.arange(frame.size) - np.searchsorted(frame, frame)
    keep = rank < options.max_objects_per_frame
    labels, frame = labels[keep], frame[keep]
    bbox = boxes[labels, :4]
    touches = (bbox[:, 0] <= 0) | (bbox[:, 1] <= 0) | (bbox[:, 2] >= w) | (bbox[:, 3] >= h)
    a = area[labels]
    return Detections(
        frame=frame, centroid=np.stack([sx[labels] / a, sy[labels] / a], axis=1), area=a,
        colour=colour[labels], contrast=core_contrast[labels], bbox=bbox,
        touches_border=touches, static=is_static[labels], num_frames=t_len, height=h, width=w,
        background=bg,
    )


def _merge_pairs(pairs: np.ndarray, colour: np.ndarray, contrast: np.ndarray, area: np.ndarray,
                 sx: np.ndarray, sy: np.ndarray, boxes: np.ndarray, alive: np.ndarray,
                 is_static: np.ndarray) -> None:
    """Fold a static part into the moving part it touches when their core colours agree.

    That is one slow object partly lying inside its own median footprint; a wall the object
    passes has another colour and stays apart. Works in place on the per-label arrays.
    """
    for a, b in pairs:
        if not (alive[a] and alive[b]):
            continue
        if np.linalg.norm(colour[a] - colour[b]) >= _MERGE_COLOUR_DISTANCE:
            continue
        total = area[a] + area[b]
        colour[a] = (colour[a] * area[a] + colour[b] * area[b]) / max(total, 1e-9)
        contrast[a] = (contrast[a] * area[a] + contrast[b] * area[b]) / max(total, 1e-9)
        area[a], sx[a], sy[a] = total, sx[a] + sx[b], sy[a] + sy[b]
        boxes[a, :2] = np.minimum(boxes[a, :2], boxes[b, :2])
        boxes[a, 2:4] = np.maximum(boxes[a, 2:4], boxes[b, 2:4])
        alive[b] = False
        is_static[a] = False


def _fragment_pairs(boxes: np.ndarray, colour: np.ndarray, alive: np.ndarray,
                    is_static: np.ndarray) -> np.ndarray:
    """``(P, 2)`` label pairs in one frame whose boxes touch (1 px apart at most) and whose
    colours agree: fragments of one object, cut apart where the object lies over its own
    footprint in the temporal median (a slow object) and so is neither moving nor static."""
    lab = np.flatnonzero(alive & ~is_static)
    if lab.size < 2 or lab.size > _MAX_FRAGMENT_LABELS:
        return np.zeros((0, 2), dtype=np.int64)
    b = boxes[lab]
    same = b[:, None, 4] == b[None, :, 4]
    near = ((b[:, None, 0] <= b[None, :, 2] + 1) & (b[None, :, 0] <= b[:, None, 2] + 1)
            & (b[:, None, 1] <= b[None, :, 3] + 1) & (b[None, :, 1] <= b[:, None, 3] + 1))
    dcol = np.linalg.norm(colour[lab][:, None] - colour[lab][None, :], axis=2)
    i, j = np.nonzero(np.triu(same & near & (dcol < _MERGE_COLOUR_DISTANCE), 1))
    return np.stack([lab[i], lab[j]], axis=1)


def _empty(t_len: int, h: int, w: int, bg: BackgroundModel) -> Detections:
    return Detections(
        frame=np.zeros(0, dtype=np.int64), centroid=np.zeros((0, 2)), area=np.zeros(0),
        colour=np.zeros((0, 3)), contrast=np.zeros(0), bbox=np.zeros((0, 4)),
        touches_border=np.zeros(0, dtype=bool), static=np.zeros(0, dtype=bool),
        num_frames=t_len, height=h, width=w, background=bg,
    )
