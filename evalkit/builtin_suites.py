"""Built-in prompt sets, each prompt with the world scene spec it came from.

The sets are generated from fixed seeds by :func:`evalkit.world.sample_scene`, so they are the
same on every machine; ``version`` changes whenever their content does, and run summaries
record it. ``evalkit ls suites`` lists them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from evalkit.world import IN_DISTRIBUTION, Motion, sample_scene

__all__ = ["BUILTIN_SUITES", "BuiltinSuite"]

_OBJECT_COLOURS = ("red", "green", "blue", "yellow", "orange", "purple", "cyan", "white")
_SHAPES = ("ball", "box")


@dataclasses.dataclass(frozen=True)
class BuiltinSuite:
    name: str
    description: str
    version: str
    build: Callable[[], list]

    def prompts(self) -> list:
        return self.build()


def _scene_prompts(per_motion: int, seed: int, textured_every: int) -> list:
    """``per_motion`` distinct single-object prompts for every motion, deterministically."""
    from evalkit.suite import PromptItem  # suite imports this module lazily; avoid a cycle

    rng = np.random.default_rng(seed)
    items: list[PromptItem] = []
    seen: set[str] = set()
    for motion in Motion:
        made = 0
        attempt = 0
        while made < per_motion:
            colour = _OBJECT_COLOURS[(made + attempt) % len(_OBJECT_COLOURS)]
            shape = _SHAPES[(made // 2 + attempt) % len(_SHAPES)]
            background = "textured" if textured_every and made % textured_every == 1 else "plain"
            spec = sample_scene(
                rng, IN_DISTRIBUTION, motion=motion, colour=colour, shape=shape,
                background=background,
            )
            text = spec.prompt
            if text in seen:  # same words, other numbers: the prompt must identify the clip
                attempt += 1
                continue
            seen.add(text)
            items.append(PromptItem(text=text, scene=spec))
            made += 1
    return items


BUILTIN_SUITES: dict[str, BuiltinSuite] = {
    "quickstart": BuiltinSuite(
        name="quickstart",
        description="6 prompts, one per motion (plain background): a smoke test in seconds",
        version="1",
        build=lambda: _scene_prompts(per_motion=1, seed=1, textured_every=0),
    ),
    "physics-basic": BuiltinSuite(
        name="physics-basic",
        description="48 prompts, 8 per motion (free fall, projectile, uniform, bounce, rest, "
        "occluded), a quarter on textured backgrounds",
        version="1",
        build=lambda: _scene_prompts(per_motion=8, seed=2, textured_every=4),
    ),
}
