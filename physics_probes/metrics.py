"""The probes as evalkit clip metrics (one per probe, plus the combined ``physics``).

Each metric's primary value is ``passed``: 1.0 (pass), 0.0 (fail), or None when the probe gives
no verdict (``not_applicable``, ``no_object``), so the leaderboard's mean of the primary is the
pass rate over applicable clips. :meth:`ProbeMetric.summarize` reports per generator the pass
rate, the counts of each status and the median of the probe's main error.

``physics`` runs the clip's motion probe(s), ``permanence`` and ``constancy`` on one analysis
and passes only when every one that gives a verdict passes: one leaderboard column for "obeys
physics", with each part's status alongside.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, ClipMetric, MetricError, summarize_numeric

__all__ = [
    "ProbeOptions", "ProbeMetric", "FreefallMetric", "ProjectileMetric", "UniformMotionMetric",
    "BounceMetric", "PermanenceMetric", "ConstancyMetric", "PhysicsMetric", "summarize_probe",
]

_MIN_FRAMES = 3


class ProbeOptions(BaseModel):
    """Options of every probe metric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tolerance: float = Field(0.1, gt=0, description="relative tolerance of the motion probes")
    max_size_cv: float = Field(0.1, gt=0, description="constancy: largest size variation")
    max_colour_cv: float = Field(0.1, gt=0, description="constancy: largest colour variation")
    pixels_per_metre: float | None = Field(None, gt=0, description="camera scale to assume")
    g_mps2: float | None = Field(None, gt=0, description="gravity to expect (m/s^2)")
    object_size_m: float | None = Field(
        None, gt=0, description="width of the measured object in metres (gives the scale)")
    tracker: Literal["auto", "world", "footage"] = Field(
        "auto", description="world extractor, OpenCV footage tracker, or auto by clip size")
    detector: str | None = Field(
        None, description="open-vocabulary detector (hub id or folder, e.g. "
                          "google/owlv2-base-patch16-ensemble) that finds the object the prompt "
                          "names")
    object_query: str | None = Field(None, description="what the detector looks for "
                                                       "(default: the prompt)")
    detector_threshold: float = Field(0.1, ge=0, le=1, description="least detector score")


def summarize_probe(per_clip: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pass rate over applicable clips, status counts, median main error, numeric summaries."""
    statuses = [v.get("status") for v in per_clip]
    n_pass, n_fail = statuses.count("pass"), statuses.count("fail")
    applicable = n_pass + n_fail
    errors = [v["error"] for v in per_clip
              if v.get("status") in ("pass", "fail") and isinstance(v.get("error"), (int, float))]
    return {
        "pass_rate": n_pass / applicable if applicable else None,
        "n_applicable": applicable, "n_pass": n_pass, "n_fail": n_fail,
        "n_not_applicable": statuses.count("not_applicable"),
        "n_no_object": statuses.count("no_object"),
        "n_inconclusive": statuses.count("inconclusive"),
        "median_error": float(np.median(errors)) if errors else None,
        "error_key": next((v.get("error_key") for v in per_clip if v.get("error_key")), None),
        "values": summarize_numeric(per_clip),
    }


class ProbeMetric(ClipMetric):
    """Base of the probe metrics: runs probe ``probe_name`` through :func:`probe_clip`."""

    probe_name: ClassVar[str] = ""
    higher_is_better = True
    units = "pass rate (1 pass, 0 fail)"
    primary = "passed"
    # In the fingerprint of every score: a new version makes a resumed run re-score its clips
    # rather than mix verdicts of two probe builds. 2: faint blobs are no objects, occluders
    # must be significant (physics_probes.extract / analysis). 3: camera footage through the
    # OpenCV tracker, no verdict without evidence (not_applicable / inconclusive).
    version = "3"
    Options = ProbeOptions

    @classmethod
    def options_problem(cls, options: dict[str, Any]) -> str | None:
        """The one-line reason the configured detector cannot be found, or None (asked by the
        runner while planning, before any clip is decoded; reads only the model's config)."""
        o = cls.Options(**options)
        if o.detector is None:
            return None
        from evalkit.open_vocab import OpenVocabWeightsUnavailable, check_available

        try:
            check_available(o.detector)
        except OpenVocabWeightsUnavailable as exc:
            return str(exc)
        return None

    def _settings(self):
        from physics_probes.probes import ProbeSettings

        o = self.options
        return ProbeSettings(tolerance=o.tolerance, max_size_cv=o.max_size_cv,
                             max_colour_cv=o.max_colour_cv, pixels_per_metre=o.pixels_per_metre,
                             g_mps2=o.g_mps2, object_size_m=o.object_size_m, tracker=o.tracker,
                             detector=o.detector, object_query=o.object_query,
                             detector_threshold=o.detector_threshold)

    def _run(self, clip: Clip, context: ClipContext, names: Sequence[str]):
        from physics_probes.probes import probe_clip

        if clip.num_frames < _MIN_FRAMES:
            raise MetricError(f"{self.name} needs at least {_MIN_FRAMES} frames, the clip has "
                              f"{clip.num_frames}")
        from evalkit.open_vocab import OpenVocabWeightsUnavailable

        try:
            results = probe_clip(clip, context, names, self._settings())
        except (ValueError, OpenVocabWeightsUnavailable) as exc:  # bad probe name, no detector
            raise MetricError(str(exc)) from exc
        note = (clip.metadata or {}).get("timing_note")  # the runner's VFR frame times (if any)
        if note:
            for result in results:
                result.measured["timing_note"] = note
        return results

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        (result,) = self._run(clip, context, [self.probe_name])
        return result.values()

    def summarize(self, per_clip: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return summarize_probe(per_clip)


class FreefallMetric(ProbeMetric):
    name = probe_name = "freefall"
    description = "free fall: parabola fit of the height, g against the expected g"


class ProjectileMetric(ProbeMetric):
    name = probe_name = "projectile"
    description = "projectile: x linear, y a parabola with the expected g"


class UniformMotionMetric(ProbeMetric):
    name = probe_name = "uniform_motion"
    description = "uniform motion: constant velocity (fitted acceleration ~ 0)"


class BounceMetric(ProbeMetric):
    name = probe_name = "bounce"
    description = "bounce: floor contact, restitution in (0, 1], no energy gained"


class PermanenceMetric(ProbeMetric):
    name = probe_name = "permanence"
    description = "object permanence: no appearing, vanishing or teleporting in open view"


class ConstancyMetric(ProbeMetric):
    name = probe_name = "constancy"
    description = "object constancy: size and colour stable (coefficient of variation)"


class PhysicsMetric(ProbeMetric):
    """Motion probe(s) + permanence + constancy: passes when every verdict is a pass."""

    name = probe_name = "physics"
    description = "all physics probes that apply: passes when every verdict passes"

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        from physics_probes.result import FAIL, INCONCLUSIVE, NO_OBJECT, PASS
        from physics_probes.select import PROBES

        results = self._run(clip, context, PROBES)
        verdicts = [r for r in results if r.applicable]
        failed = [r.probe for r in verdicts if r.status == FAIL]
        if verdicts:
            status = FAIL if failed else PASS
        elif any(r.status == NO_OBJECT for r in results):
            status = NO_OBJECT
        elif any(r.status == INCONCLUSIVE for r in results):
            status = INCONCLUSIVE
        else:
            status = "not_applicable"
        passed = None if not verdicts else float(not failed)
        reason = "; ".join(f"{r.probe}: {r.reason}" for r in verdicts if r.status == FAIL)
        return {
            "passed": passed, "status": status, "reason": reason, "failed_probes": failed,
            "error": float(len(failed)) if verdicts else None, "error_key": "n_failed_probes",
            "n_failed_probes": len(failed), "n_verdicts": len(verdicts),
            **{f"{r.probe}_status": r.status for r in results},
            **{f"{r.probe}_passed": r.passed for r in results},
        }
