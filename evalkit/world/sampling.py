"""Random scenes: parameter ranges (in- and out-of-distribution) and a trackable-scene sampler.

:class:`ParameterRanges` says where each physical parameter is drawn from, as a union of closed
intervals (so a range can sit on both sides of another). Two named sets serve generalisation
tests: train or tune on :data:`IN_DISTRIBUTION`, test on :data:`OUT_OF_DISTRIBUTION`. Their
numeric ranges are disjoint for the physics (gravity, size, speed, restitution) and the number of
objects, and shared for the camera and the look of the scene:

    ============================  =====================  ===================================
    field                         IN_DISTRIBUTION        OUT_OF_DISTRIBUTION
    ============================  =====================  ===================================
    g_mps2                        [8, 11]                [4, 6.5] u [13, 16]
    size_m (radius / half-side)   [1.2, 2.0]             [0.8, 1.0] u [2.4, 3.0]
    speed_mps                     [4, 8]                 [9, 12]
    restitution                   [0.5, 0.8]             [0.25, 0.4] u [0.85, 1.0]
    n_objects                     {1, 2}                 {3}
    pixels_per_metre (shared)     [2.2, 2.8]             [2.2, 2.8]
    texture_strength (shared)     [0.03, 0.08]           [0.03, 0.08]
    motions, colours, shapes, backgrounds: all, in both
    ============================  =====================  ===================================

At 2.5 px/m the ID sizes are 3-5 px radii and the ID speeds 10-20 px/s (OOD: 2-2.5 and 6-7.5 px
radii, 22-30 px/s). OOD speeds are only faster: slower ones cannot carry an ``occluded`` object
behind a wall and out again within a 2-second clip.

:func:`sample_scene` draws a scene whose objects stay trackable (see :func:`_check_object`):
fully visible in the first frame, at least half in view in :data:`MIN_IN_VIEW_SHARE` of the
frames, apart from each other in every frame, a ``bounce`` that touches the floor at least one
frame before the end, an ``occluded`` object that is fully visible, then fully hidden for at least
one frame, then fully visible again. It retries (with the same generator, so deterministically)
and, if a request cannot meet every condition (say a clip made too short by overrides for a
``bounce`` to reach the floor), returns the best attempt instead of failing. With the default
timing every motion in every region meets them (rarely missed: 3 fast OOD projectiles that
cannot all stay apart).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from evalkit.world.palette import BACKGROUND_PALETTE, OCCLUDER_PALETTE, PALETTE, colour_distance
from evalkit.world.regions import REGIONS, region_bounds
from evalkit.world.scene import (
    MAX_OBJECTS,
    Background,
    Motion,
    ObjectSpec,
    Occluder,
    SceneSpec,
    occluder_width_m,
)
from evalkit.world.truth import ground_truth

__all__ = [
    "ParameterRanges",
    "IN_DISTRIBUTION",
    "OUT_OF_DISTRIBUTION",
    "sample_scene",
    "MIN_IN_VIEW_SHARE",
]

Span = tuple[float, float]

#: Share of frames in which each object must be at least half inside the view.
MIN_IN_VIEW_SHARE = 0.75
#: Fraction of its area an object must show to count as "fully visible" (allows round-off).
FULLY_VISIBLE = 0.999
#: Distance kept from the view edges when placing a start (pixels).
EDGE_MARGIN_PX = 1.0
#: Clearance between objects' bounding circles in every frame (m).
OBJECT_GAP_M = 0.3
#: A bounce starts at least this share of the view height above its contact point (when it fits).
MIN_BOUNCE_DROP_SHARE = 0.25
#: Probability that a bounce is also thrown sideways, and its horizontal speed scale.
BOUNCE_SIDEWAYS_P, BOUNCE_SPEED_SCALE = 0.5, 0.5
#: Occluder colours must differ from the background base colour by at least this (RGB distance).
MIN_OCCLUDER_CONTRAST = 60.0
#: Requested start cells are shrunk by this share of the view so a start never sits on a border.
CELL_INSET = 1e-6
MAX_SCENE_ATTEMPTS = 12
MAX_OBJECT_ATTEMPTS = 24
#: Scene fields ``sample_scene(**overrides)`` may set.
OVERRIDABLE = ("width", "height", "frames", "fps", "pixels_per_metre", "g_mps2", "floor_y_m",
               "noise_std")


class ParameterRanges(BaseModel):
    """Where :func:`sample_scene` draws each parameter from.

    Numeric fields are unions of closed intervals ``((lo, hi), ...)``, each sampled with weight
    proportional to its length; discrete fields are the allowed choices (drawn uniformly).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    g_mps2: tuple[Span, ...]
    pixels_per_metre: tuple[Span, ...]
    size_m: tuple[Span, ...]
    speed_mps: tuple[Span, ...]
    restitution: tuple[Span, ...]
    texture_strength: tuple[Span, ...] = ((0.03, 0.08),)
    n_objects: tuple[int, ...] = (1,)
    motions: tuple[Motion, ...] = tuple(Motion)
    colours: tuple[str, ...] = tuple(PALETTE)
    shapes: tuple[Literal["ball", "box"], ...] = ("ball", "box")
    background_kinds: tuple[Literal["plain", "textured"], ...] = ("plain", "textured")
    background_colours: tuple[str, ...] = tuple(BACKGROUND_PALETTE)

    @field_validator("g_mps2", "pixels_per_metre", "size_m", "speed_mps", "restitution",
                     "texture_strength")
    @classmethod
    def _spans_ok(cls, spans: tuple[Span, ...]) -> tuple[Span, ...]:
        if not spans:
            raise ValueError("need at least one interval")
        if any(lo > hi for lo, hi in spans):
            raise ValueError(f"interval with lo > hi in {spans}")
        return tuple(sorted(spans))

    @field_validator("n_objects")
    @classmethod
    def _n_ok(cls, ns: tuple[int, ...]) -> tuple[int, ...]:
        if not ns or any(not 1 <= n <= MAX_OBJECTS for n in ns):
            raise ValueError(f"n_objects must be non-empty values in 1..{MAX_OBJECTS}")
        return ns

    @field_validator("colours")
    @classmethod
    def _colours_ok(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in names if c not in PALETTE]
        if not names or unknown:
            raise ValueError(f"colours must be non-empty names from PALETTE; unknown: {unknown}")
        return names

    @field_validator("background_colours")
    @classmethod
    def _bg_ok(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in names if c not in BACKGROUND_PALETTE]
        if not names or unknown:
            raise ValueError(f"background_colours must be names from BACKGROUND_PALETTE; "
                             f"unknown: {unknown}")
        return names

    def disjoint_from(self, other: ParameterRanges) -> tuple[str, ...]:
        """Names of the fields whose values cannot coincide between ``self`` and ``other``."""
        out = []
        for name in ("g_mps2", "pixels_per_metre", "size_m", "speed_mps", "restitution",
                     "texture_strength"):
            a, b = getattr(self, name), getattr(other, name)
            if not any(lo1 <= hi2 and lo2 <= hi1 for lo1, hi1 in a for lo2, hi2 in b):
                out.append(name)
        if not set(self.n_objects) & set(other.n_objects):
            out.append("n_objects")
        return tuple(out)


#: Earth-like physics, mid-sized objects at moderate speeds (see the module table).
IN_DISTRIBUTION = ParameterRanges(
    g_mps2=((8.0, 11.0),),
    pixels_per_metre=((2.2, 2.8),),
    size_m=((1.2, 2.0),),
    speed_mps=((4.0, 8.0),),
    restitution=((0.5, 0.8),),
    n_objects=(1, 2),
)

#: Weaker and stronger gravity, smaller and bigger objects, faster motion, softer and
#: harder bounces, more objects; disjoint from IN_DISTRIBUTION on those (see the module table).
OUT_OF_DISTRIBUTION = ParameterRanges(
    g_mps2=((4.0, 6.5), (13.0, 16.0)),
    pixels_per_metre=((2.2, 2.8),),
    size_m=((0.8, 1.0), (2.4, 3.0)),
    speed_mps=((9.0, 12.0),),
    restitution=((0.25, 0.4), (0.85, 1.0)),
    n_objects=(3,),
)


def _draw(rng: np.random.Generator, spans: tuple[Span, ...]) -> float:
    """Uniform draw from a union of intervals (weights proportional to length)."""
    lengths = np.array([hi - lo for lo, hi in spans])
    p = lengths / lengths.sum() if lengths.sum() > 0 else None
    lo, hi = spans[int(rng.choice(len(spans), p=p))]
    return float(rng.uniform(lo, hi))


def _per_object(value: Any, n: int, name: str) -> list:
    """Broadcast a scalar-or-sequence argument to ``n`` per-object values."""
    if value is None or isinstance(value, (str, Motion, Background)):
        return [value] * n
    if isinstance(value, Sequence):
        if len(value) != n:
            raise ValueError(f"{name} has {len(value)} entries for {n} objects")
        return list(value)
    return [value] * n


# -- placement -------------------------------------------------------------------------------


class _Frame:
    """The scene-level facts that placing an object needs (metres, seconds)."""

    def __init__(self, scene: dict[str, Any]) -> None:
        probe = SceneSpec(**scene)
        self.scene = scene
        self.w, self.h = probe.view_width_m, probe.view_height_m
        self.floor, self.t_end, self.fps = probe.floor_m, probe.t_end_s, probe.fps
        self.times = probe.times_s
        self.g = probe.g_mps2
        self.margin = EDGE_MARGIN_PX / probe.pixels_per_metre


def _start_range(lo: float, hi: float, offsets: np.ndarray, cell: tuple[float, float] | None
                 ) -> tuple[float, float]:
    """Start coordinates keeping ``start + offsets`` inside ``[lo, hi]``, within ``cell``.

    When the path is longer than the view, the start sits at the edge it moves away from.
    """
    a, b = lo - offsets.min(), hi - offsets.max()
    if a > b:
        a = b = a if offsets[-1] >= 0 else b
    if cell is None:
        return a, b
    ca, cb = max(a, cell[0]), min(b, cell[1])
    if ca <= cb:
        return ca, cb
    # No start in this cell keeps the path in view: take the cell's point nearest to one that does.
    x = min(max((a + b) / 2, cell[0]), cell[1])
    return x, x


def _candidate(rng: np.random.Generator, ranges: ParameterRanges, fr: _Frame, motion: Motion,
               colour: str, shape: str, region: str | None, occluder: Occluder | None,
               background: Background) -> tuple[ObjectSpec, Occluder | None]:
    """One random object (and, for the first occluded one, the occluder it needs)."""
    size = _draw(rng, ranges.size_m)
    restitution = _draw(rng, ranges.restitution)
    cell_x = cell_y = None
    if region is not None:
        x_lo, x_hi, y_lo, y_hi = region_bounds(region, fr.w, fr.h)
        ex, ey = CELL_INSET * fr.w, CELL_INSET * fr.h  # keep off the cell borders
        cell_x, cell_y = (x_lo + ex, x_hi - ex), (y_lo + ey, y_hi - ey)
    x_bounds = (size + fr.margin, fr.w - size - fr.margin)  # centre range keeping it in view
    y_bounds = (size + fr.margin, fr.h - size - fr.margin)
    vx, vy = _draw_velocity(rng, ranges, motion)
    t = fr.times

    if motion is Motion.OCCLUDED and occluder is not None:
        x0 = _crossing_start(rng, occluder, vx, size, fr.t_end, x_bounds, cell_x)
    else:
        x0 = rng.uniform(*_start_range(*x_bounds, vx * t, cell_x))
    if motion is Motion.BOUNCE:
        y0 = _bounce_start(rng, fr, size, y_bounds, cell_y)
    else:
        gravity = fr.g if motion in (Motion.FREEFALL, Motion.PROJECTILE) else 0.0
        y0 = rng.uniform(*_start_range(*y_bounds, vy * t + 0.5 * gravity * t * t, cell_y))

    new_occluder = None
    if motion is Motion.OCCLUDED and occluder is None:
        new_occluder = _occluder_on_path(rng, x0, vx, size, fr, x_bounds, background)
    obj = ObjectSpec(shape=shape, colour=colour, size_m=size, motion=motion, x0_m=x0, y0_m=y0,
                     vx_mps=vx, vy_mps=vy, restitution=restitution)
    return obj, new_occluder


def _draw_velocity(rng: np.random.Generator, ranges: ParameterRanges, motion: Motion
                   ) -> tuple[float, float]:
    """Start velocity (m/s): horizontal launches, any direction for uniform, rest otherwise."""
    if motion in (Motion.PROJECTILE, Motion.OCCLUDED):
        return float(rng.choice((-1.0, 1.0))) * _draw(rng, ranges.speed_mps), 0.0
    if motion is Motion.UNIFORM:
        speed, angle = _draw(rng, ranges.speed_mps), rng.uniform(0.0, 2.0 * math.pi)
        return speed * math.cos(angle), speed * math.sin(angle)
    if motion is Motion.BOUNCE and rng.random() < BOUNCE_SIDEWAYS_P:
        sign = float(rng.choice((-1.0, 1.0)))
        return sign * BOUNCE_SPEED_SCALE * _draw(rng, ranges.speed_mps), 0.0
    return 0.0, 0.0


def _bounce_start(rng: np.random.Generator, fr: _Frame, size: float, y_bounds: tuple[float, float],
                  cell: tuple[float, float] | None) -> float:
    """Start height of a bounce: in view, a visible drop, first contact 2 frames before the end."""
    y_contact = fr.floor - size
    reach = 0.5 * fr.g * max(0.0, fr.t_end - 2.0 / fr.fps) ** 2
    d_hi = max(0.0, min(y_contact - y_bounds[0], reach))
    d_lo = min(MIN_BOUNCE_DROP_SHARE * fr.h, d_hi)
    lo, hi = y_contact - d_hi, y_contact - d_lo
    if cell is not None:
        a, b = max(lo, cell[0]), min(hi, cell[1], y_contact)
        if a > b:  # the cell is too high (or low): its start nearest to a good one
            a = b = min(max((lo + hi) / 2, cell[0]), cell[1], y_contact)
        lo, hi = a, b
    return rng.uniform(lo, hi)


def _crossing_start(rng: np.random.Generator, occluder: Occluder, vx: float, size: float,
                    t_end: float, x_bounds: tuple[float, float], cell: tuple[float, float] | None
                    ) -> float:
    """Start x for an occluded object crossing an existing wall: visible before and after it."""
    half = occluder.width_m / 2
    if vx > 0:
        lo, hi = occluder.x_m + half + size - vx * t_end, occluder.x_m - half - size
    else:
        lo, hi = occluder.x_m + half + size, occluder.x_m - half - size - vx * t_end
    lo, hi = max(lo, x_bounds[0]), min(hi, x_bounds[1])
    if cell is not None:
        lo, hi = max(lo, cell[0]), min(hi, cell[1])
    return rng.uniform(lo, hi) if lo <= hi else 0.5 * (lo + hi)


def _occluder_on_path(rng: np.random.Generator, x0: float, vx: float, size: float, fr: _Frame,
                      x_bounds: tuple[float, float], background: Background) -> Occluder:
    """A full-height wall the object passes fully behind, with room to be seen on both sides."""
    width = occluder_width_m(size, vx, fr.fps)
    x_end = x0 + vx * fr.t_end
    slack = 0.5 * abs(vx) / fr.fps  # room for a sampled frame on each side of the wall
    if vx > 0:
        lo = x0 + size + width / 2 + slack
        hi = min(x_end, x_bounds[1]) - size - width / 2 - slack
    else:
        lo = max(x_end, x_bounds[0]) + size + width / 2 + slack
        hi = x0 - size - width / 2 - slack
    xo = rng.uniform(lo, hi) if lo <= hi else x0 + vx * fr.t_end / 2
    return Occluder(x_m=xo, width_m=width, colour=_occluder_colour(rng, background))


def _occluder_colour(rng: np.random.Generator, background: Background) -> str:
    base = BACKGROUND_PALETTE[background.colour]
    names = [n for n, c in OCCLUDER_PALETTE.items()
             if colour_distance(c, base) >= MIN_OCCLUDER_CONTRAST]
    return str(rng.choice(names or list(OCCLUDER_PALETTE)))


def _check_object(spec: SceneSpec, j: int) -> tuple[int, float]:
    """Score object ``j`` of ``spec``: (conditions met out of 4, share of frames in view)."""
    truth = ground_truth(spec)
    vis, in_view = truth.visible_fraction[:, j], truth.in_view_fraction[:, j]
    obj = spec.objects[j]
    share = float(np.mean(in_view >= 0.5))
    ok_start = vis[0] >= FULLY_VISIBLE
    ok_view = share >= MIN_IN_VIEW_SHARE
    ok_motion = True
    if obj.motion is Motion.BOUNCE:
        c = truth.contacts_s[j]
        ok_motion = c.size > 0 and c[0] <= spec.t_end_s - 1.0 / spec.fps
    elif obj.motion is Motion.OCCLUDED:
        hidden = np.flatnonzero(vis <= 1e-9)
        ok_motion = hidden.size > 0 and bool(np.any(vis[hidden[-1]:] >= FULLY_VISIBLE))
    ok_apart = True
    reach = np.array([o.size_m * (math.sqrt(2) if o.shape == "box" else 1.0) for o in spec.objects])
    for k in range(len(spec.objects)):
        if k != j:
            dist = np.linalg.norm(truth.position_m[:, j] - truth.position_m[:, k], axis=-1)
            ok_apart &= bool(np.all(dist >= reach[j] + reach[k] + OBJECT_GAP_M))
    return int(ok_start) + int(ok_view) + int(ok_motion) + int(ok_apart), share


# -- the sampler -----------------------------------------------------------------------------


def sample_scene(
    rng: np.random.Generator,
    ranges: ParameterRanges = IN_DISTRIBUTION,
    *,
    motion: Motion | str | Sequence[Motion | str] | None = None,
    colour: str | Sequence[str] | None = None,
    shape: str | Sequence[str] | None = None,
    region: str | Sequence[str | None] | None = None,
    n_objects: int | None = 1,
    background: Background | str | None = None,
    **overrides: Any,
) -> SceneSpec:
    """A random trackable scene, deterministic given ``rng``'s state.

    Args:
        rng: the only source of randomness.
        ranges: parameter ranges (:data:`IN_DISTRIBUTION`, :data:`OUT_OF_DISTRIBUTION`, or own).
        motion, colour, shape, region: fix these for every object (one value) or per object
            (a sequence of ``n_objects`` values, ``None`` entries drawn); unset ones are drawn
            from ``ranges`` (objects get distinct colours). ``region`` is the start cell.
        n_objects: 1..3; ``None`` draws it from ``ranges.n_objects``.
        background: a :class:`Background`, or a kind (``"plain"``/``"textured"``) whose colour
            and strength are drawn.
        **overrides: scene fields among :data:`OVERRIDABLE` (e.g. ``frames=32, width=128``);
            ``g_mps2`` and ``pixels_per_metre`` given here replace the drawn values.
    """
    unknown = set(overrides) - set(OVERRIDABLE)
    if unknown:
        raise TypeError(f"unknown override(s) {sorted(unknown)}; allowed: {OVERRIDABLE}")
    n = int(rng.choice(ranges.n_objects)) if n_objects is None else int(n_objects)
    if not 1 <= n <= MAX_OBJECTS:
        raise ValueError(f"n_objects must be in 1..{MAX_OBJECTS}, got {n}")
    motions = [Motion(m) if m is not None else Motion(rng.choice([x.value for x in ranges.motions]))
               for m in _per_object(motion, n, "motion")]
    shapes = [s if s is not None else str(rng.choice(ranges.shapes))
              for s in _per_object(shape, n, "shape")]
    colours = _per_object(colour, n, "colour")
    free = [c for c in ranges.colours if c not in colours] or list(ranges.colours)
    for i, c in enumerate(colours):
        if c is None:
            colours[i] = str(rng.choice(free))
            free = [x for x in free if x != colours[i]] or list(ranges.colours)
    regions = _per_object(region, n, "region")
    for r in regions:
        if r is not None and r not in REGIONS:
            raise ValueError(f"unknown region {r!r}; choose from {REGIONS}")
    bg = _background(rng, ranges, background)
    # Occluded objects are placed first so the others are placed knowing where the wall is.
    order = sorted(range(n), key=lambda i: motions[i] is not Motion.OCCLUDED)

    best: tuple[tuple[int, float], SceneSpec] | None = None
    for _ in range(MAX_SCENE_ATTEMPTS):
        scene = {"g_mps2": _draw(rng, ranges.g_mps2),
                 "pixels_per_metre": _draw(rng, ranges.pixels_per_metre), **overrides,
                 "background": bg}
        fr = _Frame(scene)
        placed: dict[int, ObjectSpec] = {}
        occluder: Occluder | None = None
        total = (0, 0.0)
        for i in order:
            obj, occ, score = _place(rng, ranges, fr, placed, occluder, motions[i], colours[i],
                                     shapes[i], regions[i], bg)
            placed[i], occluder = obj, occ
            total = (total[0] + score[0], total[1] + score[1])
        spec = SceneSpec(**scene, objects=tuple(placed[i] for i in range(n)), occluder=occluder)
        if best is None or total > best[0]:
            best = (total, spec)
        if total[0] == 4 * n:
            break
    assert best is not None
    return best[1]


def _place(rng: np.random.Generator, ranges: ParameterRanges, fr: _Frame,
           placed: dict[int, ObjectSpec], occluder: Occluder | None, motion: Motion, colour: str,
           shape: str, region: str | None, bg: Background
           ) -> tuple[ObjectSpec, Occluder | None, tuple[int, float]]:
    """Best of up to MAX_OBJECT_ATTEMPTS candidates for one object, given those placed so far.

    Returns ``(object, occluder, score)``. If no candidate even validates (e.g. a bounce forced
    into a region below a raised floor), the object rests in the middle of the view.
    """
    best = None
    others = list(placed.values())
    for _ in range(MAX_OBJECT_ATTEMPTS):
        obj, new_occ = _candidate(rng, ranges, fr, motion, colour, shape, region, occluder, bg)
        occ = occluder or new_occ
        try:
            spec = SceneSpec(**fr.scene, objects=(*others, obj), occluder=occ)
        except ValidationError:
            continue
        score = _check_object(spec, len(others))
        if best is None or score > best[2]:
            best = (obj, occ, score)
        if score[0] == 4:
            break
    if best is None:  # every candidate was invalid: fall back to an object at rest
        obj = ObjectSpec(shape=shape, colour=colour, motion=Motion.REST,
                         size_m=_draw(rng, ranges.size_m), x0_m=fr.w / 2, y0_m=fr.h / 2)
        best = (obj, occluder, (0, 0.0))
    return best


def _background(rng: np.random.Generator, ranges: ParameterRanges,
                background: Background | str | None) -> Background:
    if isinstance(background, Background):
        return background
    kind = background if background is not None else str(rng.choice(ranges.background_kinds))
    if kind not in ("plain", "textured"):
        raise ValueError(f"background must be a Background, 'plain' or 'textured', got {kind!r}")
    return Background(kind=kind, colour=str(rng.choice(ranges.background_colours)),
                      texture_strength=_draw(rng, ranges.texture_strength))
