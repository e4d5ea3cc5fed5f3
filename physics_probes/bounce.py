"""The ``bounce`` probe: floor contacts, restitution, no energy gained.

The followed object's height ``y(t)`` (down) is split at its floor contacts: local maxima of
``y`` where the motion turns from down to up by more than the measurement noise. The flights
between contacts are fitted as parabolas sharing one acceleration (gravity) by least squares;
the frame nearest each contact is put on whichever side fits better, preferring splits where
the two flights meet within one frame of the detected contact, arriving downwards and leaving
upwards (neighbouring turning points, as a contact between two frames makes, are one contact).
Two neighbouring flights
meet at the contact time ``t_c``; the restitution is the ratio of the speeds leaving and
arriving there, ``e = -v_after / v_before``. The probe passes when a contact is seen, every
``e`` lies in ``(0, 1 + tolerance]`` (a rebound faster than the impact gains energy) and, with a
known camera scale, the flights' gravity is within ``tolerance`` of the expected g.
"""

from __future__ import annotations

import itertools

import numpy as np

from physics_probes.analysis import ClipAnalysis
from physics_probes.fitting import SegmentFit, shared_acceleration_fit
from physics_probes.motion import (
    MAX_IMPLIED_SIZE_M,
    MAX_RMSE_SIZE_SHARE,
    MIN_EVIDENCE_POINTS,
    MIN_FIT_FRAMES,
    MIN_IMPLIED_SIZE_M,
    _object_record,
    choose,
    implied_size_m,
)
from physics_probes.result import FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS, ProbeResult
from physics_probes.select import Target

__all__ = ["probe_bounce", "find_contacts"]

_CURVE_POINTS = 24
#: Flights are short and cut by contacts, so their g is looser than a whole fall's: the bounce
#: probe fails on g only beyond this multiple of the tolerance (the issue's bounce criteria
#: are contact, restitution and energy; g is a sanity check here).
_G_TOLERANCE_FACTOR = 3.0
#: Try every side assignment of the contact frames up to this many contacts (2^n fits).
_MAX_EXHAUSTIVE_CONTACTS = 6
#: With no object named, the flights must fit parabolas this well to count as a bounce.
_MIN_MOTION_R2 = 0.9


def find_contacts(y: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of floor contacts in ``(N,)`` heights ``y`` (image ``y``, down): local maxima
    where the object arrives from above and leaves upwards, by more than ``threshold`` px."""
    if y.size < 3:
        return np.zeros(0, dtype=np.int64)
    rise_in = y[1:-1] - y[:-2]
    rise_out = y[1:-1] - y[2:]
    turn = (rise_in >= -threshold / 2) & (rise_out >= -threshold / 2) & \
        (np.maximum(rise_in, rise_out) > threshold) & (rise_in + rise_out > threshold)
    cand = np.flatnonzero(turn) + 1
    # A contact between two frames makes both of them look like turning points (the frames
    # before and after the contact are nearly level): neighbouring candidates are one contact,
    # kept at the lower of the two points (the larger image y).
    out: list[int] = []
    for c in cand:
        if out and c - out[-1] <= 1:
            if y[c] > y[out[-1]]:
                out[-1] = int(c)
        else:
            out.append(int(c))
    return np.asarray(out, dtype=np.int64)


def _drop_rest(t: np.ndarray, y: np.ndarray, threshold: float) -> int:
    """Number of leading points to keep: trailing frames lying still on the floor (after the
    bounces have died out) are cut, all but the first."""
    n = y.size
    floor = y.max()
    end = n
    while end > 1 and abs(y[end - 1] - floor) < threshold and abs(y[end - 1] - y[end - 2]) < threshold:
        end -= 1
    return max(end, min(n, 2))


def _best_split(t: np.ndarray, y: np.ndarray, contacts: np.ndarray
                ) -> tuple[SegmentFit, np.ndarray] | None:
    """Shared-acceleration fit over the best assignment of contact frames to a side."""
    best: tuple[SegmentFit, np.ndarray] | None = None
    best_plausible = False
    n = contacts.size
    choices = itertools.product((0, 1), repeat=n) if n <= _MAX_EXHAUSTIVE_CONTACTS else [(0,) * n]
    for sides in choices:
        seg = np.zeros(t.size, dtype=np.int64)
        for k, (c, side) in enumerate(zip(contacts, sides)):
            seg[c + side:] = k + 1  # side 0: the contact frame ends the earlier flight
        counts = np.bincount(seg, minlength=n + 1)
        if counts.min() < 2 or t.size <= 2 * (n + 1) + 1:
            continue
        fit = shared_acceleration_fit(t, y, seg)
        plausible = _contacts_plausible(fit, t, contacts)
        # Physically plausible splits first, then the least squared error.
        if best is None or (plausible, -fit.sse) > (best_plausible, -best[0].sse):
            best, best_plausible = (fit, seg), plausible
    return best


def _contact_time(fit: SegmentFit, k: int) -> float | None:
    """Time where flights ``k`` and ``k + 1`` meet (their parabolas share ``c``, so it is where
    the linear parts cross); None when they are parallel."""
    a1, b1, a2, b2 = fit.intercepts[k], fit.slopes[k], fit.intercepts[k + 1], fit.slopes[k + 1]
    return (a2 - a1) / (b1 - b2) if abs(b1 - b2) > 1e-9 else None


def _contacts_plausible(fit: SegmentFit, t: np.ndarray, contacts: np.ndarray) -> bool:
    """Every fitted contact time lies within one frame of its detected contact frame, and the
    flights arrive moving down and leave moving up there. A split that puts the meeting point
    of two flights elsewhere (a near-flat stub of two points) is no physical reading."""
    g = 2.0 * fit.half_acceleration
    for k, c in enumerate(contacts):
        tc = _contact_time(fit, k)
        if tc is None:
            return False
        lo = t[max(c - 1, 0)]
        hi = t[min(c + 1, t.size - 1)]
        if not (lo - 1e-9 <= tc <= hi + 1e-9):
            return False
        if fit.slopes[k] + g * tc <= 0 or fit.slopes[k + 1] + g * tc >= 0:
            return False
    return True


def probe_bounce(analysis: ClipAnalysis, target: Target, tolerance: float = 0.1) -> ProbeResult:
    """Detect floor contacts and measure the restitution of each."""
    track, how, verdict = choose(analysis, target)
    error_key = "rel_error_g"
    if verdict is not None:
        return verdict
    assert track is not None
    obj, obj_plot = _object_record(analysis, track, how)
    ok_pts = analysis.clean(track, allow_edge=True)
    t, y = analysis.times_s[track.frames[ok_pts]], track.centroid[ok_pts, 1]
    x = track.centroid[ok_pts, 0]
    if t.size < MIN_FIT_FRAMES + 1:
        return ProbeResult("bounce", INCONCLUSIVE, f"the object is measurable in {t.size} "
                           f"frames; the probe needs {MIN_FIT_FRAMES + 1}", obj, {}, obj_plot,
                           error_key=error_key)
    threshold = max(0.5, 0.1 * track.size_px)
    keep = _drop_rest(t, y, threshold)
    t, x, y = t[:keep], x[:keep], y[:keep]
    contacts = find_contacts(y, threshold)
    plot = {"points_t_s": t, "points_x_px": x, "points_y_px": y, **obj_plot}
    measured: dict = {"n_contacts": int(contacts.size), "n_points": int(t.size),
                      "restitution": [], "max_restitution": None, **obj}
    if contacts.size == 0 and bool(track.touches_border[-1]) and track.frames[-1] < \
            analysis.num_frames - 1:
        return ProbeResult("bounce", INCONCLUSIVE, "the object leaves the view before any "
                           "floor contact", measured, {}, plot, error_key=error_key)
    if contacts.size == 0:
        return ProbeResult("bounce", FAIL, "no floor contact: the object never turns back up",
                           measured, {}, plot, error_key=error_key)
    split = _best_split(t, y, contacts)
    if split is None:
        return ProbeResult("bounce", INCONCLUSIVE, "too few frames around the contact to fit "
                           "the flights", measured, {}, plot, error_key=error_key)
    fit, seg = split
    g_px = 2.0 * fit.half_acceleration
    g_err = 2.0 * fit.stderr_half_acceleration
    implied = implied_size_m(track.size_px, g_px)
    flights = np.bincount(seg, minlength=contacts.size + 1)
    if how == "motion" and not (g_px > 3 * g_err and fit.r2 >= _MIN_MOTION_R2
                                and t.size >= MIN_EVIDENCE_POINTS and flights.min() >= 3
                                and _contacts_plausible(fit, t, contacts)
                                and fit.rmse <= MAX_RMSE_SIZE_SHARE * track.size_px
                                and MIN_IMPLIED_SIZE_M <= implied <= MAX_IMPLIED_SIZE_M):
        # No object was named: without flights (3 points each or more) that fall under one
        # clear acceleration of a plausible size for gravity, arriving down and leaving up at
        # each contact, this is no bouncing object (a walker's bob, a track jumping between
        # things), so no verdict.
        return ProbeResult("bounce", NOT_APPLICABLE, f"no object falls and bounces: the "
                           f"flights of the object that turns back up share no clear "
                           f"downward acceleration of gravity ({g_px:.3g} +- {g_err:.2g} "
                           f"px/s^2, R^2 {fit.r2:.2f}, RMS {fit.rmse:.1f} px, {implied:.3g} m "
                           f"across under Earth's g)", measured, {}, plot, error_key=error_key)
    e, t_c = [], []
    for k in range(contacts.size):
        tc = _contact_time(fit, k)
        tc = float(t[contacts[k]]) if tc is None else tc
        v_in = fit.slopes[k] + g_px * tc
        v_out = fit.slopes[k + 1] + g_px * tc
        e.append(-v_out / v_in if abs(v_in) > 1e-9 else float("inf"))
        t_c.append(tc)
    e_arr = np.asarray(e)
    measured.update(restitution=e_arr, max_restitution=float(e_arr.max()), contact_t_s=t_c,
                    energy_ratio=e_arr**2, g_px_s2=g_px, r2=fit.r2, rmse_px=fit.rmse)
    expected: dict = {"max_restitution": 1.0}
    problems = []
    if np.any(e_arr <= 0):
        problems.append("the object does not rebound at a contact")
    if np.any(e_arr > 1.0 + tolerance):
        problems.append(f"rebounds faster than it lands (restitution {e_arr.max():.2f} > 1): "
                        f"energy gained")
    if target.g_px_s2 is not None:
        rel = abs(g_px - target.g_px_s2) / target.g_px_s2
        measured.update(rel_error_g=rel, g_m_s2=g_px / target.pixels_per_metre)
        expected.update(g_px_s2=target.g_px_s2, g_m_s2=target.g_mps2)
        if rel > _G_TOLERANCE_FACTOR * tolerance:
            problems.append(f"flights accelerate at {g_px:.3g} px/s^2, expected "
                            f"{target.g_px_s2:.3g} ({100 * rel:.0f}% off)")
    tt = np.linspace(float(t.min()), float(t.max()), _CURVE_POINTS)
    bounds = [float(t.min()), *t_c, float(t.max())]
    which = np.clip(np.searchsorted(bounds, tt, side="right") - 1, 0, contacts.size)
    plot.update(fit_t_s=tt, fit_y_px=np.array([fit.segment(k, s) for k, s in zip(which, tt)]))
    status = FAIL if problems else PASS
    return ProbeResult("bounce", status, "; ".join(problems), measured, expected, plot,
                       error_key=error_key)
