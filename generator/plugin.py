"""The runner's ``reference`` generator: the bundled latent diffusion transformer.

Registered as the entry point ``reference = "generator.plugin:ReferenceGenerator"`` in the group
``evalkit.generators``. Suite usage::

    generators:
      - name: reference
        options: {steps: 20, guidance: 3.0}        # checkpoint: PATH to use another one

Options: ``steps``, ``guidance``, ``eta``, ``guidance_interval`` (see :class:`ReferenceOptions`).
The clip depends only on (prompt, seed, the sampler options, checkpoint): the seed comes from the
request, each clip's noise from its own seed. Every clip carries provenance marks
(:func:`evalkit.provenance.mark_clip`: invisible watermark + "AI-generated" metadata label).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from evalkit.clip import Clip
from evalkit.generators.base import GenerationRequest, Generator
from evalkit.progress import report_progress
from evalkit.world import world_prompt_problem

from generator.defaults import (DEFAULT_ETA, DEFAULT_GUIDANCE, DEFAULT_GUIDANCE_INTERVAL,
                                DEFAULT_STEPS, check_guidance_interval)

log = logging.getLogger(__name__)

__all__ = ["ReferenceGenerator", "ReferenceOptions", "mark"]

VERSION = "3"


class ReferenceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: str | None = Field(default=None, description="checkpoint path (default: the shipped checkpoint)")
    steps: int = Field(default=DEFAULT_STEPS, ge=1, le=1000, description="Euler steps of the flow sampler")
    guidance: float = Field(default=DEFAULT_GUIDANCE, ge=0.0, le=20.0, description="classifier-free guidance")
    eta: float = Field(default=DEFAULT_ETA, ge=0.0, le=1.0,
                       description="sampler noise: 0 deterministic Euler, 1 DDPM-like ancestral steps")
    guidance_interval: tuple[float, float] = Field(
        default=DEFAULT_GUIDANCE_INTERVAL,
        description="[lo, hi]: guidance on the steps at times t (1 noise .. 0 data) in this range; "
                    "the others cost half")

    @field_validator("guidance_interval")
    @classmethod
    def _interval(cls, value: tuple[float, float]) -> tuple[float, float]:
        return check_guidance_interval(value)


def mark(clip: Clip, generator: str = "reference", version: str = VERSION) -> Clip:
    """Provenance-mark a clip (watermark + label) when :mod:`evalkit.provenance` is present."""
    try:
        from evalkit.provenance import mark_clip
    except ImportError:  # an evalkit without provenance marks: label only
        log.warning("evalkit.provenance not available: clip labelled but not watermarked")
        return Clip(clip.frames, clip.fps, {**clip.metadata, "ai_generated": True})
    return mark_clip(clip, generator=generator, version=version)


class ReferenceGenerator(Generator):
    name = "reference"
    description = "bundled Sora-style latent diffusion transformer trained on the physics world"
    version = VERSION
    Options = ReferenceOptions
    batch_size = 16

    def _checkpoint(self) -> Path:
        from generator.defaults import DEFAULT_CHECKPOINT  # torch-free: validate stays fast

        ck = self.options.checkpoint
        return Path(ck).expanduser().resolve() if ck else DEFAULT_CHECKPOINT

    def check(self, requests: Sequence[GenerationRequest]) -> list[str]:
        path = self._checkpoint()
        if not path.is_file():
            return [f"reference generator checkpoint not found: {path}"]
        return []

    def generate(self, request: GenerationRequest) -> Clip:
        return self.generate_batch([request])[0]

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Clip]:
        from generator.pipeline import FPS, load_pipeline

        if not requests:
            return []
        pipe = load_pipeline(self._checkpoint())
        o = self.options
        reported = 0

        def on_step(done: int, steps: int) -> None:
            # The batch's clips all finish at the last step; report whole clips in proportion
            # to the steps done, so a listening progress bar moves during the batch.
            nonlocal reported
            now = len(requests) * done // steps
            report_progress(now - reported)
            reported = now

        frames = pipe.generate([r.prompt for r in requests], [r.seed for r in requests],
                               steps=o.steps, guidance=o.guidance, eta=o.eta,
                               guidance_interval=o.guidance_interval, on_step=on_step)
        clips = []
        for r, f in zip(requests, frames):
            meta = {"prompt": r.prompt, "seed": r.seed, "generator": self.name,
                    "generator_version": self.version, "steps": o.steps, "guidance": o.guidance, "eta": o.eta,
                    "guidance_interval": list(o.guidance_interval),
                    "checkpoint_sha256": pipe.meta.get("sha256")}
            # A prompt outside the world it was trained on gives a clip that looks like
            # nothing; the clip says so wherever it goes (suites may still ask for it).
            warning = world_prompt_problem(r.prompt)
            if warning:
                meta["prompt_warning"] = f"{warning}; the clip is not a meaningful sample"
            clips.append(mark(Clip(f, FPS, meta), self.name, self.version))
        return clips
