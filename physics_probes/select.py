"""Which probe applies to a clip, which object it follows, and what it should measure.

The motion probe of a clip comes, first match wins, from: an explicit ``probe:`` in the suite
(``ClipContext.probe``); the scene spec (``ClipContext.scene``, else a ``scene`` in the clip's
metadata, as world clips written by :func:`evalkit.video.write_video` carry); the prompt's words
(:func:`evalkit.world.parse_prompt`, then :func:`evalkit.world.motion_from_words`).

The camera scale (pixels per metre) is taken only from an option or a scene spec, scaled to the
clip's height when the clip was made at another resolution: a prompt alone says nothing about
the camera, so then gravity can only be checked in shape (a downward parabola), not in size.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = [
    "MOTION_PROBES",
    "PROBES",
    "PROBE_OF_MOTION",
    "ClipPlan",
    "Target",
    "plan_clip",
]

#: Probes that fit an object's motion law.
MOTION_PROBES = ("freefall", "projectile", "uniform_motion", "bounce")
#: Every probe name, as registered in evalkit's metric registry.
PROBES = (*MOTION_PROBES, "permanence", "constancy")
#: World motion law -> motion probe (objects at rest have no motion law to fit).
PROBE_OF_MOTION: dict[str, str | None] = {
    "freefall": "freefall", "projectile": "projectile", "uniform": "uniform_motion",
    "occluded": "uniform_motion", "bounce": "bounce", "rest": None,
}
DEFAULT_G_MPS2 = 9.81


@dataclasses.dataclass(frozen=True)
class Target:
    """What a motion probe looks for in a clip.

    Attributes:
        probe: the probe name.
        colour: ``(3,)`` RGB of the object to follow, or None (follow the main moving object).
        pixels_per_metre: camera scale of the clip, or None when unknown.
        g_mps2: expected gravity (m/s^2), or None when the scale is unknown.
        box, box_frame: the object to follow, named by the user as a box ``(x, y, w, h)`` in
            the pixels of frame ``box_frame`` (or found there by a text-grounded detector);
            box_source: ``box`` (the user's) or ``detector``.
        object_size_m: the width of the followed object in metres (gives the camera scale).
    """

    probe: str
    colour: tuple[float, float, float] | None = None
    pixels_per_metre: float | None = None
    g_mps2: float | None = None
    box: tuple[float, float, float, float] | None = None
    box_frame: int = 0
    box_source: str = "box"
    object_size_m: float | None = None

    @property
    def g_px_s2(self) -> float | None:
        """Expected gravity in px/s^2 when both scale and g are known."""
        if self.pixels_per_metre is None or self.g_mps2 is None:
            return None
        return self.g_mps2 * self.pixels_per_metre


@dataclasses.dataclass(frozen=True)
class ClipPlan:
    """The probes that apply to one clip.

    Attributes:
        motion_targets: per applicable motion probe, its target (one per probe name).
        source: where the motion probe came from: ``explicit``, ``scene``, ``prompt`` or ``none``.
        explicit: the explicit probe name, if any.
        occluders_px: ``(M, 4)`` occluder boxes from the scene spec, in clip pixels.
    """

    motion_targets: dict[str, Target]
    source: str
    explicit: str | None = None
    occluders_px: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 4)))

    def applies(self, probe: str) -> bool:
        """Whether ``probe`` gives a verdict on this clip (permanence and constancy apply to
        every clip unless the suite named another probe explicitly)."""
        if probe in MOTION_PROBES:
            return probe in self.motion_targets
        return self.explicit is None or self.explicit in (probe, "physics") \
            or self.explicit in MOTION_PROBES


def _scene_of(clip: Any, context: Any) -> Any:
    """The context's scene spec, else one in the clip's metadata, else None."""
    from evalkit.world import SceneSpec

    scene = getattr(context, "scene", None)
    if scene is None:
        scene = (getattr(clip, "metadata", None) or {}).get("scene")
    if scene is None or isinstance(scene, SceneSpec):
        return scene
    try:
        return SceneSpec.model_validate(scene)
    except Exception:  # noqa: BLE001 - foreign metadata: ignore it, fall back to the prompt
        return None


def plan_clip(clip: Any, context: Any, *, pixels_per_metre: float | None = None,
              g_mps2: float | None = None) -> ClipPlan:
    """Decide the probes for ``clip`` (an evalkit Clip) given its ``ClipContext``.

    Args:
        pixels_per_metre: camera scale to assume (overrides the scene's).
        g_mps2: gravity to expect (overrides the scene's; default 9.81 when only the scale is
            given).

    Raises:
        ValueError: the context names an unknown probe.
    """
    from evalkit.world import PALETTE, motion_from_words, parse_prompt

    explicit = getattr(context, "probe", None)
    if explicit is not None and explicit not in (*PROBES, "physics"):
        raise ValueError(f"unknown probe {explicit!r}; choose from {', '.join(PROBES)}, physics")
    scene = _scene_of(clip, context)
    ppm, g, occluders = pixels_per_metre, g_mps2, np.zeros((0, 4))
    objects: list[tuple[str | None, tuple[float, float, float] | None]] = []
    source = "none"
    if scene is not None:
        source = "scene"
        scale = clip.height / scene.height
        if ppm is None:
            ppm = scene.pixels_per_metre * scale
        if g is None:
            g = scene.g_mps2
        objects = [(PROBE_OF_MOTION[o.motion.value], tuple(map(float, PALETTE[o.colour])))
                   for o in scene.objects]
        if scene.occluder is not None:
            occluders = _occluder_box(scene, ppm)
    else:
        prompt = getattr(context, "prompt", "") or (getattr(clip, "metadata", None) or {}).get(
            "prompt", "") or ""
        parsed = parse_prompt(prompt) if prompt else None
        if parsed is not None:
            source = "prompt"
            objects = [(PROBE_OF_MOTION[o.motion.value], tuple(map(float, PALETTE[o.colour])))
                       for o in parsed.objects]
            # parse_prompt fills in a default colour when the prompt names none: only trust
            # colours the prompt actually says.
            if not any(word in prompt.lower() for word in PALETTE):
                objects = [(p, None) for p, _ in objects]
        elif prompt:
            motion = motion_from_words(prompt)
            if motion is not None:
                source = "prompt"
                objects = [(PROBE_OF_MOTION[motion.value], None)]
    if ppm is not None and g is None:
        g = DEFAULT_G_MPS2

    targets: dict[str, Target] = {}
    if explicit in MOTION_PROBES:
        source = "explicit"
        colour = next((c for p, c in objects if p == explicit), None)
        targets[explicit] = Target(explicit, colour, ppm, g)
    elif explicit in (None, "physics"):
        for probe, colour in objects:
            if probe is not None and probe not in targets:
                targets[probe] = Target(probe, colour, ppm, g)
    else:
        source = "explicit"
    return ClipPlan(motion_targets=targets, source=source, explicit=explicit,
                    occluders_px=occluders)


def _occluder_box(scene: Any, ppm: float) -> np.ndarray:
    """``(1, 4)`` pixel box of the scene's occluder at scale ``ppm``."""
    occ = scene.occluder
    top, bottom = occ.span_m(scene.view_height_m)
    half = occ.width_m / 2
    return np.array([[(occ.x_m - half) * ppm, top * ppm, (occ.x_m + half) * ppm, bottom * ppm]])
