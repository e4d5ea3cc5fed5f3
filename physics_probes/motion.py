"""Motion-law probes: ``freefall``, ``projectile`` and ``uniform_motion``.

Each fits the followed object's centre against time by least squares, on the frames where the
whole object is in view and unoccluded (a centre measured on a part of the object is biased):

* ``freefall``: ``y(t) = y0 + v0 t + g t^2 / 2``; g in px/s^2 and, with a known camera scale,
  in m/s^2; passes when ``|g - g_expected| / g_expected <= tolerance``. Without a scale it
  checks the shape only: a significantly downward acceleration and a good parabola (R^2).
* ``projectile``: the same for ``y``, plus ``x`` linear in ``t``: horizontal acceleration at most
  ``tolerance`` times gravity.
* ``uniform_motion``: constant velocity: the displacement the fitted acceleration causes over the
  clip, ``|a| span^2 / 2``, is at most ``tolerance`` times the distance travelled, or the
  acceleration is not significant at :data:`UNIFORM_CONFIDENCE` (few clean points, e.g. an
  object behind an occluder most of the clip, give an acceleration that is mostly noise).
"""

from __future__ import annotations

import numpy as np

from physics_probes.analysis import ClipAnalysis
from physics_probes.fitting import PolyFit, polyfit
from physics_probes.result import FAIL, NO_OBJECT, PASS, ProbeResult
from physics_probes.select import Target
from physics_probes.track import Track

__all__ = ["probe_freefall", "probe_projectile", "probe_uniform_motion", "follow",
           "MIN_FIT_FRAMES", "MIN_R2"]

#: A fit needs the whole object in view in at least this many frames.
MIN_FIT_FRAMES = 4
#: A shape-only verdict (no known scale) needs at least this R^2 for the parabola.
MIN_R2 = 0.95
#: ``uniform_motion`` fails only on an acceleration significant at this two-sided level
#: (Student's t on the quadratic fit's standard error, n - 3 degrees of freedom).
UNIFORM_CONFIDENCE: float | None = 0.99
#: Largest RGB distance between a target's named colour and the track followed.
TARGET_COLOUR_GATE = 100.0
_CURVE_POINTS = 32


def follow(analysis: ClipAnalysis, target: Target) -> Track | None:
    """The track a motion probe follows: the object of the target's colour when known (the
    longest such track), else the moving object that travels farthest."""
    objs = analysis.objects()
    if target.colour is not None:
        col = np.asarray(target.colour)
        objs = [t for t in objs
                if np.linalg.norm(t.mean_colour - col) <= TARGET_COLOUR_GATE]
        return max(objs, key=lambda t: (len(t), t.extent_px), default=None)
    return max(objs, key=lambda t: (t.extent_px > 0.5, len(t) * t.extent_px), default=None)


def _points(analysis: ClipAnalysis, track: Track, allow_edge: bool = False
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t_s, x_px, y_px)`` of the clean sightings of ``track``."""
    ok = analysis.clean(track, allow_edge=allow_edge)
    t = track.frames[ok] / analysis.fps
    return t, track.centroid[ok, 0], track.centroid[ok, 1]


def _curve(fit: PolyFit, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tt = np.linspace(float(t.min()), float(t.max()), _CURVE_POINTS)
    return tt, fit(tt)


def _no_fit(probe: str, reason: str, error_key: str | None) -> ProbeResult:
    return ProbeResult(probe, NO_OBJECT, reason, error_key=error_key)


def _prepare(probe: str, analysis: ClipAnalysis, target: Target, error_key: str
             ) -> tuple[Track, np.ndarray, np.ndarray, np.ndarray] | ProbeResult:
    track = follow(analysis, target)
    if track is None:
        what = "no object of the expected colour" if target.colour is not None else "no object"
        return _no_fit(probe, f"{what} found", error_key)
    t, x, y = _points(analysis, track)
    if t.size < MIN_FIT_FRAMES:
        return _no_fit(probe, f"the object is wholly in view in {t.size} frames; the fit needs "
                              f"{MIN_FIT_FRAMES}", error_key)
    return track, t, x, y


def _gravity(fy: PolyFit, target: Target, tolerance: float
             ) -> tuple[dict, dict, bool, str]:
    """Measured and expected gravity, and whether it passes."""
    g_px = fy.acceleration
    measured = {"g_px_s2": g_px, "g_px_s2_stderr": fy.acceleration_stderr, "r2": fy.r2,
                "rmse_px": fy.rmse, "rel_error_g": None}
    expected: dict = {}
    expected_px = target.g_px_s2
    if target.pixels_per_metre is not None:
        measured["g_m_s2"] = g_px / target.pixels_per_metre
        measured["pixels_per_metre"] = target.pixels_per_metre
    if expected_px is not None:
        rel = abs(g_px - expected_px) / expected_px
        measured["rel_error_g"] = rel
        expected = {"g_px_s2": expected_px, "g_m_s2": target.g_mps2}
        ok = rel <= tolerance
        reason = "" if ok else (f"g = {g_px:.3g} px/s^2, expected {expected_px:.3g} "
                                f"({100 * rel:.0f}% off, tolerance {100 * tolerance:.0f}%)")
        return measured, expected, ok, reason
    # No scale: a downward acceleration, clearly above its noise, on a good parabola.
    ok = g_px > 0 and g_px > 3 * fy.acceleration_stderr and fy.r2 >= MIN_R2
    reason = "" if ok else (f"no clear downward acceleration (g = {g_px:.3g} +- "
                            f"{fy.acceleration_stderr:.2g} px/s^2, R^2 = {fy.r2:.3f})")
    return measured, expected, ok, reason


def probe_freefall(analysis: ClipAnalysis, target: Target, tolerance: float = 0.1) -> ProbeResult:
    """Fit ``y(t)`` with a parabola and compare its acceleration with gravity."""
    prep = _prepare("freefall", analysis, target, "rel_error_g")
    if isinstance(prep, ProbeResult):
        return prep
    track, t, x, y = prep
    fy = polyfit(t, y, 2)
    measured, expected, ok, reason = _gravity(fy, target, tolerance)
    measured.update(v0_px_s=float(fy.coeffs[1]), vx_px_s=float(polyfit(t, x, 1).coeffs[1]),
                    n_points=int(t.size), track_id=track.track_id)
    tt, yy = _curve(fy, t)
    plot = {"points_t_s": t, "points_x_px": x, "points_y_px": y, "fit_t_s": tt, "fit_y_px": yy}
    return ProbeResult("freefall", PASS if ok else FAIL, reason, measured, expected, plot,
                       error_key="rel_error_g")


def probe_projectile(analysis: ClipAnalysis, target: Target, tolerance: float = 0.1) -> ProbeResult:
    """``x`` linear and ``y`` a parabola with gravity's acceleration."""
    prep = _prepare("projectile", analysis, target, "rel_error_g")
    if isinstance(prep, ProbeResult):
        return prep
    track, t, x, y = prep
    fy = polyfit(t, y, 2)
    fx1, fx2 = polyfit(t, x, 1), polyfit(t, x, 2)
    measured, expected, ok, reason = _gravity(fy, target, tolerance)
    g_ref = target.g_px_s2 if target.g_px_s2 is not None else abs(fy.acceleration)
    ax = fx2.acceleration
    ax_ratio = abs(ax) / max(g_ref, 1e-9)
    measured.update(vx_px_s=float(fx1.coeffs[1]), ax_px_s2=ax, ax_over_g=ax_ratio,
                    r2_x=fx1.r2, rmse_x_px=fx1.rmse, n_points=int(t.size),
                    track_id=track.track_id)
    expected["ax_px_s2"] = 0.0
    if ax_ratio > tolerance:
        ok = False
        reason = "; ".join(filter(None, [reason, f"x accelerates at {ax:.3g} px/s^2 "
                                                  f"({100 * ax_ratio:.0f}% of g)"]))
    tt, yy = _curve(fy, t)
    plot = {"points_t_s": t, "points_x_px": x, "points_y_px": y, "fit_t_s": tt,
            "fit_y_px": yy, "fit_x_px": fx1(tt)}
    return ProbeResult("projectile", PASS if ok else FAIL, reason, measured, expected, plot,
                       error_key="rel_error_g")


def probe_uniform_motion(analysis: ClipAnalysis, target: Target,
                         tolerance: float = 0.1) -> ProbeResult:
    """Constant velocity: the fitted acceleration moves the object little over the clip."""
    prep = _prepare("uniform_motion", analysis, target, "rel_accel")
    if isinstance(prep, ProbeResult):
        return prep
    track, t, x, y = prep
    fx1, fy1 = polyfit(t, x, 1), polyfit(t, y, 1)
    fx2, fy2 = polyfit(t, x, 2), polyfit(t, y, 2)
    span = float(t.max() - t.min())
    accel = float(np.hypot(fx2.acceleration, fy2.acceleration))
    speed = float(np.hypot(fx1.coeffs[1], fy1.coeffs[1]))
    # Scale: the distance travelled, but never less than the object's own size, so that a
    # nearly still object is not failed for sub-pixel jitter.
    travel = max(speed * span, track.size_px)
    rel_accel = 0.5 * accel * span**2 / travel
    rmse = float(np.sqrt((fx1.rmse**2 + fy1.rmse**2)))
    measured = {"vx_px_s": float(fx1.coeffs[1]), "vy_px_s": float(fy1.coeffs[1]),
                "speed_px_s": speed, "accel_px_s2": accel, "rel_accel": rel_accel,
                "rmse_px": rmse, "n_points": int(t.size), "track_id": track.track_id}
    if target.pixels_per_metre is not None:
        measured["speed_m_s"] = speed / target.pixels_per_metre
        measured["accel_m_s2"] = accel / target.pixels_per_metre
    accel_stderr = float(np.hypot(fx2.acceleration_stderr, fy2.acceleration_stderr))
    measured["accel_px_s2_stderr"] = accel_stderr
    significant = True
    if UNIFORM_CONFIDENCE is not None and t.size > 3:
        from scipy.stats import t as student_t

        critical = float(student_t.ppf(0.5 + UNIFORM_CONFIDENCE / 2, t.size - 3))
        significant = accel > critical * accel_stderr
    ok = rel_accel <= tolerance or not significant
    reason = "" if ok else (f"accelerates at {accel:.3g} +- {accel_stderr:.2g} px/s^2: "
                            f"{100 * rel_accel:.0f}% of the distance travelled over the clip "
                            f"(tolerance {100 * tolerance:.0f}%)")
    tt = np.linspace(float(t.min()), float(t.max()), _CURVE_POINTS)
    plot = {"points_t_s": t, "points_x_px": x, "points_y_px": y, "fit_t_s": tt,
            "fit_x_px": fx1(tt), "fit_y_px": fy1(tt)}
    return ProbeResult("uniform_motion", PASS if ok else FAIL, reason, measured,
                       {"accel_px_s2": 0.0}, plot, error_key="rel_accel")
