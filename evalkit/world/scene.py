"""The scene spec: a structured, JSON-round-trippable description of one physics-world clip.

A :class:`SceneSpec` holds everything that fixes a clip's pixels apart from the seed: view size
and timing, camera scale, gravity, floor, background, up to three objects with their motion law
and start state, an optional occluder and optional sensor noise. It renders (with a seed) to a
:class:`~evalkit.clip.Clip` plus exact ground truth (:mod:`evalkit.world.render`), and has a
plain-English prompt (:mod:`evalkit.world.prompts`).

Conventions:
    * Metres, seconds, m/s. ``x`` to the right, ``y`` DOWN from the top-left corner of the view
      (image convention), so gravity is positive along ``y`` and an upward velocity is negative.
    * A pixel coordinate is ``metres * pixels_per_metre``; pixel ``(row i, col j)`` is centred at
      ``(j + 0.5, i + 0.5)``, so the view spans ``[0, width] x [0, height]`` pixels.
    * Frame ``k`` shows time ``k / fps``.
    * ``size_m`` is a ball's radius or a box's half-side: in both cases the object's lowest point
      is ``y + size_m`` and its extent along each axis is ``2 * size_m``.

Default scale: :data:`DEFAULT_PIXELS_PER_METRE` = 2.5 px/m makes the 64-px view 25.6 m tall, so the
default 16-frame, 8-fps clip (last frame at 1.875 s, a 17.2 m free fall = 43 px) keeps an object
dropped from the top in view to the end. Physically odd (objects are metres wide), but pixels per
metre is just a parameter: what matters to a probe is the acceleration in px/s^2 (24.5 here).

Models are frozen (hashable), reject unknown fields, and round-trip through
``model_dump(mode="json")`` / ``model_validate``.
"""

from __future__ import annotations

import enum
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evalkit.world.palette import BACKGROUND_PALETTE, OCCLUDER_PALETTE, PALETTE
from evalkit.world.regions import region_of

__all__ = [
    "Motion",
    "ObjectSpec",
    "Background",
    "Occluder",
    "SceneSpec",
    "DEFAULT_PIXELS_PER_METRE",
    "EARTH_G",
    "MAX_OBJECTS",
    "occluder_width_m",
]

DEFAULT_WIDTH = 64
DEFAULT_HEIGHT = 64
DEFAULT_FRAMES = 16
DEFAULT_FPS = 8.0
#: 2.5 px/m: a 2-second fall from the top of a 64-px view stays mostly in view (see module doc).
DEFAULT_PIXELS_PER_METRE = 2.5
EARTH_G = 9.81
#: Ball radius / box half-side (m): 4 px at the default scale, big enough to track at 64 px.
DEFAULT_SIZE_M = 1.6
DEFAULT_RESTITUTION = 0.7
#: Texture standard deviation as a fraction of full scale (0.08 * 255 ~ 20 grey levels).
DEFAULT_TEXTURE_STRENGTH = 0.08
MAX_TEXTURE_STRENGTH = 0.2
MAX_OBJECTS = 3
#: Frame intervals an occluded object spends fully hidden behind a wall of
#: :func:`occluder_width_m`; 1.5 guarantees at least one frame lands fully behind it.
HIDDEN_FRAME_INTERVALS = 1.5
#: Slack (m) for "starts at or above the floor" so round-off in derived specs is not rejected.
FLOOR_TOLERANCE_M = 1e-9

_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Motion(str, enum.Enum):
    """Motion law of an object (see :mod:`evalkit.world.physics` for the formulas)."""

    FREEFALL = "freefall"  # from rest, gravity only
    PROJECTILE = "projectile"  # launched with horizontal speed vx (and optional vy), gravity
    UNIFORM = "uniform"  # constant velocity, no gravity
    BOUNCE = "bounce"  # falls under gravity and rebounds from the floor with restitution e
    REST = "rest"  # stays put
    OCCLUDED = "occluded"  # uniform horizontal motion passing behind the scene's occluder


def _check_name(value: str, palette: dict, what: str) -> str:
    if value not in palette:
        raise ValueError(f"unknown {what} colour {value!r}; choose from {sorted(palette)}")
    return value


class ObjectSpec(BaseModel):
    """One object: shape, colour, size and start state (metres, m/s; ``y`` down).

    Velocity rules by motion (checked): ``freefall`` and ``rest`` start with zero velocity;
    ``projectile`` needs ``vx != 0``; ``uniform`` needs a non-zero velocity; ``occluded`` needs
    ``vx != 0`` and ``vy == 0``; ``bounce`` takes any ``vx`` and ``vy``. ``restitution`` is used
    by ``bounce`` only (the speed ratio after/before a floor contact, in ``(0, 1]``).
    """

    model_config = _MODEL_CONFIG

    shape: Literal["ball", "box"] = "ball"
    colour: str = "red"
    size_m: float = Field(DEFAULT_SIZE_M, gt=0, description="ball radius or box half-side (m)")
    motion: Motion = Motion.FREEFALL
    x0_m: float = Field(12.8, description="start centre x (m), rightwards from the left edge")
    y0_m: float = Field(3.2, description="start centre y (m), DOWN from the top edge")
    vx_mps: float = Field(0.0, description="start velocity x (m/s), > 0 moves right")
    vy_mps: float = Field(0.0, description="start velocity y (m/s), > 0 moves down")
    restitution: float = Field(DEFAULT_RESTITUTION, gt=0, le=1, description="bounce only")

    @field_validator("colour")
    @classmethod
    def _known_colour(cls, v: str) -> str:
        return _check_name(v, PALETTE, "object")

    @model_validator(mode="after")
    def _velocity_fits_motion(self) -> ObjectSpec:
        m, vx, vy = self.motion, self.vx_mps, self.vy_mps
        if m in (Motion.FREEFALL, Motion.REST) and (vx != 0 or vy != 0):
            raise ValueError(f"{m.value} objects start at rest: vx_mps and vy_mps must be 0")
        if m is Motion.PROJECTILE and vx == 0:
            raise ValueError("projectile needs a horizontal launch speed vx_mps != 0")
        if m is Motion.UNIFORM and vx == 0 and vy == 0:
            raise ValueError("uniform motion needs a non-zero velocity")
        if m is Motion.OCCLUDED and (vx == 0 or vy != 0):
            raise ValueError("occluded motion is horizontal: vx_mps != 0 and vy_mps == 0")
        return self


class Background(BaseModel):
    """Plain colour, or a smooth seeded texture around it (see :mod:`evalkit.world.texture`)."""

    model_config = _MODEL_CONFIG

    kind: Literal["plain", "textured"] = "plain"
    colour: str = "gray"
    texture_strength: float = Field(
        DEFAULT_TEXTURE_STRENGTH, ge=0, le=MAX_TEXTURE_STRENGTH,
        description="texture standard deviation as a fraction of 255 (textured only)",
    )

    @field_validator("colour")
    @classmethod
    def _known_colour(cls, v: str) -> str:
        return _check_name(v, BACKGROUND_PALETTE, "background")


class Occluder(BaseModel):
    """A vertical bar drawn in front of every object (metres).

    It spans ``[x_m - width_m / 2, x_m + width_m / 2]`` horizontally and ``[y_top_m, y_bottom_m]``
    vertically, where ``None`` means the top / bottom edge of the view (full height).
    """

    model_config = _MODEL_CONFIG

    x_m: float = Field(description="centre x (m)")
    width_m: float = Field(gt=0)
    colour: str = "gray"
    y_top_m: float | None = None
    y_bottom_m: float | None = None

    @field_validator("colour")
    @classmethod
    def _known_colour(cls, v: str) -> str:
        return _check_name(v, OCCLUDER_PALETTE, "occluder")

    @model_validator(mode="after")
    def _span_ordered(self) -> Occluder:
        top, bottom = self.y_top_m, self.y_bottom_m
        if top is not None and bottom is not None and top >= bottom:
            raise ValueError("occluder y_top_m must be above (smaller than) y_bottom_m")
        return self

    def span_m(self, view_height_m: float) -> tuple[float, float]:
        """``(top, bottom)`` in metres with ``None`` resolved to the view edges."""
        top = 0.0 if self.y_top_m is None else self.y_top_m
        bottom = view_height_m if self.y_bottom_m is None else self.y_bottom_m
        return top, bottom


def occluder_width_m(size_m: float, speed_mps: float, fps: float) -> float:
    """Occluder width (m) that fully hides an object of ``size_m`` crossing at ``speed_mps``.

    The object is entirely behind a bar of width ``w`` for ``(w - 2 size) / speed`` seconds; this
    makes that :data:`HIDDEN_FRAME_INTERVALS` frame intervals.
    """
    return 2.0 * size_m + HIDDEN_FRAME_INTERVALS * abs(speed_mps) / fps


class SceneSpec(BaseModel):
    """A whole physics-world clip, less the seed.

    Attributes:
        width, height: view size in pixels.
        frames, fps: clip length; frame ``k`` is at ``k / fps`` seconds.
        pixels_per_metre: camera scale (px/m).
        g_mps2: gravity (m/s^2, downwards).
        floor_y_m: floor height (m, down from the top); ``None`` = bottom of the view. Only
            ``bounce`` objects interact with it; it is not drawn.
        background: :class:`Background`.
        objects: 1 to 3 :class:`ObjectSpec`, drawn in order (later ones in front).
        occluder: optional :class:`Occluder`, drawn in front of all objects. Required when an
            object is ``occluded``: its centre must cross the occluder's centre line during the
            clip, at a height inside the occluder's span.
        noise_std: standard deviation of seeded Gaussian sensor noise, in grey levels (0..255).
    """

    model_config = _MODEL_CONFIG

    width: int = Field(DEFAULT_WIDTH, ge=4, le=4096)
    height: int = Field(DEFAULT_HEIGHT, ge=4, le=4096)
    frames: int = Field(DEFAULT_FRAMES, ge=1, le=100_000)
    fps: float = Field(DEFAULT_FPS, gt=0)
    pixels_per_metre: float = Field(DEFAULT_PIXELS_PER_METRE, gt=0)
    g_mps2: float = Field(EARTH_G, gt=0)
    floor_y_m: float | None = Field(None, gt=0)
    background: Background = Background()
    objects: tuple[ObjectSpec, ...] = Field((ObjectSpec(),), min_length=1, max_length=MAX_OBJECTS)
    occluder: Occluder | None = None
    noise_std: float = Field(0.0, ge=0, le=128)

    @model_validator(mode="after")
    def _consistent(self) -> SceneSpec:
        floor, t_end = self.floor_m, self.t_end_s
        for i, obj in enumerate(self.objects):
            if obj.motion is Motion.BOUNCE and obj.y0_m + obj.size_m > floor + FLOOR_TOLERANCE_M:
                raise ValueError(f"objects[{i}] bounces but starts below the floor "
                                 f"(y0_m + size_m = {obj.y0_m + obj.size_m:g} > floor {floor:g})")
            if obj.motion is Motion.OCCLUDED:
                self._check_occluded(i, obj, t_end)
        return self

    def _check_occluded(self, i: int, obj: ObjectSpec, t_end: float) -> None:
        occ = self.occluder
        if occ is None:
            raise ValueError(f"objects[{i}] is occluded but the scene has no occluder")
        x_start, x_end = obj.x0_m, obj.x0_m + obj.vx_mps * t_end
        if not min(x_start, x_end) < occ.x_m < max(x_start, x_end):
            raise ValueError(f"objects[{i}] is occluded but does not pass behind the occluder "
                             f"during the clip (x goes {x_start:g} -> {x_end:g} m, occluder at "
                             f"{occ.x_m:g} m)")
        top, bottom = occ.span_m(self.view_height_m)
        if not top <= obj.y0_m <= bottom:
            raise ValueError(f"objects[{i}] is occluded but passes above or below the occluder")

    # -- derived quantities -----------------------------------------------------------------
    @property
    def view_width_m(self) -> float:
        return self.width / self.pixels_per_metre

    @property
    def view_height_m(self) -> float:
        return self.height / self.pixels_per_metre

    @property
    def floor_m(self) -> float:
        """Floor height in metres, with ``None`` resolved to the bottom of the view."""
        return self.view_height_m if self.floor_y_m is None else self.floor_y_m

    @property
    def t_end_s(self) -> float:
        """Time of the last frame (s)."""
        return (self.frames - 1) / self.fps

    @property
    def times_s(self) -> np.ndarray:
        """``(T,)`` float64 frame times in seconds."""
        return np.arange(self.frames, dtype=np.float64) / self.fps

    def start_region(self, index: int = 0) -> str:
        """3x3-grid region (see :data:`~evalkit.world.regions.REGIONS`) of an object's start."""
        obj = self.objects[index]
        return region_of(obj.x0_m, obj.y0_m, self.view_width_m, self.view_height_m)

    @property
    def prompt(self) -> str:
        """Plain-English prompt for this scene (see :func:`evalkit.world.prompts.prompt_for`)."""
        from evalkit.world.prompts import prompt_for  # lazy: prompts imports this module

        return prompt_for(self)

    def to_json_dict(self) -> dict:
        """JSON-able dict; ``SceneSpec.model_validate(d)`` rebuilds an equal spec."""
        return self.model_dump(mode="json")

    def at_resolution(self, height: int, width: int) -> SceneSpec:
        """The same physical scene rendered at ``height x width`` pixels.

        ``pixels_per_metre`` scales by ``height / self.height``, so the vertical extent in metres
        (and with it every fall, bounce and the default floor) is unchanged. With a different
        aspect ratio the view shows more (or less) of the world to the right; nothing moves.
        """
        scale = height / self.height
        return SceneSpec.model_validate({**self.model_dump(), "height": height, "width": width,
                                         "pixels_per_metre": self.pixels_per_metre * scale})
