"""The ``permanence`` probe: objects must not appear, vanish or jump without a cause.

Over the significant object tracks (:meth:`ClipAnalysis.objects`) it counts:

* **births** after the first frame and **deaths** before the last one that happen in open view:
  away from every occluder and from every other object seen in the frame the object is
  missing from (it may be hidden behind, or merged into, that one), and not at a frame edge the object is crossing (its extent, from
  its centroid and typical area, extrapolated one or two frames on its velocity, does not
  reach the edge);
* **gaps** in open view: the track is missing for some frames while its interpolated path stays
  in view and clear of occluders and of other objects (it vanished and came back);
* **teleports**: a step between two sightings more than :data:`JUMP_FACTOR` times longer than
  the steps before and after it, and longer than the object's size (a bounce reverses the
  velocity but keeps the step length, so it is no jump).

Every such event is a violation and changes the object count in open view; the probe passes
when there are none. On camera footage (the OpenCV tracker sees only what moves) a track that
starts or ends while its object is nearly still is an object set in motion or come to rest,
and gaps up to :data:`FOOTAGE_MAX_GAP_S` are the mask flickering; objects that pop in or vanish
while moving, and jumps, are still violations.
"""

from __future__ import annotations

import numpy as np

from physics_probes.analysis import ClipAnalysis
from physics_probes.result import FAIL, INCONCLUSIVE, NO_OBJECT, PASS, ProbeResult
from physics_probes.track import Track

__all__ = ["probe_permanence", "JUMP_FACTOR"]

#: A step this many times longer than its neighbours is a teleport.
JUMP_FACTOR = 2.0
#: Share of the object's size added to one step of motion for "near the edge": an object this
#: close to an edge may be out of view (or too little of it to detect) by the next frame.
EDGE_SIZE_SHARE = 0.25
#: A track end is excused when its object, extrapolated one or two frames on, comes this close
#: (pixels, plus :data:`EDGE_SIZE_SHARE` of its size) to the frame edge.
EDGE_SLACK_PX = 0.5
#: The reason given on footage without a named object.
FOOTAGE_UNNAMED = ("camera footage: background subtraction splits and merges objects, so "
                   "only a named object is judged; name it with --object X,Y,W,H@FRAME or a "
                   "detector")
#: Footage: an object moving less than this share of its size per frame is still (see
#: :func:`_footage_end_excused`).
FOOTAGE_STILL_SHARE = 0.25
#: Footage: gaps up to this many seconds are the mask flickering (partial occlusion, a
#: background of the object's colour), not an object vanishing.
FOOTAGE_MAX_GAP_S = 0.2
#: Radius of a disc per square root of its area (1/sqrt(pi)); a square's half side is 0.5.
_HALF_EXTENT_PER_SQRT_AREA = 0.5642


def _speed(track: Track, at: int) -> float:
    """Step length (px per frame) next to sighting ``at``."""
    if len(track) < 2:
        return 0.0
    k = min(max(at, 1), len(track) - 1)
    gap = max(int(track.frames[k] - track.frames[k - 1]), 1)
    return float(np.linalg.norm(track.centroid[k] - track.centroid[k - 1])) / gap


def _excused(analysis: ClipAnalysis, bbox: np.ndarray, margin: float) -> bool:
    return bool(analysis.near_edge(bbox, margin)[0] or analysis.near_occluder(bbox, margin)[0])


def _footage_end_excused(analysis: ClipAnalysis, track: Track, size: float,
                         first: bool) -> bool:
    """On camera footage, a track also ends where its object is (nearly) still: background
    subtraction sees only what moves, so an object set in motion (a ball let go) starts a
    track and one that comes to rest ends it. Still: its step next to that end is under
    :data:`FOOTAGE_STILL_SHARE` of its size per frame. An object popping into view or vanishing
    while it moves is not excused."""
    if analysis.source != "footage" or len(track) < 2:
        return False
    k = 1 if first else len(track) - 1
    return _speed(track, k) < FOOTAGE_STILL_SHARE * size


def _end_excused(analysis: ClipAnalysis, track: Track, size: float, first: bool) -> bool:
    """Whether a track's birth (``first``) or death has a cause: next to an occluder, or at a
    frame edge the object is crossing. The object's whole extent (its centroid +- the radius
    of its typical area) must reach within :data:`EDGE_SLACK_PX` of an edge at that end, or
    one or two frames beyond it on its current velocity (before the birth, after the death).
    An object well inside the view and not heading out of it has no cause to appear or
    disappear, however close to an edge it moves (e.g. falling along one).
    """
    k = 0 if first else len(track) - 1
    box = track.bbox[k]
    margin = EDGE_SIZE_SHARE * size + 1.5 * _speed(track, 1 if first else k) + 1.0
    if analysis.near_occluder(box[None], margin)[0]:
        return True
    # Hidden behind (or merged into) another object seen in the frame it is missing from.
    missing = track.frames[k] + (-1 if first else 1)
    if analysis.near_other_object(track, np.array([missing]), box[None], margin)[0]:
        return True
    if len(track) < 2:
        # Nothing to extrapolate from: judge by the distance to the edge alone.
        return bool(analysis.near_edge(box[None], margin)[0])
    # The object's whole extent about its centroid, from its typical (uncut) area: the
    # thresholded mask box of a compressed clip bleeds a pixel or more beyond the object, so
    # "the mask touches the border" would excuse an object that is wholly in view.
    half = _HALF_EXTENT_PER_SQRT_AREA * np.sqrt(np.quantile(track.area, 0.75))
    box = np.concatenate([track.centroid[k] - half, track.centroid[k] + half])
    if analysis.near_edge(box[None], EDGE_SLACK_PX)[0]:
        return True
    j = 1 if first else k - 1
    gap = max(abs(int(track.frames[k] - track.frames[j])), 1)
    step = (track.centroid[k] - track.centroid[j]) / gap  # per frame, pointing out of the track
    slack = EDGE_SLACK_PX
    shifts = np.array([1.0, 2.0])[:, None] * step[None, :]
    boxes = box[None, :] + np.concatenate([shifts, shifts], axis=1)
    if analysis.near_edge(boxes, slack).any():
        return True
    return bool(analysis.near_occluder(boxes, 1.0).any())


def _jumps(track: Track, size: float, clean: np.ndarray) -> list[tuple[int, float]]:
    """``(sighting index, step px)`` of teleports in ``track``, judged only between clean
    sightings (a centroid measured on a part of the object, cut by an edge or a wall, moves
    by up to half the object's size without any jump)."""
    if len(track) < 3:
        return []
    gaps = np.maximum(np.diff(track.frames), 1)
    step = np.linalg.norm(np.diff(track.centroid, axis=0), axis=1)
    per_frame = step / gaps
    out = []
    for k in range(step.size):
        neighbours = [per_frame[j] for j in (k - 1, k + 1) if 0 <= j < step.size]
        ref = max(neighbours) if neighbours else 0.0
        # Over a gap the object may move gaps x its speed: compare like with like.
        allowed = JUMP_FACTOR * ref * gaps[k] + 0.5 * size
        if step[k] > allowed and clean[k] and clean[k + 1]:
            out.append((k + 1, float(step[k])))
    return out


def probe_permanence(analysis: ClipAnalysis) -> ProbeResult:
    """Count births, deaths and gaps in open view and teleports; pass when there are none."""
    objs = analysis.steady_objects()
    measured: dict = {"n_tracks": len(objs)}
    if not objs:
        if analysis.source == "footage":
            return ProbeResult("permanence", INCONCLUSIVE, FOOTAGE_UNNAMED, measured,
                               error_key="n_violations")
        return ProbeResult("permanence", NO_OBJECT, "no object found", measured,
                           error_key="n_violations")
    last = analysis.num_frames - 1
    events: list[str] = []
    births = deaths = gaps_open = 0
    teleports: list[float] = []
    for tr in objs:
        size = tr.size_px
        if tr.frames[0] > 0 and not _end_excused(analysis, tr, size, first=True) \
                and not _footage_end_excused(analysis, tr, size, first=True):
            births += 1
            events.append(f"object {tr.track_id} appears at frame {tr.frames[0]} in open view "
                          f"at ({tr.centroid[0, 0]:.1f}, {tr.centroid[0, 1]:.1f}) px")
        if tr.frames[-1] < last and not _end_excused(analysis, tr, size, first=False) \
                and not _footage_end_excused(analysis, tr, size, first=False):
            deaths += 1
            events.append(f"object {tr.track_id} vanishes after frame {tr.frames[-1]} in open "
                          f"view at ({tr.centroid[-1, 0]:.1f}, {tr.centroid[-1, 1]:.1f}) px")
        for k in np.flatnonzero(np.diff(tr.frames) > 1):
            missing = int(tr.frames[k + 1] - tr.frames[k] - 1)
            if analysis.source == "footage" and \
                    missing <= max(1, round(FOOTAGE_MAX_GAP_S * analysis.fps)):
                continue
            # Path during the gap, interpolated; excused if any of it is at an edge or occluder.
            w = np.linspace(0.0, 1.0, missing + 2)[:, None]
            boxes = tr.bbox[k][None] * (1 - w) + tr.bbox[k + 1][None] * w
            margin = EDGE_SIZE_SHARE * size + 1.5 * _speed(tr, k + 1) + 1.0
            inner = np.arange(tr.frames[k] + 1, tr.frames[k + 1])
            if not (analysis.near_edge(boxes, margin).any()
                    or analysis.near_occluder(boxes, margin).any()
                    or analysis.near_other_object(tr, inner, boxes[1:-1], margin).any()):
                gaps_open += 1
                events.append(f"object {tr.track_id} is missing for {missing} frame(s) after "
                              f"frame {tr.frames[k]} in open view")
        for k, step in _jumps(tr, size, analysis.clean(tr)):
            teleports.append(step)
            events.append(f"object {tr.track_id} jumps {step:.1f} px at frame {tr.frames[k]}")
    counts = np.zeros(analysis.num_frames, dtype=np.int64)
    for tr in objs:
        counts[tr.frames] += 1
    n_violations = births + deaths + gaps_open + len(teleports)
    measured.update(n_births_open=births, n_deaths_open=deaths, n_gaps_open=gaps_open,
                    n_teleports=len(teleports), max_jump_px=max(teleports, default=0.0),
                    n_violations=n_violations, objects_per_frame=counts,
                    n_count_changes=int(np.count_nonzero(np.diff(counts))), events=events)
    status = FAIL if n_violations else PASS
    return ProbeResult("permanence", status, "; ".join(events[:3]), measured,
                       {"n_violations": 0}, {"objects_per_frame": counts},
                       error_key="n_violations")
