"""A clip's tracks plus what the probes need to read them: timing, geometry, occluders.

:func:`analyse_clip` runs extraction and tracking once per clip (cached by content, so the
seven probe metrics the runner calls on one clip share the work); :func:`analysis_from_truth`
builds the same structure from a world scene's exact ground truth, which gives the probes'
floor (what they report on perfect measurements).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import threading

import numpy as np

from physics_probes.extract import ExtractOptions, extract_objects
from physics_probes.track import Track, TrackOptions, link_tracks

__all__ = ["ClipAnalysis", "analyse_clip", "analyse_frames", "analysis_from_truth"]

#: A track is scenery (a wall, the floor) when most sightings are static and touch the border.
_SCENERY_SHARE = 0.5
#: Tracks with a median area below this share of the largest object's are not significant.
SIGNIFICANT_AREA_SHARE = 0.25
#: A static track is an occluder when seen in at least this share of the frames.
_OCCLUDER_FRAME_SHARE = 0.5
#: A track seen in fewer frames than this, each time next to another object, is a fragment of
#: that object (a compression blob split off its rim or its chroma smear), not an object.
FRAGMENT_MAX_SIGHTINGS = 4
#: Touching objects count as merged (not one object split by extraction) when their colours
#: differ by more than this (RGB).
MERGE_MIN_COLOUR_DISTANCE = 45.0
#: "Next to" for a fragment: within this share of the other object's size (plus a pixel).
_FRAGMENT_MARGIN_SHARE = 0.5
#: Radius of a disc per square root of its area (1/sqrt(pi)).
_HALF_EXTENT_PER_SQRT_AREA = 0.5642
_CACHE_SIZE = 8
#: Footage: a sighting whose smaller box side is under this share of the track's typical one
#: is a partial mask, not the whole object.
FOOTAGE_MIN_EXTENT_SHARE = 0.8


def _boxes_overlap(a: np.ndarray, b: np.ndarray, margin: float | np.ndarray) -> np.ndarray:
    """Boxes ``a (..., 4)`` grown by ``margin`` (broadcast against ``(...,)``) overlap boxes
    ``b (..., 4)``; shapes broadcast. A NaN box overlaps nothing."""
    m = np.asarray(margin, dtype=np.float64)[..., None]
    return ((a[..., :2] - m < b[..., 2:]) & (a[..., 2:] + m > b[..., :2])).all(axis=-1)


def _is_scenery(track: Track) -> bool:
    """See :meth:`ClipAnalysis.is_scenery`."""
    return bool(np.mean(track.static) >= _SCENERY_SHARE
                and np.mean(track.touches_border) >= _SCENERY_SHARE)


def _is_footprint(track: Track, num_frames: int) -> bool:
    """See :meth:`ClipAnalysis.is_footprint`."""
    return bool(np.mean(track.static) >= _SCENERY_SHARE
                and track.static.sum() < _OCCLUDER_FRAME_SHARE * num_frames)


@dataclasses.dataclass(frozen=True, eq=False)
class ClipAnalysis:
    """Tracks of one clip and its frame geometry.

    Attributes:
        tracks: every track (objects and scenery).
        num_frames, height, width: clip geometry; fps: frames per second.
        occluders: ``(M, 4)`` boxes ``(x0, y0, x1, y1)`` in pixels of static things that can
            hide an object (walls, objects at rest), from the pixels and from the scene spec.
        source: ``"pixels"`` (world extractor), ``"footage"`` (OpenCV tracker of
            :mod:`physics_probes.footage`) or ``"truth"``.
        times: ``(T,)`` frame times in seconds (container time stamps), or None: ``i / fps``.
        camera: ``(T, 2, 3)`` affine maps from each frame's pixels to the first frame's (the
            coordinates tracks are in), or None (a still camera: identity).
        moving_camera: whether the camera moved (tracks are then camera-compensated).
        min_area_share: tracks whose median area is below this share of the largest object's
            are not significant (footage: 0, a small ball beside a walking person counts).
        pixel_scale: original pixels per analysed pixel (footage: the working resolution's
            step), the quantum of the masks' boxes.
        named_ids: tracks of the objects the user or a detector named (footage permanence
            and constancy judge only these).
    """

    tracks: tuple[Track, ...]
    num_frames: int
    height: int
    width: int
    fps: float
    occluders: np.ndarray
    source: str = "pixels"
    times: np.ndarray | None = None
    camera: np.ndarray | None = None
    moving_camera: bool = False
    min_area_share: float = SIGNIFICANT_AREA_SHARE
    pixel_scale: float = 1.0
    named_ids: tuple[int, ...] = ()

    @property
    def times_s(self) -> np.ndarray:
        """``(T,)`` frame times in seconds."""
        if self.times is not None:
            return np.asarray(self.times, dtype=np.float64)
        return np.arange(self.num_frames) / self.fps

    def frame_box(self, frame: int, box: np.ndarray) -> np.ndarray:
        """``(4,)`` box ``(x0, y0, x1, y1)`` given in track coordinates (the first frame's view)
        mapped into frame ``frame``'s own pixels (the identity for a still camera)."""
        box = np.asarray(box, dtype=np.float64)
        if self.camera is None:
            return box
        import cv2

        inv = cv2.invertAffineTransform(self.camera[frame])
        pts = np.array([[box[0], box[1]], [box[2], box[1]], [box[0], box[3]], [box[2], box[3]]])
        out = pts @ inv[:, :2].T + inv[:, 2]
        return np.array([out[:, 0].min(), out[:, 1].min(), out[:, 0].max(), out[:, 1].max()])

    def is_scenery(self, track: Track) -> bool:
        """Static and touching the frame edge in most sightings: a wall, not an object."""
        return _is_scenery(track)

    def is_footprint(self, track: Track) -> bool:
        """Mostly static, yet static in under :data:`_OCCLUDER_FRAME_SHARE` of the frames: not
        an object at rest (that is in the median, so static wherever it is not covered) but a
        slow moving object's own footprint in the median, seen while the object is away."""
        return _is_footprint(track, self.num_frames)

    @functools.cached_property
    def _significant(self) -> list[Track]:
        # A footprint is no object: it must neither be followed nor, as a neighbour of
        # another colour (a blend of the object and the background), take its sightings.
        objs = [t for t in self.tracks
                if not self.is_scenery(t) and not self.is_footprint(t)]
        if not objs:
            return []
        biggest = max(float(np.median(t.area)) for t in objs)
        return [t for t in objs if float(np.median(t.area)) >= self.min_area_share * biggest]

    @functools.cached_property
    def _layout(self) -> tuple[dict[int, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Where every lasting object (significant, seen in :data:`FRAGMENT_MAX_SIGHTINGS`
        frames or more) is in every frame.

        ``(row of track id, boxes (N, T, 4), seen (N, T) bool, size (N,) px, colour (N, 3))``:
        the measured
        box where the track has a sighting, else a box of the object's typical extent about
        its centroid interpolated across a gap or extrapolated at constant velocity before its
        first and after its last sighting (where it would be had it not been hidden or merged).
        Extrapolation needs the first (last) sighting next to another object, else the box
        there is NaN (overlaps nothing).
        """
        objs = [t for t in self._significant if len(t) >= FRAGMENT_MAX_SIGHTINGS]
        n, t_len = len(objs), self.num_frames
        boxes = np.zeros((n, t_len, 4))
        seen = np.zeros((n, t_len), dtype=bool)
        size = np.zeros(n)
        colours = np.zeros((n, 3))
        frames = np.arange(t_len, dtype=np.float64)
        for i, tr in enumerate(objs):
            size[i] = tr.size_px
            colours[i] = tr.mean_colour
            half = _HALF_EXTENT_PER_SQRT_AREA * np.sqrt(float(np.median(tr.area)))
            f = tr.frames.astype(np.float64)
            c = np.stack([np.interp(frames, f, tr.centroid[:, d]) for d in range(2)], axis=1)
            if len(tr) >= 2:
                v0 = (tr.centroid[1] - tr.centroid[0]) / max(f[1] - f[0], 1.0)
                v1 = (tr.centroid[-1] - tr.centroid[-2]) / max(f[-1] - f[-2], 1.0)
                before, after = frames < f[0], frames > f[-1]
                c[before] = tr.centroid[0] + (frames[before] - f[0])[:, None] * v0
                c[after] = tr.centroid[-1] + (frames[after] - f[-1])[:, None] * v1
            boxes[i] = np.concatenate([c - half, c + half], axis=1)
            boxes[i, tr.frames] = tr.bbox
            seen[i, tr.frames] = True
        # An object can have been merged into another (or hidden by it) before its first
        # sighting only if it then comes out next to another object, and after its last only
        # if it was last seen next to one; one that appears or vanishes in open view was not
        # anywhere before or after (it appeared from nowhere), so it has no place there.
        for i, tr in enumerate(objs):
            others = [j for j in range(n) if j != i]
            margin = _FRAGMENT_MARGIN_SHARE * size[i] + 1.0
            for k, outside in ((0, frames < tr.frames[0]), (-1, frames > tr.frames[-1])):
                if not outside.any():
                    continue
                fk = int(tr.frames[k])
                near = seen[others, fk] & _boxes_overlap(tr.bbox[k], boxes[others, fk], margin)
                if not near.any():
                    boxes[i, outside] = np.nan  # overlaps nothing
        return {tr.track_id: i for i, tr in enumerate(objs)}, boxes, seen, size, colours

    def _overlap_others(self, track: Track, frames: np.ndarray, bbox: np.ndarray,
                        margin: float | np.ndarray, observed_only: bool,
                        min_colour_distance: float = 0.0) -> np.ndarray:
        """``(K,)`` bool: box ``k`` (``(K, 4)``) at frame ``frames[k]``, grown by ``margin``,
        overlaps another significant object: where it was seen then (``observed_only``) or
        also where it would be while unseen; with ``min_colour_distance``, only objects whose
        colour differs from this one's by more than that (RGB)."""
        rows, boxes, seen, _, colours = self._layout
        frames = np.asarray(frames, dtype=np.int64)
        bbox = np.atleast_2d(np.asarray(bbox, dtype=np.float64))
        out = np.zeros(frames.size, dtype=bool)
        me = rows.get(track.track_id, -1)
        ok = (frames >= 0) & (frames < self.num_frames)
        if not ok.any() or len(rows) - (me >= 0) < 1:
            return out
        m = np.broadcast_to(np.asarray(margin, dtype=np.float64), frames.shape)[ok]
        f, b = frames[ok], bbox[ok]
        other = [i for i in range(len(rows)) if i != me]
        if min_colour_distance > 0:
            col = track.mean_colour
            other = [i for i in other
                     if np.linalg.norm(colours[i] - col) > min_colour_distance]
        if not other:
            return out
        other = np.asarray(other)
        ob = boxes[other][:, f]  # (M, K, 4)
        hit = _boxes_overlap(b[None], ob, m[None])
        if observed_only:
            hit &= seen[other][:, f]
        out[ok] = hit.any(axis=0)
        return out

    def near_other_object(self, track: Track, frames: np.ndarray, bbox: np.ndarray,
                          margin: float | np.ndarray) -> np.ndarray:
        """``(K,)`` bool: the boxes (``(K, 4)`` at ``frames``) grown by ``margin`` overlap
        another object seen in that frame: where an object can be hidden by or merged into
        another one (a birth, death or gap there has a cause)."""
        return self._overlap_others(track, frames, bbox, margin, observed_only=True)

    def merged(self, track: Track) -> np.ndarray:
        """``(K,)`` bool: sightings touching another object of another colour, seen or (while
        unseen, merged into this one or hidden by it) where it would be: the mask may hold
        both, so its area, colour and centroid are not this object's alone. (A track of the
        same colour touching this one is the same object split in two by extraction, e.g. a
        slow object over its own footprint in the median: no merge.)"""
        return self._overlap_others(track, track.frames, track.bbox, 1.0, observed_only=False,
                                    min_colour_distance=MERGE_MIN_COLOUR_DISTANCE)

    @functools.cached_property
    def _objects(self) -> list[Track]:
        objs = self._significant
        rows, _, _, size, _ = self._layout
        if len(objs) < 2 or not rows:
            return list(objs)
        out = []
        for tr in objs:
            if len(tr) < FRAGMENT_MAX_SIGHTINGS:
                others = [size[i] for tid, i in rows.items() if tid != tr.track_id]
                margin = _FRAGMENT_MARGIN_SHARE * max(others) + 1.0
                if self.near_other_object(tr, tr.frames, tr.bbox, margin).all():
                    continue  # a fragment of a neighbouring object in every sighting
            out.append(tr)
        return out

    def objects(self) -> list[Track]:
        """Significant object tracks: not scenery, not tiny next to the largest object, and
        not a short-lived fragment next to another object."""
        return list(self._objects)

    def steady_objects(self) -> list[Track]:
        """The objects permanence and constancy judge. World clips: every object. Footage:
        only the named object (``named_ids``: a user's box or a detector's), since background
        subtraction splits and merges the masks of people and cars from frame to frame and
        its fragments come and go in open view; without one, nothing (the probes then say so).
        """
        objs = self.objects()
        if self.source != "footage":
            return objs
        return [t for t in self.tracks if t.track_id in self.named_ids]

    def with_named(self, track_ids: tuple[int, ...]) -> ClipAnalysis:
        """The same analysis with ``track_ids`` as the named objects (see ``named_ids``)."""
        return dataclasses.replace(self, named_ids=tuple(track_ids))

    def with_occluders(self, boxes: np.ndarray) -> ClipAnalysis:
        """The same analysis with extra occluder boxes ``(M, 4)``."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if boxes.size == 0:
            return self
        return dataclasses.replace(self, occluders=np.concatenate([self.occluders, boxes]))

    def near_occluder(self, bbox: np.ndarray, margin: float) -> np.ndarray:
        """``(K,)`` bool: boxes ``(K, 4)`` grown by ``margin`` (pixels, scalar or ``(K,)``)
        overlap an occluder."""
        bbox = np.atleast_2d(bbox)
        if self.occluders.size == 0:
            return np.zeros(bbox.shape[0], dtype=bool)
        m = np.broadcast_to(np.asarray(margin, dtype=np.float64), bbox.shape[:1])[:, None]
        return _boxes_overlap(bbox[:, None], self.occluders[None], m).any(axis=1)

    def near_edge(self, bbox: np.ndarray, margin: float | np.ndarray) -> np.ndarray:
        """``(K,)`` bool: boxes ``(K, 4)`` within ``margin`` pixels of a frame edge."""
        bbox = np.atleast_2d(bbox)
        m = np.asarray(margin, dtype=np.float64)
        return ((bbox[:, 0] <= m) | (bbox[:, 1] <= m) | (bbox[:, 2] >= self.width - m)
                | (bbox[:, 3] >= self.height - m))

    def clean(self, track: Track, allow_edge: bool = False) -> np.ndarray:
        """``(K,)`` bool: sightings where the whole object can be measured.

        Not cut by the frame edge (its mask box clear of the edge, or its area full and its
        extent about the centroid in view; with ``allow_edge`` a full area is enough, as for a
        ball resting on the bottom edge) and not touching an occluder.
        """
        free = ~self.near_occluder(track.bbox, 1.0) | track.static
        inside = ~track.touches_border
        ref_pool = track.area[inside & free]
        ref = (float(np.median(ref_pool)) if ref_pool.size
               else float(np.quantile(track.area, 0.75)))
        full = track.area >= 0.9 * ref
        if self.source == "footage":
            pass  # a mask at the frame edge may be any part of the object: never whole
        elif allow_edge:
            inside = inside | full
        else:
            # After compression the thresholded mask bleeds a pixel or more past the object,
            # so an object just inside the edge "touches" it: it is whole when its area is
            # full and its extent about the centroid (radius of the typical area) is in view.
            half = 0.5642 * np.sqrt(ref)
            lo, hi = track.centroid - half, track.centroid + half
            in_view = ((lo >= 0.0).all(axis=1) & (hi[:, 0] <= self.width)
                       & (hi[:, 1] <= self.height))
            inside = inside | (full & in_view)
        out = inside & free & ~self.merged(track)
        if self.source == "footage" and len(track) >= 3:
            # A mask cut short (an object leaving its own footprint in the background model,
            # half hidden): its smaller extent falls below the object's typical smaller extent
            # (motion blur only lengthens a mask along the motion, never narrows it).
            ext = np.minimum(track.bbox[:, 2] - track.bbox[:, 0], track.bbox[:, 3] - track.bbox[:, 1])
            out &= ext >= FOOTAGE_MIN_EXTENT_SHARE * float(np.median(ext))
        return out


def analyse_frames(frames: np.ndarray, fps: float, extract: ExtractOptions | None = None,
                   track: TrackOptions | None = None) -> ClipAnalysis:
    """Extract and track the objects of ``frames`` uint8 ``(T, H, W, 3)``."""
    dets = extract_objects(frames, extract)
    tracks = tuple(link_tracks(dets, track))
    # Occluders are static things seen in most frames (walls, objects at rest); a static
    # part seen in a few frames is a moving object's own footprint in the median (a slow
    # object), which must not excuse or hide that object. Only static sightings count, and
    # only they make the box: the tracker may link a static blob with moving blobs of a like
    # colour, whose boxes would stretch the "occluder" over a falling object's whole path.
    # And an occluder that is no wall must be significant (as objects are): a static speck
    # far smaller than the objects (a stain in a generated texture) hides nothing, yet every
    # sighting of an object passing it would be dropped.
    biggest = max((float(np.median(t.area)) for t in tracks if not _is_scenery(t)),
                  default=0.0)
    boxes = []
    for t in tracks:
        st = t.static
        if st.sum() < _OCCLUDER_FRAME_SHARE * dets.num_frames:
            continue
        small = float(np.median(t.area[st])) < SIGNIFICANT_AREA_SHARE * biggest
        if small and not _is_scenery(t):
            continue
        b = t.bbox[st]
        boxes.append([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    return ClipAnalysis(tracks=tracks, num_frames=dets.num_frames, height=dets.height,
                        width=dets.width, fps=float(fps), occluders=boxes)


class ContentCache:
    """A small thread-safe LRU of analyses keyed by a clip's pixels and the inputs that change
    the result (the runner scores one clip with several probe metrics in a row; hashing the
    frames is far cheaper than analysing them)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: collections.OrderedDict[bytes, ClipAnalysis] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, frames: np.ndarray, key_parts: object, compute) -> ClipAnalysis:  # noqa: ANN001
        key_hash = hashlib.blake2b(np.ascontiguousarray(frames).data, digest_size=16)
        key_hash.update(repr((frames.shape, key_parts)).encode())
        key = key_hash.digest()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        result = compute()
        with self._lock:
            self._items[key] = result
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return result


_cache = ContentCache(_CACHE_SIZE)


def analyse_clip(clip, extract: ExtractOptions | None = None,
                 track: TrackOptions | None = None) -> ClipAnalysis:
    """:func:`analyse_frames` on a :class:`~evalkit.clip.Clip`, cached by frame content.

    The runner scores one clip with several probe metrics in a row; hashing the frames (far
    cheaper than extraction) lets them share one analysis.
    """
    return _cache.get_or_compute(clip.frames, (clip.fps, extract, track),
                                 lambda: analyse_frames(clip.frames, clip.fps, extract, track))


def analysis_from_truth(truth, spec, positions_px: np.ndarray | None = None,
                        sizes_px: np.ndarray | None = None,
                        visible: np.ndarray | None = None) -> ClipAnalysis:
    """An analysis made of exact tracks: the world's ground truth (or a modified trajectory).

    Args:
        truth: :class:`evalkit.world.GroundTruth` of ``spec``.
        spec: the :class:`evalkit.world.SceneSpec`.
        positions_px, sizes_px, visible: optional ``(T, N, 2)``, ``(T, N)``, ``(T, N)`` overrides
            (as drawn by :mod:`physics_probes.perturb`); default: the truth.
    """
    from evalkit.world import PALETTE

    pos = truth.position_px if positions_px is None else positions_px
    size = np.broadcast_to(truth.size_px[None, :], pos.shape[:2]) if sizes_px is None else sizes_px
    vis = truth.visible if visible is None else visible
    h, w = spec.height, spec.width
    tracks = []
    for j, obj in enumerate(spec.objects):
        frames = np.flatnonzero(vis[:, j])
        c, s = pos[frames, j], size[frames, j]
        area = (np.pi if obj.shape == "ball" else 4.0) * s * s
        bbox = np.concatenate([c - s[:, None], c + s[:, None]], axis=1)
        touches = (bbox[:, 0] <= 0) | (bbox[:, 1] <= 0) | (bbox[:, 2] >= w) | (bbox[:, 3] >= h)
        colour = np.broadcast_to(np.asarray(PALETTE[obj.colour], dtype=np.float64), (frames.size, 3))
        tracks.append(Track(track_id=j, frames=frames, centroid=c, area=area, colour=colour,
                            bbox=bbox, touches_border=touches,
                            static=np.full(frames.size, obj.motion.value == "rest")))
    return ClipAnalysis(tracks=tuple(t for t in tracks if len(t)), num_frames=spec.frames,
                        height=h, width=w, fps=spec.fps, occluders=np.zeros((0, 4)),
                        source="truth")
