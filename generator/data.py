"""Training and evaluation data: physics-world scenes rendered on the fly, with held-out splits.

The generator is trained on one-object scenes from :data:`~evalkit.world.IN_DISTRIBUTION`,
every motion, shape, colour, start region and background, *except* a fixed set of held-out
(colour, motion, start region) combinations (:func:`heldout_combos`, about 12% of the 486).
Evaluation uses prompts of those held-out combinations (:func:`heldout_scenes`), so a good score
means the model composes colour, motion and place it never saw together; the
:data:`~evalkit.world.OUT_OF_DISTRIBUTION` ranges (other gravity, sizes, speeds) give the OOD
report.

Clips are ``uint8 (T, H, W, 3)``; models take ``float (B, 3, T, H, W)`` in ``[-1, 1]``
(:func:`to_tensor` / :func:`to_uint8`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np
import torch

from evalkit.world import (
    DEFAULT_PIXELS_PER_METRE,
    IN_DISTRIBUTION,
    OUT_OF_DISTRIBUTION,
    PALETTE,
    REGIONS,
    Motion,
    SceneSpec,
    ground_truth,
    render,
    sample_scene,
)
from evalkit.world.regions import region_of
from evalkit.world.scene import EARTH_G

__all__ = [
    "Combo",
    "heldout_combos",
    "combo_of",
    "training_scene",
    "heldout_scenes",
    "heldout_freefall_scenes",
    "ood_scenes",
    "training_batch",
    "to_tensor",
    "to_uint8",
    "HELDOUT_SHARE",
    "EVAL_MOTIONS",
]

Combo = tuple[str, str, str]  # (colour, motion, start region)

#: Share of (colour, motion, region) combinations never shown in training.
HELDOUT_SHARE = 0.12
#: Seed of the held-out draw: part of the data definition, never change it for a shipped model.
HELDOUT_SEED = 20260
#: Motions of the 64-prompt evaluation, and how many prompts each (free fall weighted up: its
#: g error is a Done-when number).
EVAL_MOTIONS: dict[str, int] = {"freefall": 16, "projectile": 10, "bounce": 10, "uniform": 10,
                                "rest": 9, "occluded": 9}


@functools.lru_cache(maxsize=1)
def heldout_combos() -> frozenset[Combo]:
    """The held-out (colour, motion, region) combinations (deterministic)."""
    combos = [(c, m.value, r) for c in PALETTE for m in Motion for r in REGIONS]
    rng = np.random.default_rng(HELDOUT_SEED)
    n = int(round(HELDOUT_SHARE * len(combos)))
    picked = rng.choice(len(combos), size=n, replace=False)
    return frozenset(combos[i] for i in sorted(picked))


def combo_of(spec: SceneSpec) -> Combo:
    """(colour, motion, start region) of the scene's first object."""
    obj = spec.objects[0]
    region = region_of(obj.x0_m, obj.y0_m, spec.view_width_m, spec.view_height_m)
    return obj.colour, obj.motion.value, region


def training_scene(rng: np.random.Generator) -> SceneSpec:
    """A random one-object in-distribution scene whose combination is not held out."""
    held = heldout_combos()
    while True:
        spec = sample_scene(rng, IN_DISTRIBUTION, n_objects=1,
                            region=str(rng.choice(REGIONS)))
        if combo_of(spec) not in held:
            return spec


def _scenes_for(combos: list[Combo], ranges, n: int, seed: int, n_objects: int = 1,
                **overrides) -> list[SceneSpec]:
    """``n`` scenes stratified by :data:`EVAL_MOTIONS`, first object's combo from ``combos``."""
    rng = np.random.default_rng(seed)
    scale = n / sum(EVAL_MOTIONS.values())
    counts = {m: int(k * scale) for m, k in EVAL_MOTIONS.items()}
    for m in list(counts)[: n - sum(counts.values())]:  # the remainder, free fall first
        counts[m] += 1
    out: list[SceneSpec] = []
    for motion, k in counts.items():
        pool = [c for c in combos if c[1] == motion]
        made = 0
        for _ in range(50 * k):
            if made == k:
                break
            colour, _, region = pool[int(rng.integers(len(pool)))]
            rest = [None] * (n_objects - 1)
            spec = sample_scene(rng, ranges, n_objects=n_objects, motion=[motion, *rest],
                                colour=[colour, *rest], region=[region, *rest], **overrides)
            # the start really is in that cell, and the object stays in view (trackable)
            if combo_of(spec) == (colour, motion, region) and _in_view(spec):
                out.append(spec)
                made += 1
    return out


def _in_view(spec: SceneSpec, share: float = 0.75) -> bool:
    """The first object is at least half in view in ``share`` of the frames."""
    truth = ground_truth(spec)
    return bool(np.mean(truth.in_view_fraction[:, 0] >= 0.5) >= share)


def heldout_scenes(n: int = 64, seed: int = 0) -> list[SceneSpec]:
    """``n`` in-distribution scenes of held-out combinations (the generalisation test).

    Gravity and camera scale are the world's defaults (9.81 m/s^2, 2.5 px/m: the middle of the
    training ranges), since a prompt does not name them.
    """
    return _scenes_for(sorted(heldout_combos()), IN_DISTRIBUTION, n, seed,
                       g_mps2=EARTH_G, pixels_per_metre=DEFAULT_PIXELS_PER_METRE)


def heldout_freefall_scenes(n: int = 48, seed: int = 1) -> list[SceneSpec]:
    """``n`` free falls of held-out combinations (world defaults, as :func:`heldout_scenes`):
    a larger sample of the one motion whose g is a target, for choosing sampler settings on
    seeds other than the test's."""
    falls = [c for c in sorted(heldout_combos()) if c[1] == Motion.FREEFALL.value]
    rng = np.random.default_rng([seed, 17])
    out: list[SceneSpec] = []
    while len(out) < n:
        colour, motion, region = falls[int(rng.integers(len(falls)))]
        spec = sample_scene(rng, IN_DISTRIBUTION, n_objects=1, motion=[motion], colour=[colour],
                            region=[region], g_mps2=EARTH_G,
                            pixels_per_metre=DEFAULT_PIXELS_PER_METRE)
        if combo_of(spec) == (colour, motion, region) and _in_view(spec):
            out.append(spec)
    return out


def ood_scenes(n: int = 64, seed: int = 0) -> list[SceneSpec]:
    """``n`` scenes from the out-of-distribution ranges: three objects, other g, sizes, speeds.

    The first object's (colour, motion, region) is any combination (the main object).
    """
    combos = [(c, m.value, r) for c in PALETTE for m in Motion for r in REGIONS]
    return _scenes_for(combos, OUT_OF_DISTRIBUTION, n, seed, n_objects=3)


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` or ``(B, T, H, W, 3)`` -> float ``(B, 3, T, H, W)`` in [-1, 1]."""
    x = torch.from_numpy(np.asarray(frames))
    if x.ndim == 4:
        x = x[None]
    return x.permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float ``(B, 3, T, H, W)`` in [-1, 1] -> uint8 ``(B, T, H, W, 3)``."""
    y = ((x.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return np.ascontiguousarray(y.permute(0, 2, 3, 4, 1).numpy())


def training_batch(rng: np.random.Generator, batch_size: int) -> tuple[np.ndarray, list[str]]:
    """``(B, T, H, W, 3)`` uint8 frames and their prompts."""
    frames, prompts = [], []
    for _ in range(batch_size):
        spec = training_scene(rng)
        frames.append(render(spec, seed=int(rng.integers(2**31))).clip.frames)
        prompts.append(spec.prompt)
    return np.stack(frames), prompts


def batches(seed: int, start_step: int, batch_size: int) -> Iterator[tuple[np.ndarray, list[str]]]:
    """Deterministic batch stream: batch ``k`` depends only on ``(seed, k)`` (resumable)."""
    step = start_step
    while True:
        yield training_batch(np.random.default_rng([seed, step]), batch_size)
        step += 1
