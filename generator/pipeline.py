"""Text-to-video sampling: prompt -> text states -> DiT + rectified flow in latent space -> VAE decode.

:class:`Pipeline` holds a trained DiT, the VAE and the latent statistics, and makes clips in
batches. Each clip's starting and step noise come from its own seed (a ``torch.Generator`` per
clip), so a clip does not depend on the other prompts of its batch beyond float rounding (the
matrix kernels add in another order for another batch size); the same prompts, seeds and sampler
settings give the same frames.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evalkit.hashing import file_sha256
from generator.data import to_uint8
from generator.defaults import (DEFAULT_CHECKPOINT, DEFAULT_ETA, DEFAULT_GUIDANCE, DEFAULT_GUIDANCE_INTERVAL,
                                DEFAULT_STEPS, check_guidance_interval)
from generator.dit import DiT, DiT_models
from generator.flow import euler_sample
from generator.vae import VAE_models, VideoVAE

log = logging.getLogger(__name__)

__all__ = ["Pipeline", "load_pipeline", "untrained_pipeline", "save_checkpoint",
           "DEFAULT_CHECKPOINT", "FPS", "DEFAULT_STEPS",
           "DEFAULT_GUIDANCE"]

#: Frame rate of the clips (the physics world's default, which the model was trained on).
FPS = 8.0


class Pipeline:
    """A trained generator ready to sample (eval mode, no gradients).

    Args:
        dit: the diffusion transformer (EMA weights).
        vae: the video VAE.
        latent_stats: ``{"mean": [z], "std": [z]}`` per-channel latent normalisation.
        meta: facts about the checkpoint (steps trained, config, ...).
    """

    def __init__(self, dit: DiT, vae: VideoVAE, latent_stats: dict[str, list[float]],
                 meta: dict[str, Any] | None = None) -> None:
        self.dit = dit.eval()
        self.vae = vae.eval()
        self.mean = torch.tensor(latent_stats["mean"]).view(1, -1, 1, 1, 1)
        self.std = torch.tensor(latent_stats["std"]).view(1, -1, 1, 1, 1)
        self.latent_shape = tuple(dit.latent_shape)
        self.meta = meta or {}
        self._text = None

    @property
    def text(self):
        if self._text is None:
            from generator.text import get_text_encoder

            self._text = get_text_encoder()
        return self._text

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, path: str | Path = DEFAULT_CHECKPOINT) -> Pipeline:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"generator checkpoint not found: {path} (train one with "
                "'generator train --config generator/configs/v3.yaml')")
        ck = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a reference-generator checkpoint")
        vae = VAE_models[ck["vae"]["name"]]()
        vae.load_state_dict(ck["vae"]["state_dict"])
        dcfg = dict(ck["dit"]["config"])
        dit = DiT(**{**dcfg, "latent_shape": tuple(dcfg["latent_shape"]),
                     "patch": tuple(dcfg["patch"])})
        dit.load_state_dict({k: v.float() for k, v in ck["dit"]["state_dict"].items()})
        meta = dict(ck.get("meta", {}))
        meta["sha256"] = file_sha256(path)
        log.info("loaded generator checkpoint %s", path)
        return cls(dit, vae, ck["latent_stats"], meta)

    # -- sampling --------------------------------------------------------------------------
    def noise(self, seeds: Sequence[int]) -> torch.Tensor:
        """``(B, C, T, H, W)`` starting noise, one ``torch.Generator`` per seed."""
        return self._noise(self._generators(seeds))

    @staticmethod
    def _generators(seeds: Sequence[int]) -> list[torch.Generator]:
        return [torch.Generator().manual_seed(int(s)) for s in seeds]

    def _noise(self, generators: Sequence[torch.Generator]) -> torch.Tensor:
        return torch.cat([torch.randn((1, *self.latent_shape), generator=g) for g in generators])

    @torch.no_grad()
    def generate_latents(self, prompts: Sequence[str], seeds: Sequence[int],
                         steps: int = DEFAULT_STEPS, guidance: float = DEFAULT_GUIDANCE,
                         shift: float = 1.0, eta: float = DEFAULT_ETA,
                         guidance_interval: tuple[float, float] = DEFAULT_GUIDANCE_INTERVAL,
                         on_step: Callable[[int, int], None] | None = None,
                         ) -> torch.Tensor:
        """Normalised latents ``(B, C, T, H, W)`` for prompts and seeds.

        ``eta``: 0 for the deterministic Euler sampler, > 0 for stochastic steps
        (:func:`generator.flow.euler_sample`); each clip's step noise continues its own seed's
        generator, so a clip still depends only on its prompt, seed and the sampler settings.
        ``guidance_interval (lo, hi)``: classifier-free guidance on the steps that start at a
        time ``t`` in ``[lo, hi]``; the other steps take the conditional velocity alone, at
        half the cost (guidance in a limited interval, Kynkaanniemi et al. 2024).
        ``on_step(done, steps)``: called after each sampler step (progress display).
        """
        if len(prompts) != len(seeds):
            raise ValueError("need one seed per prompt")
        lo, hi = check_guidance_interval(guidance_interval)
        tokens, mask, pooled = self.text(list(prompts))
        b = len(prompts)
        cond = self.dit.encode_text(tokens, mask, pooled)
        guided = None
        if guidance != 1.0:
            drop = torch.arange(2 * b) >= b
            guided = self.dit.encode_text(tokens.repeat(2, 1, 1), mask.repeat(2, 1),
                                          pooled.repeat(2, 1), drop)

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            # a step's time is a float32 of the schedule: bounds count within 1e-6
            if guided is None or not lo - 1e-6 <= float(t[0]) <= hi + 1e-6:
                return self.dit(x, t, text=cond)
            v = self.dit(x.repeat(2, 1, 1, 1, 1), t.repeat(2), text=guided)
            v_cond, v_uncond = v[:b], v[b:]
            return v_uncond + guidance * (v_cond - v_uncond)

        generators = self._generators(seeds)
        return euler_sample(velocity, self._noise(generators), steps, shift, eta, generators,
                            on_step=on_step)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> np.ndarray:
        """Normalised latents -> uint8 frames ``(B, T, H, W, 3)``."""
        return to_uint8(self.vae.decode(z * self.std + self.mean))

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], steps: int = DEFAULT_STEPS,
                 guidance: float = DEFAULT_GUIDANCE, eta: float = DEFAULT_ETA,
                 guidance_interval: tuple[float, float] = DEFAULT_GUIDANCE_INTERVAL,
                 on_step: Callable[[int, int], None] | None = None,
                 ) -> np.ndarray:
        """uint8 clips ``(B, 16, 64, 64, 3)`` at :data:`FPS` (arguments: :meth:`generate_latents`)."""
        return self.decode(self.generate_latents(prompts, seeds, steps, guidance, eta=eta,
                                                 guidance_interval=guidance_interval,
                                                 on_step=on_step))


CHECKPOINT_FORMAT = "evalkit-reference-generator/1"


def save_checkpoint(path: str | Path, dit: DiT, vae: VideoVAE, vae_name: str, dit_name: str,
                    latent_stats: dict[str, list[float]], meta: dict[str, Any] | None = None,
                    dit_dtype: torch.dtype = torch.float32) -> Path:
    """Write a checkpoint :meth:`Pipeline.from_checkpoint` reads (atomically).

    ``dit_dtype=torch.float16`` halves the file (the DiT is ~95% of it); loading casts back to
    float32, so what is evaluated is exactly what is shipped.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "vae": {"name": vae_name, "config": vae.config, "state_dict": vae.state_dict()},
        "dit": {"name": dit_name, "config": dit.config,
                "state_dict": {k: v.to(dit_dtype) if v.is_floating_point() else v
                               for k, v in dit.state_dict().items()}},
        "latent_stats": latent_stats,
        "meta": meta or {},
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


@functools.lru_cache(maxsize=2)
def _cached(path: str) -> Pipeline:
    return Pipeline.from_checkpoint(path)


def load_pipeline(checkpoint: str | Path | None = None) -> Pipeline:
    """The pipeline of ``checkpoint`` (default: the shipped one), cached per process."""
    path = Path(checkpoint).expanduser().resolve() if checkpoint else DEFAULT_CHECKPOINT
    return _cached(str(path))


def untrained_pipeline(seed: int = 0, dit_name: str = "DiT-XT/2x4",
                       vae: VideoVAE | None = None,
                       latent_stats: dict[str, list[float]] | None = None) -> Pipeline:
    """A randomly initialised DiT (the evaluation floor), on a given or random VAE."""
    torch.manual_seed(seed)
    vae = vae or VAE_models["VAE-XS"]()
    stats = latent_stats or {"mean": [0.0] * vae.z_channels, "std": [1.0] * vae.z_channels}
    dit = DiT_models[dit_name](latent_shape=(vae.z_channels, 8, 16, 16))
    # adaLN-Zero makes a fresh DiT output exactly zero; perturb the zero-initialised layers so
    # the floor is a random network rather than a constant.
    with torch.no_grad():
        for p in dit.parameters():
            if p.abs().sum() == 0:
                p.normal_(0.0, 0.02)
    return Pipeline(dit, vae, stats, {"untrained": True})
