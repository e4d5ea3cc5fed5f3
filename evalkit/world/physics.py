"""Closed-form motion laws of the physics world: position and velocity of an object at any time.

Every law is analytic, so the ground truth is exact (no time stepping, no accumulated error).
Coordinates are metres with ``x`` to the right and ``y`` DOWN (image convention), so gravity is
``+g`` along ``y``. Time ``t = 0`` is the first frame.

    freefall    x = x0,            y = y0 + g t^2 / 2                 (starts at rest)
    projectile  x = x0 + vx t,     y = y0 + vy t + g t^2 / 2          (vy = 0: horizontal launch)
    uniform     x = x0 + vx t,     y = y0 + vy t                      (no gravity)
    occluded    x = x0 + vx t,     y = y0                             (passes behind the occluder)
    rest        x = x0,            y = y0
    bounce      x = x0 + vx t,     y piecewise: parabolic flights between floor contacts

Bounce: the object's lowest point is ``y + size``, so its centre touches the floor at
``y_c = floor_y - size``. With impact speed ``v1 = sqrt(vy^2 + 2 g (y_c - y0))`` at the first
contact ``c1 = (v1 - vy) / g``, the ``k``-th rebound leaves upward at ``u_k = e^k v1`` and lasts
``2 u_k / g``, so contact ``k + 1`` is at ``c_{k+1} = c_k + 2 u_k / g``. Speeds only ever shrink
(``e <= 1``): energy is never gained. For ``e < 1`` the contacts accumulate at
``c1 + 2 v1 e / (g (1 - e))``; once a flight would last less than :data:`MIN_FLIGHT_S` the object
is at rest on the floor. At a contact time itself the velocity is the post-contact (upward) one.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from evalkit.world.scene import ObjectSpec

__all__ = ["Trajectory", "trajectory", "bounce_contacts", "MIN_FLIGHT_S", "GRAVITY_MOTIONS"]

#: Rebounds shorter than this (seconds) count as rest: far below any frame interval.
MIN_FLIGHT_S = 1e-9
#: Upper bound on computed contacts (an ``e = 1`` bounce with a tiny drop would need millions).
MAX_CONTACTS = 100_000
#: Motions under gravity (the rest have no acceleration).
GRAVITY_MOTIONS = frozenset({"freefall", "projectile", "bounce"})


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """One object's motion sampled at given times.

    Attributes:
        position_m: ``(T, 2)`` float64 centre ``(x, y)`` in metres.
        velocity_mps: ``(T, 2)`` float64 velocity ``(vx, vy)`` in m/s (``vy > 0`` is downwards).
        contacts_s: ``(K,)`` float64 floor-contact times in seconds within the sampled span
            (bounce only; empty otherwise).
    """

    position_m: np.ndarray
    velocity_mps: np.ndarray
    contacts_s: np.ndarray


def trajectory(obj: ObjectSpec, times_s: np.ndarray, g_mps2: float, floor_y_m: float) -> Trajectory:
    """Position and velocity of ``obj`` at ``times_s`` (``(T,)`` seconds, any order, ``t >= 0``)."""
    t = np.asarray(times_s, dtype=np.float64)
    motion = obj.motion.value
    vx = 0.0 if motion == "rest" else obj.vx_mps
    vy = 0.0 if motion in ("rest", "occluded") else obj.vy_mps
    g = g_mps2 if motion in GRAVITY_MOTIONS else 0.0

    pos = np.empty(t.shape + (2,))
    vel = np.empty(t.shape + (2,))
    pos[..., 0] = obj.x0_m + vx * t
    vel[..., 0] = vx
    contacts = np.empty(0)
    if motion == "bounce":
        y_contact = floor_y_m - obj.size_m
        contacts, rest_from = bounce_contacts(obj.y0_m, vy, g, y_contact, obj.restitution,
                                              float(t.max(initial=0.0)))
        pos[..., 1], vel[..., 1] = _bounce_y(t, obj.y0_m, vy, g, y_contact, obj.restitution,
                                             contacts, rest_from)
    else:
        pos[..., 1] = obj.y0_m + vy * t + 0.5 * g * t * t
        vel[..., 1] = vy + g * t
    return Trajectory(pos, vel, contacts)


def bounce_contacts(y0: float, vy0: float, g: float, y_contact: float, e: float,
                    t_max: float) -> tuple[np.ndarray, float]:
    """Floor-contact times up to ``t_max`` and the time from which the object rests.

    Returns ``(contacts_s, rest_from_s)``: contacts as a ``(K,)`` array in increasing order, and
    ``rest_from_s`` (``inf`` when the object is still bouncing at ``t_max``). ``y_contact`` is the
    centre height at contact; the object starts at or above it (``y0 <= y_contact``).
    """
    drop = max(0.0, y_contact - y0)
    v1 = float(np.sqrt(vy0 * vy0 + 2.0 * g * drop))  # impact speed, downward
    if v1 * 2.0 / g < MIN_FLIGHT_S:  # already lying on the floor
        return np.empty(0), 0.0
    c1 = (v1 - vy0) / g
    period = 2.0 * v1 / g  # flight after a perfectly elastic contact
    if e >= 1.0:
        n = 1 + int(np.floor(max(0.0, t_max - c1) / period)) if c1 <= t_max else 0
        k = np.arange(min(n, MAX_CONTACTS), dtype=np.float64)
        return c1 + k * period, np.inf
    # Contacts until the rebound is shorter than MIN_FLIGHT_S; closed form avoids summation drift.
    n_flights = 0
    if period > MIN_FLIGHT_S:
        n_flights = int(np.ceil(np.log(MIN_FLIGHT_S / period) / np.log(e)))
    k = np.arange(min(max(n_flights, 1), MAX_CONTACTS), dtype=np.float64)
    contacts = c1 + period * e * (1.0 - e**k) / (1.0 - e)
    rest_from = float(contacts[-1])
    keep = contacts <= t_max
    return contacts[keep], (rest_from if keep.all() else np.inf)


def _bounce_y(t: np.ndarray, y0: float, vy0: float, g: float, y_contact: float, e: float,
              contacts: np.ndarray, rest_from: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertical position and velocity of a bouncing object at times ``t``."""
    k = np.searchsorted(contacts, t, side="right")  # contacts at or before each t
    last = contacts[np.maximum(k - 1, 0)] if contacts.size else np.zeros_like(t)
    tau = np.where(k > 0, t - last, t)
    u = e**k * np.sqrt(vy0 * vy0 + 2.0 * g * max(0.0, y_contact - y0))  # rebound speed up
    y = np.where(k > 0, y_contact - u * tau + 0.5 * g * tau * tau, y0 + vy0 * t + 0.5 * g * t * t)
    vy = np.where(k > 0, -u + g * tau, vy0 + g * t)
    resting = t >= rest_from
    y = np.where(resting, y_contact, y)
    vy = np.where(resting, 0.0, vy)
    return y, vy
