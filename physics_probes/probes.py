"""Run probes on a clip: plan (which apply), analyse (once), then each probe.

:func:`probe_clip` is the one entry point the metrics and the CLI use::

    results = probe_clip(clip, ClipContext(prompt="a red ball falls from the top"))
    {r.probe: r.status for r in results}   # {'freefall': 'pass', 'permanence': ..., ...}
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

from physics_probes.analysis import ClipAnalysis, analyse_clip
from physics_probes.bounce import probe_bounce
from physics_probes.constancy import probe_constancy
from physics_probes.motion import probe_freefall, probe_projectile, probe_uniform_motion
from physics_probes.permanence import probe_permanence
from physics_probes.result import INCONCLUSIVE, NO_OBJECT, NOT_APPLICABLE, ProbeResult
from physics_probes.select import MOTION_PROBES, PROBES, ClipPlan, Target, plan_clip

__all__ = ["ProbeSettings", "probe_clip", "run_probe", "choose_tracker", "detect_object",
           "ERROR_KEYS",
           "MIN_FRAMES", "TRACKERS", "WORLD_MAX_SIDE"]

#: A probe needs this many frames for any verdict.
MIN_FRAMES = 3
TRACKERS = ("auto", "world", "footage")
#: ``auto`` reads clips up to this long side with the world extractor (world renders and the
#: reference generator's clips); larger clips are camera-like footage.
WORLD_MAX_SIDE = 128

_MOTION_FNS = {"freefall": probe_freefall, "projectile": probe_projectile,
               "uniform_motion": probe_uniform_motion, "bounce": probe_bounce}
#: The main error value of each probe (the key summaries take the median of).
ERROR_KEYS = {"freefall": "rel_error_g", "projectile": "rel_error_g", "uniform_motion": "rel_accel",
              "bounce": "rel_error_g", "permanence": "n_violations", "constancy": "size_cv"}


@dataclasses.dataclass(frozen=True)
class ProbeSettings:
    """Tolerances and overrides shared by the probes.

    Attributes:
        tolerance: relative tolerance of the motion probes (g error, acceleration share, extra
            restitution).
        max_size_cv, max_colour_cv: constancy tolerances.
        pixels_per_metre: camera scale to assume (default: the scene's, else unknown).
        g_mps2: gravity to expect (default: the scene's, else 9.81 when the scale is known).
        object_box, object_frame: the object to measure, as a box ``(x, y, w, h)`` in the
            pixels of frame ``object_frame`` (default: chosen by colour or by its motion).
        object_size_m: the measured object's width in metres (gives the camera scale).
        tracker: ``auto`` (world extractor for world clips and clips of at most
            :data:`WORLD_MAX_SIDE` pixels, else the footage tracker), ``world`` or ``footage``.
        detector: an open-vocabulary detector (hub id or folder, :mod:`evalkit.open_vocab`)
            that finds the object the prompt (or ``object_query``) names; its best box in a few
            key frames names the object to measure (:mod:`physics_probes.grounding`).
        object_query: what to look for (default: the prompt).
        detector_threshold: least detector score.
        grounding: the detector's answer, once found (set by :func:`probe_clip`).
    """

    tolerance: float = 0.1
    max_size_cv: float = 0.1
    max_colour_cv: float = 0.1
    pixels_per_metre: float | None = None
    g_mps2: float | None = None
    object_box: tuple[float, float, float, float] | None = None
    object_frame: int = 0
    object_size_m: float | None = None
    tracker: str = "auto"
    detector: str | None = None
    object_query: str | None = None
    detector_threshold: float = 0.1
    grounding: Any = None


def run_probe(name: str, analysis: ClipAnalysis, plan: ClipPlan,
              settings: ProbeSettings | None = None) -> ProbeResult:
    """One probe on an analysed clip (``not_applicable`` when the plan says it does not apply)."""
    settings = settings or ProbeSettings()
    if name not in PROBES:
        raise ValueError(f"unknown probe {name!r}; choose from {', '.join(PROBES)}")
    if not plan.applies(name):
        why = (f"the clip's motion is not {name}" if name in MOTION_PROBES
               else f"the suite asks for the {plan.explicit} probe")
        if name in MOTION_PROBES and plan.source == "none":
            why = "no scene, prompt or explicit probe says how the object should move"
        return ProbeResult(name, NOT_APPLICABLE, why, error_key=ERROR_KEYS[name])
    if name in MOTION_PROBES:
        target: Target = plan.motion_targets[name]
        grounding = settings.grounding
        if grounding is not None and settings.object_box is None:
            if grounding.box is None:
                return ProbeResult(name, NO_OBJECT, f"the detector found no "
                                   f"{grounding.query!r} (score >= "
                                   f"{settings.detector_threshold:g})",
                                   {"detection": grounding.record()},
                                   error_key=ERROR_KEYS[name])
            target = dataclasses.replace(target, box=grounding.box, box_frame=grounding.frame,
                                         box_source="detector")
        if settings.object_box is not None or settings.object_size_m is not None:
            target = dataclasses.replace(
                target, box=settings.object_box or target.box,
                box_frame=settings.object_frame if settings.object_box else target.box_frame,
                box_source="box" if settings.object_box else target.box_source,
                object_size_m=settings.object_size_m)
        result = _MOTION_FNS[name](analysis, target, settings.tolerance)
        if grounding is not None and settings.object_box is None:
            result.measured["detection"] = grounding.record()
        return result
    if analysis.source == "footage":
        analysis = _name_objects(analysis, settings)
    if name == "permanence":
        return probe_permanence(analysis)
    return probe_constancy(analysis, settings.max_size_cv, settings.max_colour_cv)


def probe_clip(clip: Any, context: Any = None, names: Sequence[str] | None = None,
               settings: ProbeSettings | None = None,
               analysis: ClipAnalysis | None = None) -> list[ProbeResult]:
    """Run probes on an evalkit ``Clip``.

    Args:
        clip: the clip.
        context: its ``ClipContext`` (prompt, scene, explicit probe); None for none.
        names: probes to run; default: every probe, in :data:`PROBES` order.
        settings: tolerances and overrides.
        analysis: a precomputed analysis (e.g. from ground truth); default: from the pixels.

    Raises:
        ValueError: unknown probe name (in ``names`` or the context).
    """
    settings = settings or ProbeSettings()
    plan = plan_clip(clip, context, pixels_per_metre=settings.pixels_per_metre,
                     g_mps2=settings.g_mps2)
    if clip.num_frames < MIN_FRAMES:
        why = f"the clip has {clip.num_frames} frame(s); the probes need at least {MIN_FRAMES}"
        return [ProbeResult(n, INCONCLUSIVE, why, error_key=ERROR_KEYS[n])
                for n in (names or PROBES)]
    if settings.detector is not None and settings.grounding is None \
            and settings.object_box is None:
        settings = dataclasses.replace(settings, grounding=_cached_grounding(clip, context,
                                                                             settings))
    if analysis is None:
        if choose_tracker(clip, plan, settings.tracker) == "footage":
            from physics_probes.footage import analyse_clip_footage

            analysis = analyse_clip_footage(clip)
        else:
            analysis = analyse_clip(clip)
    analysis = analysis.with_occluders(plan.occluders_px)
    return [run_probe(n, analysis, plan, settings) for n in (names or PROBES)]


def _name_objects(analysis: ClipAnalysis, settings: ProbeSettings) -> ClipAnalysis:
    """Footage: mark the track at the user's box or the detector's as the named object."""
    from physics_probes.motion import follow

    box, frame = settings.object_box, settings.object_frame
    if box is None and settings.grounding is not None and settings.grounding.box is not None:
        box, frame = settings.grounding.box, settings.grounding.frame
    if box is None:
        return analysis
    track = follow(analysis, Target("permanence", box=box, box_frame=frame))
    return analysis.with_named(() if track is None else (track.track_id,))


_groundings: collections.OrderedDict[bytes, Any] = collections.OrderedDict()
_GROUNDING_CACHE = 8


def _cached_grounding(clip: Any, context: Any, settings: ProbeSettings) -> Any:
    """:func:`detect_object` on an in-memory clip, cached by frame content, query and detector:
    the runner scores one clip with several probe metrics, and detection costs seconds."""
    key = hashlib.blake2b(clip.frames.data, digest_size=16)
    key.update(repr((clip.frames.shape, settings.detector, settings.object_query,
                     settings.detector_threshold, getattr(context, "prompt", ""))).encode())
    digest = key.digest()
    if digest in _groundings:
        _groundings.move_to_end(digest)
        return _groundings[digest]
    found = detect_object(settings, context, lambda idx: clip.frames[idx], clip.num_frames)
    _groundings[digest] = found
    while len(_groundings) > _GROUNDING_CACHE:
        _groundings.popitem(last=False)
    return found


def detect_object(settings: ProbeSettings, context: Any, read_frames: Any,
                  num_frames: int) -> Any:
    """Run the settings' detector on the key frames (``read_frames(indices) -> (K, H, W, 3)``)
    for ``object_query`` or the context's prompt; returns a
    :class:`~physics_probes.grounding.Grounding`.

    Raises:
        ValueError: no query (no ``object_query`` and no prompt).
    """
    from evalkit.open_vocab import OpenVocabDetector
    from physics_probes.grounding import ground_object, key_frames

    query = settings.object_query or (getattr(context, "prompt", "") or "").strip()
    if not query:
        raise ValueError("the detector needs a prompt or object_query naming the object")
    detector = OpenVocabDetector.load(settings.detector)
    idx = key_frames(num_frames)
    return ground_object(read_frames(idx), idx, query, detector, settings.detector_threshold)


def choose_tracker(clip: Any, plan: ClipPlan, tracker: str = "auto") -> str:
    """``world`` or ``footage``: which tracker reads ``clip`` (see :class:`ProbeSettings`)."""
    if tracker not in TRACKERS:
        raise ValueError(f"unknown tracker {tracker!r}; choose from {', '.join(TRACKERS)}")
    if tracker != "auto":
        return tracker
    if plan.source == "scene" or max(clip.height, clip.width) <= WORLD_MAX_SIDE:
        return "world"
    return "footage"
