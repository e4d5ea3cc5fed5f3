"""The procedural physics world: scene specs that render to clips with exact ground truth.

A :class:`SceneSpec` (objects with a motion law and start state, gravity, camera scale, background,
optional occluder) renders with a seed to a :class:`~evalkit.clip.Clip` plus
:class:`GroundTruth` (positions, velocities, visibility per frame and object). Every scene has a
plain-English prompt (:func:`prompt_for`) that :func:`parse_prompt` reads back, and
:func:`sample_scene` draws trackable scenes from in- or out-of-distribution parameter ranges.

Modules, one job each: ``palette`` (named colours), ``regions`` (3x3 grid), ``scene`` (the spec),
``physics`` (closed-form motion), ``geometry`` (areas and coverage), ``truth`` (ground truth),
``texture`` (backgrounds), ``render`` (pixels), ``prompts`` (text), ``sampling`` (random scenes).
Importing this package needs only numpy and pydantic.
"""

from evalkit.world.palette import BACKGROUND_PALETTE, OCCLUDER_PALETTE, PALETTE
from evalkit.world.physics import Trajectory, trajectory
from evalkit.world.prompts import motion_from_words, parse_prompt, prompt_for, world_prompt_problem
from evalkit.world.regions import REGIONS, region_of
from evalkit.world.render import RenderedScene, render, render_frames
from evalkit.world.sampling import (
    IN_DISTRIBUTION,
    OUT_OF_DISTRIBUTION,
    ParameterRanges,
    sample_scene,
)
from evalkit.world.scene import (
    DEFAULT_PIXELS_PER_METRE,
    Background,
    Motion,
    ObjectSpec,
    Occluder,
    SceneSpec,
)
from evalkit.world.truth import VISIBLE_THRESHOLD, GroundTruth, ground_truth

__all__ = [
    "SceneSpec", "ObjectSpec", "Background", "Occluder", "Motion",
    "PALETTE", "BACKGROUND_PALETTE", "OCCLUDER_PALETTE", "REGIONS", "region_of",
    "render", "render_frames", "RenderedScene", "GroundTruth", "ground_truth", "VISIBLE_THRESHOLD",
    "trajectory", "Trajectory",
    "prompt_for", "parse_prompt", "motion_from_words", "world_prompt_problem",
    "ParameterRanges", "IN_DISTRIBUTION", "OUT_OF_DISTRIBUTION", "sample_scene",
    "DEFAULT_PIXELS_PER_METRE",
]  # fmt: skip
