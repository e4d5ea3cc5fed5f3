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
from physics_probes.result import (
    FAIL,
    INCONCLUSIVE,
    NO_OBJECT,
    NOT_APPLICABLE,
    PASS,
    ProbeResult,
)
from physics_probes.select import DEFAULT_G_MPS2, Target
from physics_probes.track import Track

__all__ = ["probe_freefall", "probe_projectile", "probe_uniform_motion", "follow", "choose",
           "fall_evidence", "MIN_FIT_FRAMES", "MIN_R2"]

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
#: A fall moves the object down by at least this many of its own sizes ...
MIN_DROP_SIZES = 1.5
#: ... and this share of the frame height.
MIN_DROP_SHARE = 0.05
#: A motion probe that must find its object by its motion needs this many points of it.
MIN_EVIDENCE_POINTS = 8
#: ... lying on the fitted curve within this share of the object's size (RMS): the centre of
#: one tracked object wobbles far less than its size; a track jumping between things does not.
MAX_RMSE_SIZE_SHARE = 0.25
#: The fitted points cover at least this share of the frames between the first and last.
MIN_COVERAGE = 0.6
#: A falling object keeps its size: its smaller extent (3-sighting mean) varies at most this
#: factor over the fall.
MAX_SIZE_RATIO = 1.5
#: Scale-free gravity check: were the acceleration Earth's g, the object would be at most
#: this many metres across (a walker drifting down a path over seconds "falls" at a few px/s^2,
#: which would make him tens of metres tall; a dropped hammer on the Moon comes to ~2 m).
MAX_IMPLIED_SIZE_M = 3.0
#: ... and at least this many (a track that jumps between people "bounces" at 10^4-10^5 px/s^2,
#: which would make a 25 px object a few millimetres wide).
MIN_IMPLIED_SIZE_M = 0.01
#: ``freefall``: the object moves at least this share as far down as sideways.
MIN_VERTICAL_SHARE = 0.5
#: Footage fits drop points this many robust standard deviations off the curve ...
OUTLIER_SIGMA = 4.0
#: ... but never more than this share of them.
MAX_OUTLIER_SHARE = 0.2
#: Without a scale, the acceleration must point within this angle of straight down ...
MAX_GRAVITY_ANGLE_DEG = 20.0
#: ... and its first and second halves of the fall agree within this share (or their noise).
MAX_G_DRIFT = 0.35
ERROR_KEY_OF = {"freefall": "rel_error_g", "projectile": "rel_error_g", "bounce": "rel_error_g",
                "uniform_motion": "rel_accel"}


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _by_box(analysis: ClipAnalysis, box: tuple[float, float, float, float], frame: int
            ) -> Track | None:
    """The track whose box at ``frame`` (or its nearest sighting within a second) overlaps the
    user's box ``(x, y, w, h)`` (in that frame's pixels) best."""
    x, y, w, h = box
    want = np.array([x, y, x + w, y + h], dtype=np.float64)
    window = max(1, int(round(analysis.fps)))
    best, best_score = None, 0.0
    for tr in analysis.objects():
        k = int(np.argmin(np.abs(tr.frames - frame)))
        if abs(int(tr.frames[k]) - frame) > window:
            continue
        got = analysis.frame_box(int(tr.frames[k]), tr.bbox[k])
        score = _iou(got, want)
        cx, cy = 0.5 * (got[0] + got[2]), 0.5 * (got[1] + got[3])
        if want[0] <= cx <= want[2] and want[1] <= cy <= want[3]:
            score += 0.5  # its centre inside the user's box
        if score > best_score:
            best, best_score = tr, score
    return best


def fall_evidence(analysis: ClipAnalysis, track: Track, probe: str) -> dict:
    """How well ``track`` shows the motion of a gravity probe (``freefall``, ``projectile``,
    ``bounce``), on the points the probe would fit (:func:`_fit_points`).

    Returns ``{"ok": bool, "why": str, "down_px", "dx_px", "dy_px", "score"}``. ``ok`` needs
    every one of: the object moves down by at least :data:`MIN_DROP_SIZES` of its sizes and
    :data:`MIN_DROP_SHARE` of the frame height; it keeps its size (:data:`MAX_SIZE_RATIO`: a car
    or a walker coming towards the camera grows, a falling ball does not); (``freefall``,
    ``bounce``) it moves at least :data:`MIN_VERTICAL_SHARE` as far down as sideways;
    (``bounce``) it turns back up at a floor contact; (``freefall``, ``projectile``) its height
    is a parabola (R^2 >= :data:`MIN_R2`) with a downward acceleration clear of its noise,
    pointing down (:data:`MAX_GRAVITY_ANGLE_DEG`, ``freefall``) and the same over the fall
    (:data:`MAX_G_DRIFT`), and fast enough for gravity given the object's size
    (:func:`implied_size_m` between :data:`MIN_IMPLIED_SIZE_M` and :data:`MAX_IMPLIED_SIZE_M`). A car crossing the view, lane markings passing a dashcam, a person
    walking (bobbing), a still scene or a camera pan shows none of that.
    """
    t, x, y = _fit_points(analysis, track, probe)
    out = {"ok": False, "why": "", "down_px": 0.0, "dx_px": 0.0, "dy_px": 0.0, "score": 0.0}
    if t.size < MIN_EVIDENCE_POINTS:
        out["why"] = f"is measurable in {t.size} frames"
        return out
    down = float(np.max(y - np.minimum.accumulate(y)))
    dx, dy = float(np.ptp(x)), float(np.ptp(y))
    out.update(down_px=down, dx_px=dx, dy_px=dy, score=down * t.size)
    times = analysis.times_s
    in_span = int(np.count_nonzero((times >= t.min()) & (times <= t.max())))
    if t.size < MIN_COVERAGE * in_span:
        out["why"] = (f"is measured in only {t.size} of the {in_span} frames of its path "
                      "(a track pieced together from different things)")
        return out
    need = max(MIN_DROP_SIZES * track.size_px, MIN_DROP_SHARE * analysis.height)
    if down < need:
        out["why"] = f"moves down {down:.0f} px (a fall needs {need:.0f})"
        return out
    ok = analysis.clean(track)
    ext = np.minimum(track.bbox[ok, 2] - track.bbox[ok, 0], track.bbox[ok, 3] - track.bbox[ok, 1])
    if ext.size >= 3:
        smooth = np.convolve(ext, np.ones(3) / 3, mode="valid")
        ratio = float(smooth.max() / max(smooth.min(), 1e-9))
        if ratio > MAX_SIZE_RATIO:
            out["why"] = f"changes size x{ratio:.1f} (it comes towards or goes from the camera)"
            return out
    if probe in ("freefall", "bounce") and dx > dy / MIN_VERTICAL_SHARE:
        out["why"] = f"moves sideways ({dx:.0f} px) more than down ({dy:.0f} px)"
        return out
    if probe == "bounce":
        from physics_probes.bounce import find_contacts

        if find_contacts(y, max(0.5, 0.1 * track.size_px)).size == 0:
            out["why"] = "never turns back up (no floor contact)"
            return out
    if probe in ("freefall", "projectile"):
        fy = _robust_fit(t, y, 2, analysis)[0]
        if not (fy.acceleration > 0 and fy.acceleration > 3 * fy.acceleration_stderr
                and fy.r2 >= MIN_R2):
            out["why"] = (f"shows no clear downward acceleration ({fy.acceleration:.3g} +- "
                          f"{fy.acceleration_stderr:.2g} px/s^2, R^2 {fy.r2:.2f})")
            return out
        if fy.rmse > MAX_RMSE_SIZE_SHARE * track.size_px:
            out["why"] = (f"strays {fy.rmse:.1f} px from a parabola (over "
                          f"{MAX_RMSE_SIZE_SHARE:.0%} of its {track.size_px:.0f} px size)")
            return out
        implied = implied_size_m(track.size_px, fy.acceleration)
        if not MIN_IMPLIED_SIZE_M <= implied <= MAX_IMPLIED_SIZE_M:
            out["why"] = (f"accelerates too {'slowly' if implied > 1 else 'fast'} for its "
                          f"size: under Earth's gravity it would be {implied:.3g} m across")
            return out
        shape = _shape_checks(t, x, y, fy, analysis)
        if probe == "freefall" and not shape["gravity_direction_ok"]:
            out["why"] = (f"accelerates {shape['gravity_angle_deg']:.0f} deg off straight "
                          "down")
            return out
        if shape["g_consistent"] is False:
            out["why"] = (f"changes its acceleration along the path "
                          f"({shape['g_first_half_px_s2']:.3g} then "
                          f"{shape['g_second_half_px_s2']:.3g} px/s^2)")
            return out
    out["ok"] = True
    return out


def implied_size_m(size_px: float, g_px_s2: float) -> float:
    """The object's size in metres if its acceleration ``g_px_s2`` were Earth's gravity (on
    the Moon it would be 6 times smaller: still an everyday object)."""
    return size_px * DEFAULT_G_MPS2 / max(g_px_s2, 1e-9)


def _fit_points(analysis: ClipAnalysis, track: Track, probe: str
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The points a motion probe fits: the clean sightings; on footage, for gravity probes
    other than ``bounce``, only the flight up to the first floor contact."""
    t, x, y = _points(analysis, track)
    if analysis.source == "footage" and probe in ("freefall", "projectile"):
        t, x, y = _flight(t, x, y, track.size_px)
    return t, x, y


def follow(analysis: ClipAnalysis, target: Target) -> Track | None:
    """The track a motion probe follows: the user's box (``target.box``), else the object of
    the target's colour when known (the longest such track), else the moving object that
    travels farthest. Gravity probes without a box or colour use :func:`choose` instead."""
    if target.box is not None:
        return _by_box(analysis, target.box, target.box_frame)
    objs = analysis.objects()
    if target.colour is not None:
        col = np.asarray(target.colour)
        objs = [t for t in objs
                if np.linalg.norm(t.mean_colour - col) <= TARGET_COLOUR_GATE]
        return max(objs, key=lambda t: (len(t), t.extent_px), default=None)
    return max(objs, key=lambda t: (t.extent_px > 0.5, len(t) * t.extent_px), default=None)


def choose(analysis: ClipAnalysis, target: Target
           ) -> tuple[Track | None, str, ProbeResult | None]:
    """The object a motion probe measures, how it was chosen, or a no-verdict result.

    A box, a colour (from the scene, prompt or user) or a text-grounded detection names the
    object; otherwise a gravity probe takes the object that best shows a fall
    (:func:`fall_evidence`) and, when none does, returns ``not_applicable``: a probe must not
    judge an object the clip gives no reason to think is falling. ``uniform_motion`` on
    footage needs a named object (``inconclusive`` otherwise).
    """
    probe = target.probe
    if target.box is not None or target.colour is not None:
        track = follow(analysis, target)
        how = target.box_source if target.box is not None else "colour"
        if track is None:
            what = ("no tracked object at the detector's box" if how == "detector"
                    else "no object at the given box" if target.box is not None
                    else "no object of the expected colour")
            return None, how, ProbeResult(probe, NO_OBJECT, f"{what} found",
                                          error_key=ERROR_KEY_OF[probe])
        return track, how, None
    objs = analysis.objects()
    if not objs:
        return None, "motion", ProbeResult(probe, NO_OBJECT, "no object found",
                                           error_key=ERROR_KEY_OF[probe])
    if probe == "uniform_motion":
        if analysis.source != "footage":
            return follow(analysis, target), "motion", None
        # On footage the farthest-travelling mask is as often a swinging leg or a car half
        # in view as an object; a steady velocity is only judged on a named object.
        return None, "motion", ProbeResult(
            probe, INCONCLUSIVE, "camera footage: uniform motion is judged only on a named "
                                 "object; name it with --object X,Y,W,H@FRAME, a colour or a "
                                 "detector", {"n_candidates": len(objs)},
            error_key=ERROR_KEY_OF[probe])
    evidence = [(fall_evidence(analysis, t, probe), t) for t in objs]
    good = [(e, t) for e, t in evidence if e["ok"]]
    if good:
        return max(good, key=lambda et: et[0]["score"])[1], "motion", None
    best = max(evidence, key=lambda et: et[0]["down_px"])
    what = {"freefall": "falls", "projectile": "flies on a falling curve",
            "bounce": "falls and bounces"}[probe]
    reason = (f"no object {what}: {len(objs)} moving object(s); the one that moves down most "
              f"{best[0]['why'] or 'does not fall'}")
    return None, "motion", ProbeResult(probe, NOT_APPLICABLE, reason,
                                       {"n_candidates": len(objs)},
                                       error_key=ERROR_KEY_OF[probe])


def _points(analysis: ClipAnalysis, track: Track, allow_edge: bool = False
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t_s, x_px, y_px)`` of the clean sightings of ``track``."""
    ok = analysis.clean(track, allow_edge=allow_edge)
    t = analysis.times_s[track.frames[ok]]
    return t, track.centroid[ok, 0], track.centroid[ok, 1]


def _robust_fit(t: np.ndarray, y: np.ndarray, degree: int, analysis: ClipAnalysis
                ) -> tuple[PolyFit, np.ndarray]:
    """Polynomial fit; on footage, points off the curve by more than :data:`OUTLIER_SIGMA`
    robust standard deviations (a sighting merged with a hand, cut by the frame edge) are
    dropped, at most :data:`MAX_OUTLIER_SHARE` of them. Returns the fit and the kept mask."""
    keep = np.ones(t.size, dtype=bool)
    fit = polyfit(t, y, degree)
    if analysis.source != "footage":
        return fit, keep
    for _ in range(3):
        resid = np.abs(y - fit(t))
        scale = 1.4826 * float(np.median(resid[keep])) + 0.5
        bad = resid > OUTLIER_SIGMA * scale
        if not bad.any() or bad.sum() > MAX_OUTLIER_SHARE * t.size \
                or (~bad).sum() < max(MIN_FIT_FRAMES, degree + 2):
            break
        if np.array_equal(~bad, keep):
            break
        keep = ~bad
        fit = polyfit(t[keep], y[keep], degree)
    return fit, keep


def _flight(t: np.ndarray, x: np.ndarray, y: np.ndarray, size: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """On footage, the points up to the first floor contact (a dropped ball bounces)."""
    from physics_probes.bounce import find_contacts

    contacts = find_contacts(y, max(0.5, 0.1 * size))
    if contacts.size:
        end = int(contacts[0]) + 1
        if end >= MIN_FIT_FRAMES + 2:
            return t[:end], x[:end], y[:end]
    return t, x, y


def _curve(fit: PolyFit, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tt = np.linspace(float(t.min()), float(t.max()), _CURVE_POINTS)
    return tt, fit(tt)


def _object_record(analysis: ClipAnalysis, track: Track, how: str) -> tuple[dict, dict]:
    """Which object was measured: ``(measured, plot)`` entries with its box in every frame it
    was seen (in the frame's own pixels, so a plot can draw it on the frame)."""
    boxes = np.array([analysis.frame_box(int(f), b) for f, b in zip(track.frames, track.bbox)])
    measured = {"track_id": track.track_id, "chosen_by": how,
                "object_colour_rgb": track.mean_colour, "object_size_px": track.size_px,
                "tracker": analysis.source, "moving_camera": analysis.moving_camera}
    plot = {"object_frames": track.frames, "object_boxes_px": boxes}
    return measured, plot


def _prepare(probe: str, analysis: ClipAnalysis, target: Target, error_key: str
             ) -> tuple[Track, np.ndarray, np.ndarray, np.ndarray, str] | ProbeResult:
    track, how, verdict = choose(analysis, target)
    if verdict is not None:
        return verdict
    assert track is not None
    t, x, y = _fit_points(analysis, track, probe)
    if t.size < MIN_FIT_FRAMES:
        measured, plot = _object_record(analysis, track, how)
        leaves = bool(track.touches_border.any())
        why = (f"the object is wholly in view in {t.size} frames"
               + (" (it leaves the view)" if leaves else "")
               + f"; the fit needs {MIN_FIT_FRAMES}")
        return ProbeResult(probe, INCONCLUSIVE, why, measured, {}, plot, error_key=error_key)
    return track, t, x, y, how


def _known_scale(target: Target, analysis: ClipAnalysis, track: Track
                 ) -> tuple[float | None, str]:
    """Pixels per metre and where it came from: the target's (user, scene), else the known
    size of the measured object (``object_size_m``: its width) over its median measured width
    (the footage tracker's sub-pixel coverage width, else the box width less one analysed
    pixel: the box of a mask holds the half-covered pixel at each edge)."""
    if target.pixels_per_metre is not None:
        return target.pixels_per_metre, "given"
    if target.object_size_m is not None:
        ok = analysis.clean(track)
        sel = ok if ok.any() else np.ones(len(track), dtype=bool)
        if track.object_width is not None:  # sub-pixel coverage width (footage tracker)
            width = float(np.median(track.object_width[sel]))
        else:
            # A mask's box takes in the partly covered pixel at each edge: half a pixel too
            # wide on each side on average.
            width = float(np.median(track.bbox[sel, 2] - track.bbox[sel, 0])) \
                - analysis.pixel_scale
        return width / target.object_size_m, "object size"
    return None, "unknown"


def _shape_checks(t: np.ndarray, x: np.ndarray, y: np.ndarray, fy: PolyFit,
                  analysis: ClipAnalysis) -> dict:
    """Scale-free evidence of gravity: the direction of the acceleration (within
    :data:`MAX_GRAVITY_ANGLE_DEG` of straight down, allowing for its noise) and its
    consistency over the fall (first and second half agree within :data:`MAX_G_DRIFT` or
    their noise)."""
    fx = _robust_fit(t, x, 2, analysis)[0]
    ax, ay = fx.acceleration, fy.acceleration
    angle = float(np.degrees(np.arctan2(abs(ax), max(ay, 1e-9))))
    direction_ok = abs(ax) <= np.tan(np.radians(MAX_GRAVITY_ANGLE_DEG)) * max(ay, 0.0) \
        + 3 * fx.acceleration_stderr
    out = {"gravity_angle_deg": angle, "gravity_direction_ok": bool(direction_ok),
           "g_first_half_px_s2": None, "g_second_half_px_s2": None, "g_consistent": None}
    half = t.size // 2
    if half >= MIN_FIT_FRAMES:
        g1 = _robust_fit(t[:half], y[:half], 2, analysis)[0]
        g2 = _robust_fit(t[half:], y[half:], 2, analysis)[0]
        from scipy.stats import t as student_t

        # Few points per half: the halves' standard errors are rough, so the margin is
        # Student's 99% critical value on their degrees of freedom, not a fixed 3.
        dof = max(1, min(half, t.size - half) - 3)
        critical = float(student_t.ppf(0.995, dof))
        noise = critical * float(np.hypot(g1.acceleration_stderr, g2.acceleration_stderr))
        consistent = abs(g1.acceleration - g2.acceleration) <= max(MAX_G_DRIFT * abs(ay), noise)
        out.update(g_first_half_px_s2=g1.acceleration, g_second_half_px_s2=g2.acceleration,
                   g_consistent=bool(consistent))
    return out


def _gravity(fy: PolyFit, target: Target, tolerance: float, ppm: float | None = None,
             scale_source: str = "given", shape: dict | None = None
             ) -> tuple[dict, dict, bool, str]:
    """Measured and expected gravity, and whether it passes."""
    g_px = fy.acceleration
    measured = {"g_px_s2": g_px, "g_px_s2_stderr": fy.acceleration_stderr, "r2": fy.r2,
                "rmse_px": fy.rmse, "rel_error_g": None}
    expected: dict = {}
    ppm = target.pixels_per_metre if ppm is None else ppm
    g_mps2 = target.g_mps2 if target.g_mps2 is not None else (
        DEFAULT_G_MPS2 if ppm is not None else None)
    expected_px = g_mps2 * ppm if ppm is not None and g_mps2 is not None else None
    if ppm is not None:
        measured["g_m_s2"] = g_px / ppm
        measured["pixels_per_metre"] = ppm
        measured["scale_from"] = scale_source
    if expected_px is not None:
        rel = abs(g_px - expected_px) / expected_px
        measured["rel_error_g"] = rel
        expected = {"g_px_s2": expected_px, "g_m_s2": g_mps2}
        ok = rel <= tolerance
        reason = "" if ok else (f"g = {g_px:.3g} px/s^2, expected {expected_px:.3g} "
                                f"({100 * rel:.0f}% off, tolerance {100 * tolerance:.0f}%)")
        return measured, expected, ok, reason
    # No scale: a downward acceleration, clearly above its noise, on a good parabola, pointing
    # down and the same over the fall. g in m/s^2 is not measurable: say so.
    measured["g_m_s2"] = None
    measured["scale_from"] = "unknown"
    measured["note"] = ("no camera scale (pixels per metre): g in m/s^2 was not measurable; "
                        "the verdict checks the shape of the fall only")
    problems = []
    if not (g_px > 0 and g_px > 3 * fy.acceleration_stderr and fy.r2 >= MIN_R2):
        problems.append(f"no clear downward acceleration (g = {g_px:.3g} +- "
                        f"{fy.acceleration_stderr:.2g} px/s^2, R^2 = {fy.r2:.3f})")
    if shape is not None:
        measured.update(shape)
        if not shape["gravity_direction_ok"]:
            problems.append(f"the acceleration points {shape['gravity_angle_deg']:.0f} deg off "
                            "straight down")
        if shape["g_consistent"] is False:
            problems.append(f"the acceleration changes over the fall "
                            f"({shape['g_first_half_px_s2']:.3g} then "
                            f"{shape['g_second_half_px_s2']:.3g} px/s^2)")
    return measured, expected, not problems, "; ".join(problems)


def probe_freefall(analysis: ClipAnalysis, target: Target, tolerance: float = 0.1) -> ProbeResult:
    """Fit ``y(t)`` with a parabola and compare its acceleration with gravity."""
    prep = _prepare("freefall", analysis, target, "rel_error_g")
    if isinstance(prep, ProbeResult):
        return prep
    track, t, x, y, how = prep
    fy, keep = _robust_fit(t, y, 2, analysis)
    t, x, y = t[keep], x[keep], y[keep]
    ppm, scale_from = _known_scale(target, analysis, track)
    shape = _shape_checks(t, x, y, fy, analysis) if ppm is None else None
    measured, expected, ok, reason = _gravity(fy, target, tolerance, ppm, scale_from, shape)
    obj, obj_plot = _object_record(analysis, track, how)
    measured.update(v0_px_s=float(fy.coeffs[1]), vx_px_s=float(polyfit(t, x, 1).coeffs[1]),
                    n_points=int(t.size), **obj)
    tt, yy = _curve(fy, t)
    plot = {"points_t_s": t, "points_x_px": x, "points_y_px": y, "fit_t_s": tt, "fit_y_px": yy,
            **obj_plot}
    return ProbeResult("freefall", PASS if ok else FAIL, reason, measured, expected, plot,
                       error_key="rel_error_g")


def probe_projectile(analysis: ClipAnalysis, target: Target, tolerance: float = 0.1) -> ProbeResult:
    """``x`` linear and ``y`` a parabola with gravity's acceleration."""
    prep = _prepare("projectile", analysis, target, "rel_error_g")
    if isinstance(prep, ProbeResult):
        return prep
    track, t, x, y, how = prep
    fy, keep = _robust_fit(t, y, 2, analysis)
    t, x, y = t[keep], x[keep], y[keep]
    fx1, fx2 = polyfit(t, x, 1), polyfit(t, x, 2)
    ppm, scale_from = _known_scale(target, analysis, track)
    shape = _shape_checks(t, x, y, fy, analysis) if ppm is None else None
    if shape is not None:
        shape["gravity_direction_ok"] = True  # the x check below judges sideways acceleration
    measured, expected, ok, reason = _gravity(fy, target, tolerance, ppm, scale_from, shape)
    g_ref = ppm * (target.g_mps2 or DEFAULT_G_MPS2) if ppm is not None else abs(fy.acceleration)
    ax = fx2.acceleration
    ax_ratio = abs(ax) / max(g_ref, 1e-9)
    measured.update(vx_px_s=float(fx1.coeffs[1]), ax_px_s2=ax, ax_over_g=ax_ratio,
                    r2_x=fx1.r2, rmse_x_px=fx1.rmse, n_points=int(t.size))
    obj, obj_plot = _object_record(analysis, track, how)
    measured.update(obj)
    expected["ax_px_s2"] = 0.0
    if ax_ratio > tolerance:
        ok = False
        reason = "; ".join(filter(None, [reason, f"x accelerates at {ax:.3g} px/s^2 "
                                                  f"({100 * ax_ratio:.0f}% of g)"]))
    tt, yy = _curve(fy, t)
    plot = {"points_t_s": t, "points_x_px": x, "points_y_px": y, "fit_t_s": tt,
            "fit_y_px": yy, "fit_x_px": fx1(tt), **obj_plot}
    return ProbeResult("projectile", PASS if ok else FAIL, reason, measured, expected, plot,
                       error_key="rel_error_g")


def probe_uniform_motion(analysis: ClipAnalysis, target: Target,
                         tolerance: float = 0.1) -> ProbeResult:
    """Constant velocity: the fitted acceleration moves the object little over the clip."""
    prep = _prepare("uniform_motion", analysis, target, "rel_accel")
    if isinstance(prep, ProbeResult):
        return prep
    track, t, x, y, how = prep
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
                "rmse_px": rmse, "n_points": int(t.size)}
    obj, obj_plot = _object_record(analysis, track, how)
    measured.update(obj)
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
            "fit_x_px": fx1(tt), "fit_y_px": fy1(tt), **obj_plot}
    return ProbeResult("uniform_motion", PASS if ok else FAIL, reason, measured,
                       {"accel_px_s2": 0.0}, plot, error_key="rel_accel")
