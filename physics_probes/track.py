"""Tracking: link per-frame detections into object tracks by optimal assignment.

Frame by frame, every live track predicts where its object is now (constant velocity from its
last two sightings) and the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) pairs
tracks with detections at least total cost, where the cost adds the distance to the prediction
(in object sizes) and the colour difference. Pairs whose colours differ by more than
:attr:`TrackOptions.colour_gate` are forbidden: objects in a clip are told apart by colour far
more reliably than by position. The position gate is wide on purpose (half the frame diagonal),
so that an object that jumps is still linked to its own track and the permanence probe can call
the jump a teleport, and a track may skip frames (an object behind a wall) and resume.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import linear_sum_assignment

from physics_probes.extract import Detections

__all__ = ["TrackOptions", "Track", "link_tracks"]

_FORBIDDEN = 1e9


@dataclasses.dataclass(frozen=True)
class TrackOptions:
    """Knobs of :func:`link_tracks`.

    Attributes:
        colour_gate: largest RGB distance between a track's colour and a detection it takes.
        position_gate: largest jump as a share of the frame diagonal.
        colour_scale: RGB distance that costs as much as one object size of displacement.
        max_gap: a track not seen for more than this many frames ends (None: it may resume
            after any gap, as an object behind a wall does in the world's scenes).
        size_gate: largest jump from the prediction in the track's object sizes (plus 2 px);
            None: only ``position_gate`` limits it.
    """

    colour_gate: float = 80.0
    position_gate: float = 0.5
    colour_scale: float = 30.0
    max_gap: int | None = None
    size_gate: float | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class Track:
    """One object followed through the clip; ``K`` sightings in increasing frame order.

    Attributes:
        track_id: index of the track in the clip.
        frames: ``(K,)`` int frame indices.
        centroid: ``(K, 2)`` float ``(x, y)`` pixels.
        area: ``(K,)`` float pixels.
        colour: ``(K, 3)`` float RGB.
        bbox: ``(K, 4)`` float ``(x0, y0, x1, y1)``.
        touches_border: ``(K,)`` bool.
        static: ``(K,)`` bool, sightings found by colour alone (unchanged from the median).
        object_width: ``(K,)`` sub-pixel object width per sighting, or None (see ``Detections``).
    """

    track_id: int
    frames: np.ndarray
    centroid: np.ndarray
    area: np.ndarray
    colour: np.ndarray
    bbox: np.ndarray
    touches_border: np.ndarray
    static: np.ndarray
    object_width: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def mean_colour(self) -> np.ndarray:
        """``(3,)`` median colour over the sightings."""
        return np.median(self.colour, axis=0)

    @property
    def size_px(self) -> float:
        """Typical linear size: square root of the median area (pixels)."""
        return float(np.sqrt(np.median(self.area)))

    @property
    def extent_px(self) -> float:
        """Largest distance of any sighting from the first one (pixels): how far it travels."""
        if len(self) < 2:
            return 0.0
        return float(np.max(np.linalg.norm(self.centroid - self.centroid[0], axis=1)))


def link_tracks(dets: Detections, options: TrackOptions | None = None) -> list[Track]:
    """Link ``dets`` into tracks (each detection belongs to exactly one track)."""
    options = options or TrackOptions()
    gate = options.position_gate * float(np.hypot(dets.height, dets.width))
    owner = np.full(len(dets), -1, dtype=np.int64)
    # Per track: indices of its detections so far (in frame order).
    members: list[list[int]] = []
    for t in range(dets.num_frames):
        current = dets.in_frame(t)
        if current.size == 0:
            continue
        live = list(range(len(members)))
        if options.max_gap is not None:
            live = [k for k in live if t - dets.frame[members[k][-1]] <= options.max_gap + 1]
        pairs: list[tuple[int, int]] = []
        if live:
            cost = _cost(dets, members, live, current, t, gate, options)
            rows, cols = linear_sum_assignment(cost)
            pairs = [(live[r], int(current[c])) for r, c in zip(rows, cols)
                     if cost[r, c] < _FORBIDDEN]
        taken = set()
        for k, i in pairs:
            members[k].append(i)
            owner[i] = k
            taken.add(i)
        for i in current:
            if int(i) not in taken:
                owner[i] = len(members)
                members.append([int(i)])
    return [_make_track(dets, k, np.asarray(m)) for k, m in enumerate(members)]


def _predict(dets: Detections, member: list[int], t: int) -> np.ndarray:
    """Where a track's object should be at frame ``t`` (constant velocity), ``(2,)``."""
    last = member[-1]
    if len(member) < 2:
        return dets.centroid[last]
    prev = member[-2]
    dt = dets.frame[last] - dets.frame[prev]
    velocity = (dets.centroid[last] - dets.centroid[prev]) / max(dt, 1)
    return dets.centroid[last] + velocity * (t - dets.frame[last])


def _cost(dets: Detections, members: list[list[int]], live: list[int], current: np.ndarray,
          t: int, gate: float, options: TrackOptions) -> np.ndarray:
    """``(len(live), len(current))`` assignment cost with forbidden pairs at :data:`_FORBIDDEN`."""
    pred = np.stack([_predict(dets, members[k], t) for k in live])
    last = np.array([members[k][-1] for k in live])
    colour = dets.colour[last]
    size = np.sqrt(np.maximum(dets.area[last], 1.0))
    dist = np.linalg.norm(pred[:, None, :] - dets.centroid[current][None, :, :], axis=2)
    dcol = np.linalg.norm(colour[:, None, :] - dets.colour[current][None, :, :], axis=2)
    # A track already holding a detection in this frame cannot take another.
    busy = (dets.frame[last] >= t)[:, None]
    cost = dist / size[:, None] + dcol / options.colour_scale
    bad = busy | (dcol > options.colour_gate) | (dist > gate)
    if options.size_gate is not None:
        bad |= dist > options.size_gate * size[:, None] + 2.0
    return np.where(bad, _FORBIDDEN, cost)


def _make_track(dets: Detections, track_id: int, idx: np.ndarray) -> Track:
    return Track(track_id=track_id, frames=dets.frame[idx], centroid=dets.centroid[idx],
                 area=dets.area[idx], colour=dets.colour[idx], bbox=dets.bbox[idx],
                 touches_border=dets.touches_border[idx], static=dets.static[idx],
                 object_width=None if dets.object_width is None else dets.object_width[idx])
