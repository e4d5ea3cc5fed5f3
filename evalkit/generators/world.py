"""``world``: renders each prompt's ground truth, the perfect-physics baseline.

A prompt's scene comes from the suite (built-in suites carry one per prompt) or, failing
that, from parsing the prompt's words (:func:`evalkit.world.parse_prompt`). The same scene
and seed give the same pixels, so this generator is the ceiling every other one is read
against.

The seed draws only what the scene leaves to chance: a textured background's pattern and
sensor noise. A plain-background scene without noise (the quickstart's six) is the same clip
for every seed. That is kept on purpose (the scene *is* the ground truth; moving its objects
per seed would change what the probes are checked against), and the runner finds such repeats
instead: clip metrics count each distinct clip once and the table says how many repeated
(:func:`evalkit.store.duplicate_clips`).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from evalkit.clip import Clip
from evalkit.generators.base import GenerationRequest, Generator
from evalkit.world import SceneSpec, parse_prompt, render


class WorldOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    height: int | None = Field(default=None, ge=8, le=2048, description="override (px)")
    width: int | None = Field(default=None, ge=8, le=2048, description="override (px)")
    frames: int | None = Field(default=None, ge=2, le=1024, description="override")
    fps: float | None = Field(default=None, gt=0, le=240, description="override")


class WorldGenerator(Generator):
    name = "world"
    description = "renders each prompt's physics-world scene exactly (the ground truth)"
    version = "1"
    Options = WorldOptions

    def scene_for(self, request: GenerationRequest) -> SceneSpec:
        scene = request.scene if request.scene is not None else parse_prompt(request.prompt)
        if scene is None:
            raise ValueError(
                f"cannot render prompt '{request.prompt}': it has no scene spec and its words "
                "name no object and motion the world knows (e.g. 'a red ball falls')"
            )
        opts = self.options
        if opts.height is not None or opts.width is not None:
            scene = scene.at_resolution(opts.height or scene.height, opts.width or scene.width)
        updates = {k: v for k, v in (("frames", opts.frames), ("fps", opts.fps)) if v is not None}
        if updates:
            scene = SceneSpec.model_validate({**scene.model_dump(), **updates})
        return scene

    def check(self, requests: Sequence[GenerationRequest]) -> list[str]:
        problems = []
        for request in requests:
            if request.sample != 0:
                continue
            try:
                self.scene_for(request)
            except ValueError as exc:
                problems.append(str(exc))
        return problems

    def generate(self, request: GenerationRequest) -> Clip:
        return render(self.scene_for(request), seed=request.seed).clip
