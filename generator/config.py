"""Training configuration: one YAML file (``generator/configs/v3.yaml``) fixes a whole run.

Unknown keys are refused (pydantic ``extra="forbid"``) so that a typo cannot silently fall back
to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["VAEConfig", "DiTConfig", "TrainConfig", "load_config"]

_STRICT = ConfigDict(extra="forbid")


class VAEConfig(BaseModel):
    model_config = _STRICT

    model: str = "VAE-XS"
    batch_size: int = Field(8, ge=1)
    steps: int = Field(800, ge=0)
    lr: float = Field(2e-3, gt=0)
    kl_weight: float = Field(1e-5, ge=0)
    #: Extra loss weight on object pixels (far from the clip's background colour).
    object_weight: float = Field(20.0, ge=0)
    #: Train on random ``crop x crop`` windows (mostly around the object): 4x cheaper at 32.
    crop: int | None = Field(None, ge=8)
    #: Then fine-tune the decoder alone (encoder frozen, so the DiT's latents do not move).
    decoder_steps: int = Field(0, ge=0)
    decoder_lr: float = Field(1e-3, gt=0)
    #: Take the VAE (and its latent statistics) from a shipped generator checkpoint instead of
    #: training it: stages 1 and 1b are skipped, so a later model keeps an earlier one's latents.
    init_from: str | None = None
    log_every: int = Field(25, ge=1)
    ckpt_every: int = Field(100, ge=1)


class DiTConfig(BaseModel):
    model: str = "DiT-T/1x4"
    model_config = _STRICT

    batch_size: int = Field(32, ge=1)
    #: New clips rendered, encoded (VAE + MiniLM) and added to the replay buffer per step; the
    #: batch is drawn from the buffer. Encoding costs more than the DiT step on CPU.
    new_per_step: int = Field(8, ge=1)
    buffer_size: int = Field(2048, ge=1)
    steps: int = Field(3000, ge=0)
    lr: float = Field(3e-4, gt=0)
    warmup: int = Field(100, ge=0)
    #: ``constant`` after warm-up, or ``cosine`` decay from ``lr`` to ``min_lr`` at ``steps``.
    lr_schedule: Literal["constant", "cosine"] = "constant"
    min_lr: float = Field(0.0, ge=0)
    #: Extra weight of the flow loss on latent cells that hold the object (0: plain MSE). The
    #: probes judge the object, which covers ~1% of the pixels; the background dominates MSE.
    object_weight: float = Field(0.0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    ema: float = Field(0.999, ge=0, lt=1)
    drop_text: float = Field(0.1, ge=0, le=1)
    log_every: int = Field(20, ge=1)
    ckpt_every: int = Field(100, ge=1)
    sample_every: int = Field(500, ge=1)
    sample_steps: int = Field(20, ge=1)
    guidance: float = Field(3.0, ge=0)
    #: Start a fresh run from an earlier DiT: a run's ``dit.pt`` (its EMA weights) or a shipped
    #: generator checkpoint; same width and depth, and a coarser temporal patch is retargeted
    #: (:func:`generator.dit.retarget_temporal_patch`). Ignored once this run has a checkpoint.
    init_from: str | None = None
    #: Stop (and save) after this many minutes of this stage, even before ``steps``.
    max_minutes: float | None = Field(None, gt=0)


class TrainConfig(BaseModel):
    model_config = _STRICT

    name: str = "v1"
    out: str = "runs/generator-v1"
    seed: int = 0
    threads: int = Field(2, ge=1)
    vae: VAEConfig = VAEConfig()
    dit: DiTConfig = DiTConfig()
    #: Where :func:`generator.train.export` writes the checkpoint (default ``OUT/reference.pt``,
    #: so that a new config never overwrites a shipped file by accident).
    export: str | None = None
    #: Precision of the DiT weights in the exported file (float16 halves it; loading casts back).
    export_dtype: Literal["float32", "float16"] = "float32"


def load_config(path: str | Path) -> TrainConfig:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return TrainConfig.model_validate(data)
