"""Training: the VAE, then the diffusion transformer on its latents, then the decoder; resumable.

``generator train --config generator/configs/v2.yaml`` runs three stages into the config's
``out`` folder (a config whose ``vae.init_from`` names a shipped checkpoint, as ``v3.yaml`` does,
takes that VAE as it is and runs stage 2 only)::

    out/vae.pt          stage 1: VAE (model, optimiser, step, latent statistics)
    out/dit.pt          stage 2: DiT (model, EMA, optimiser, step) on the frozen VAE's latents
    out/vae_decoder.pt  stage 3: the decoder fine-tuned alone (encoder frozen: same latents)
    out/train.log       log lines;  out/metrics.jsonl  one JSON line per logged step
    out/grids/*.png     sample grids (rows: clips; columns: every other frame)

Stages 2 and 3 depend only on stage 1, so they may also run at the same time in two processes.
Interrupt at any time and run the same command again: each stage resumes from its last
checkpoint, and new training clips are a pure function of ``(seed, step)`` (the DiT's replay
buffer is refilled on resume). When all stages are done the EMA DiT, the VAE and the latent
statistics are exported to ``config.export`` (the shipped checkpoint). A stage stopped by
``dit.max_minutes`` resumes on the next run; set ``dit.steps`` to the step reached to export.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from generator.config import DiTConfig, TrainConfig
from generator.data import batches, to_tensor, to_uint8
from generator.vae import VAE_models, VideoVAE

log = logging.getLogger(__name__)

__all__ = ["train", "train_vae", "finetune_decoder", "train_dit", "export", "object_mask",
           "vae_from_checkpoint"]


#################################################################################
#                                    Helpers                                    #
#################################################################################


def _setup_logging(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    if not any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == (out / "train.log").resolve()
               for h in root.handlers):
        fh = logging.FileHandler(out / "train.log")
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(fh)
    root.setLevel(logging.INFO)


def _metrics(out: Path, record: dict[str, Any]) -> None:
    with open(out / "metrics.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def _save(obj: dict[str, Any], path: Path) -> None:
    """Atomic save (write then rename), so a kill mid-save leaves the previous checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def object_mask(x: torch.Tensor, threshold: float = 0.45) -> torch.Tensor:
    """``(B, 1, T, H, W)`` float: pixels far from their frame's median (background) colour.

    ``x``: ``(B, 3, T, H, W)`` in [-1, 1]. The world's object colours are >= 100 RGB units from
    every background colour; texture moves a pixel by at most ~40, so 0.45 (57 units) splits them.
    """
    med = x.flatten(3).median(dim=3).values[..., None, None]  # (B, 3, T, 1, 1)
    return ((x - med).abs().amax(dim=1, keepdim=True) > threshold).float()


def save_grid(frames: np.ndarray, path: Path, every: int = 2) -> None:
    """PNG grid of uint8 clips ``(N, T, H, W, 3)``: a row per clip, every ``every``-th frame."""
    from PIL import Image

    rows = [np.concatenate(list(clip[::every]), axis=1) for clip in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)


#################################################################################
#                                  Stage 1: VAE                                 #
#################################################################################


def train_vae(cfg: TrainConfig) -> VideoVAE:
    """Train (or resume) the VAE; returns it in eval mode with ``latent_mean/std`` attached."""
    out = Path(cfg.out)
    ckpt_path = out / "vae.pt"
    c = cfg.vae
    vae = VAE_models[c.model]()
    opt = torch.optim.AdamW(vae.parameters(), lr=c.lr, weight_decay=0.0)
    step = 0
    stats: dict[str, Any] | None = None
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        vae.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, stats = ck["step"], ck.get("latent_stats")
        log.info("vae: resumed at step %d", step)
    if step >= c.steps and stats is not None:
        vae.eval().latent_stats = stats  # type: ignore[attr-defined]
        return vae
    log.info("vae: %s, %d parameters, %d steps of %d clips",
             c.model, sum(p.numel() for p in vae.parameters()), c.steps, c.batch_size)
    vae.train()
    t0 = time.time()
    stream = batches(cfg.seed + 1, step, c.batch_size)
    while step < c.steps:
        frames, _ = next(stream)
        x = to_tensor(frames)
        if c.crop is not None:
            x = _crops(x, c.crop, np.random.default_rng([cfg.seed, 99, step]))
        lr = _set_cosine_lr(opt, c.lr, step, c.steps)
        rec, post = vae(x)
        rec_loss = vae_recon_loss(rec, x, c.object_weight)
        kl = post.kl().mean()
        loss = rec_loss + c.kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        if step % c.log_every == 0 or step == c.steps:
            psnr = _psnr(rec, x)
            rec_info = {"stage": "vae", "step": step, "loss": loss.item(), "kl": kl.item(),
                        "psnr": psnr, "lr": lr, "elapsed_s": time.time() - t0}
            log.info("vae step %d loss %.5f kl %.3f psnr %.2f dB (%.0f s)", step, loss.item(),
                     kl.item(), psnr, time.time() - t0)
            _metrics(out, rec_info)
        if step % c.ckpt_every == 0 and step < c.steps:
            _save({"model": vae.state_dict(), "opt": opt.state_dict(), "step": step,
                   "config": vae.config, "name": c.model, "latent_stats": None}, ckpt_path)
    # done: fix the latent statistics (the DiT's normalisation) and save for good
    stats = latent_statistics(vae, cfg.seed)
    frames, _ = next(batches(cfg.seed + 5, 0, 4))
    with torch.no_grad():
        full = vae.decode(vae.encode(to_tensor(frames)).mean)
    save_grid(np.concatenate([frames, to_uint8(full)]), out / "grids" / f"vae_{step:06d}.png")
    _save({"model": vae.state_dict(), "opt": opt.state_dict(), "step": step,
           "config": vae.config, "name": c.model, "latent_stats": stats}, ckpt_path)
    vae.eval().latent_stats = stats  # type: ignore[attr-defined]
    return vae


def _cosine(progress: float) -> float:
    """Half-cosine from 1 (``progress`` 0) to 0 (``progress`` 1)."""
    return 0.5 * (1 + math.cos(math.pi * progress))


def _set_cosine_lr(opt: torch.optim.Optimizer, base_lr: float, step: int, total: int) -> float:
    """Cosine decay from ``base_lr`` to 0 over ``total`` steps; sets and returns the rate."""
    lr = base_lr * _cosine(step / max(1, total))
    for group in opt.param_groups:
        group["lr"] = lr
    return lr


def _psnr(rec: torch.Tensor, x: torch.Tensor) -> float:
    """PSNR in dB of a reconstruction of ``x``, both in [-1, 1] (peak-to-peak range 2)."""
    with torch.no_grad():
        mse = F.mse_loss(rec.detach().clamp(-1, 1), x).item()
    return 10 * math.log10(4.0 / max(mse, 1e-12))


def _crops(x: torch.Tensor, size: int, rng: np.random.Generator) -> torch.Tensor:
    """Random ``size x size`` windows of ``(B, 3, T, H, W)``, 80% of them around an object pixel."""
    out = []
    h, w = x.shape[-2:]
    mask = object_mask(x)[:, 0]  # (B, T, H, W)
    for i in range(x.shape[0]):
        ys, xs = torch.nonzero(mask[i].any(0), as_tuple=True)
        if len(ys) and rng.random() < 0.8:
            k = int(rng.integers(len(ys)))
            cy = int(ys[k]) + int(rng.integers(-size // 4, size // 4 + 1))
            cx = int(xs[k]) + int(rng.integers(-size // 4, size // 4 + 1))
        else:
            cy, cx = int(rng.integers(h)), int(rng.integers(w))
        y0 = min(max(0, cy - size // 2), h - size) // 4 * 4
        x0 = min(max(0, cx - size // 2), w - size) // 4 * 4
        out.append(x[i, :, :, y0:y0 + size, x0:x0 + size])
    return torch.stack(out)


def vae_recon_loss(rec: torch.Tensor, x: torch.Tensor, object_weight: float) -> torch.Tensor:
    """Pixel loss, weighted up on object pixels: ``w * (MSE + 0.1 L1)``."""
    w = 1.0 + object_weight * object_mask(x)
    return ((rec - x).pow(2) * w).mean() + 0.1 * ((rec - x).abs() * w).mean()


def finetune_decoder(cfg: TrainConfig, vae: VideoVAE) -> VideoVAE:
    """Stage 1b: train the decoder alone on posterior means (the encoder, hence the latent
    space the DiT learns, stays fixed). Resumable; checkpoint ``out/vae_decoder.pt``."""
    out = Path(cfg.out)
    c = cfg.vae
    ckpt_path = out / "vae_decoder.pt"
    stats = vae.latent_stats  # type: ignore[attr-defined]
    params = [p for n, p in vae.named_parameters() if n.startswith("dec_")]
    opt = torch.optim.AdamW(params, lr=c.decoder_lr, weight_decay=0.0)
    step = 0
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        vae.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
        log.info("vae decoder: resumed at step %d", step)
    if step >= c.decoder_steps:
        vae.eval().latent_stats = stats  # type: ignore[attr-defined]
        return vae
    log.info("vae decoder: fine-tuning %d steps", c.decoder_steps)
    vae.train()
    t0 = time.time()
    stream = batches(cfg.seed + 3, step, c.batch_size)
    while step < c.decoder_steps:
        frames, _ = next(stream)
        x = to_tensor(frames)
        if c.crop is not None:
            x = _crops(x, c.crop, np.random.default_rng([cfg.seed, 98, step]))
        lr = _set_cosine_lr(opt, c.decoder_lr, step, c.decoder_steps)
        with torch.no_grad():
            z = vae.encode(x).mean
        rec = vae.decode(z)
        loss = vae_recon_loss(rec, x, c.object_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        if step % c.log_every == 0:
            psnr = _psnr(rec, x)
            log.info("vae decoder step %d loss %.5f psnr %.2f dB (%.0f s)", step, loss.item(),
                     psnr, time.time() - t0)
            _metrics(out, {"stage": "vae_decoder", "step": step, "loss": loss.item(),
                           "psnr": psnr, "lr": lr, "elapsed_s": time.time() - t0})
        if step % c.ckpt_every == 0 or step == c.decoder_steps:
            _save({"model": vae.state_dict(), "opt": opt.state_dict(), "step": step}, ckpt_path)
    frames, _ = next(batches(cfg.seed + 5, 0, 4))
    with torch.no_grad():
        full = vae.eval().decode(vae.encode(to_tensor(frames)).mean)
    save_grid(np.concatenate([frames, to_uint8(full)]), out / "grids" / f"vae_decoder_{step:06d}.png")
    vae.eval().latent_stats = stats  # type: ignore[attr-defined]
    return vae


def vae_from_checkpoint(path: str | Path, name: str | None = None) -> VideoVAE:
    """The (decoder-tuned) VAE of a shipped generator checkpoint, latent statistics attached;
    ``name`` (the config's ``vae.model``), when given, must be the checkpoint's."""
    from generator.pipeline import CHECKPOINT_FORMAT

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"vae.init_from: no generator checkpoint at {path}")
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"vae.init_from {path}: not a generator checkpoint")
    if name is not None and ck["vae"]["name"] != name:
        raise ValueError(f"vae.init_from {path}: its VAE is {ck['vae']['name']}, the config "
                         f"says {name}")
    vae = VAE_models[ck["vae"]["name"]]()
    vae.load_state_dict(ck["vae"]["state_dict"])
    vae.eval().latent_stats = ck["latent_stats"]  # type: ignore[attr-defined]
    log.info("vae: taken from %s (%s), not trained", path, ck["vae"]["name"])
    return vae


@torch.no_grad()
def latent_statistics(vae: VideoVAE, seed: int, n: int = 128) -> dict[str, list[float]]:
    """Per-channel mean and std of posterior means on ``n`` training clips (for scaling)."""
    vae.eval()
    frames, _ = next(batches(seed + 7, 10**6, n))
    z = torch.cat([vae.encode(to_tensor(frames[i:i + 16])).mean for i in range(0, n, 16)])
    mean = z.mean(dim=(0, 2, 3, 4))
    std = z.std(dim=(0, 2, 3, 4))
    log.info("vae latent mean %s std %s", mean.tolist(), std.tolist())
    return {"mean": mean.tolist(), "std": std.tolist()}


#################################################################################
#                                  Stage 2: DiT                                 #
#################################################################################


def latent_object_mask(frames: np.ndarray, latent_shape: tuple[int, int, int]) -> torch.Tensor:
    """uint8 ``(B, T, H, W, 3)`` -> ``(B, 1, t, h, w)`` bool: latent cells touching the object.

    The pixel mask (:func:`object_mask`) is max-pooled to the latent grid, then grown by one
    cell in space so that the edges of the object's receptive field count too.
    """
    mask = object_mask(to_tensor(frames))  # (B, 1, T, H, W)
    t, h, w = latent_shape
    pooled = F.adaptive_max_pool3d(mask, (t, h, w))
    return F.max_pool3d(pooled, (1, 3, 3), stride=1, padding=(0, 1, 1)) > 0


def _encode_latents(vae: VideoVAE, frames: np.ndarray, stats: dict[str, list[float]]) -> torch.Tensor:
    """uint8 ``(B, T, H, W, 3)`` -> normalised latents ``(B, z, T/2, H/4, W/4)`` (posterior means)."""
    with torch.no_grad():
        z = vae.encode(to_tensor(frames)).mean
    mean = torch.tensor(stats["mean"]).view(1, -1, 1, 1, 1)
    std = torch.tensor(stats["std"]).view(1, -1, 1, 1, 1)
    return (z - mean) / std


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.mul_(decay).add_(pm.detach(), alpha=1 - decay)


#: Prompts of the sample grids (rows of ``out/grids/dit_*.png``).
GRID_PROMPTS = (
    "a red ball falls from the top",
    "a blue box is thrown to the right from the upper left",
    "a yellow ball falls from the upper right and bounces on the floor",
    "a green box moves left across the center on a textured dark background",
)


def _dit_lr(c: DiTConfig, step: int) -> float:
    """Linear warm-up over ``c.warmup`` steps, then constant or cosine down to ``c.min_lr``."""
    if step < c.warmup:
        return c.lr * (step + 1) / c.warmup
    if c.lr_schedule == "constant":
        return c.lr
    progress = min(1.0, (step - c.warmup) / max(1, c.steps - c.warmup))
    return c.min_lr + (c.lr - c.min_lr) * _cosine(progress)


def _load_dit_source(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``(config, EMA state)`` of a run's ``dit.pt`` or of a shipped generator checkpoint."""
    from generator.pipeline import CHECKPOINT_FORMAT

    if not path.is_file():
        raise FileNotFoundError(f"dit.init_from: no checkpoint at {path} (train that run first)")
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(ck, dict) and ck.get("format") == CHECKPOINT_FORMAT:
        return ck["dit"]["config"], {k: v.float() for k, v in ck["dit"]["state_dict"].items()}
    if isinstance(ck, dict) and "ema" in ck and "config" in ck:
        return ck["config"], ck["ema"]
    raise ValueError(f"dit.init_from {path}: neither a run's dit.pt nor a generator checkpoint")


def _warm_start(path: str | Path, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The EMA weights of an earlier DiT (run ``dit.pt`` or shipped checkpoint), retargeted to
    ``model``'s patch."""
    from generator.dit import retarget_temporal_patch

    path = Path(path)
    src, state = _load_dit_source(path)
    dst = model.config  # type: ignore[attr-defined]
    for key in ("hidden_size", "depth", "num_heads", "latent_shape"):
        if key in src and tuple(np.atleast_1d(src[key])) != tuple(np.atleast_1d(dst[key])):
            raise ValueError(f"dit.init_from {path}: {key} {src[key]} differs from {dst[key]}")
    if tuple(src["patch"]) != tuple(dst["patch"]):
        state = retarget_temporal_patch(state, src["patch"], dst["patch"], dst["latent_shape"][0])
    return state


class _ReplayBuffer:
    """The last ``size`` encoded training examples (latent, text tokens, mask, pooled)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: list[tuple[torch.Tensor, ...]] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, *tensors: torch.Tensor) -> None:
        self.items.extend(zip(*tensors))
        del self.items[: max(0, len(self.items) - self.size)]

    def sample(self, n: int, g: torch.Generator) -> list[torch.Tensor]:
        idx = torch.randint(len(self.items), (n,), generator=g).tolist()
        return [torch.stack(parts) for parts in zip(*(self.items[i] for i in idx))]


def train_dit(cfg: TrainConfig, vae: VideoVAE) -> torch.nn.Module:
    """Train (or resume) the DiT on the frozen VAE's latents; returns the EMA model."""
    from generator.dit import DiT_models
    from generator.flow import RectifiedFlow, sample_timesteps
    from generator.text import get_text_encoder

    out = Path(cfg.out)
    ckpt_path = out / "dit.pt"
    c = cfg.dit
    stats = vae.latent_stats  # type: ignore[attr-defined]
    latent_shape = (vae.z_channels, 8, 16, 16)
    model = DiT_models[c.model](latent_shape=latent_shape)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
    step = 0
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
        log.info("dit: resumed at step %d", step)
    elif c.init_from:
        model.load_state_dict(_warm_start(c.init_from, model))
        ema.load_state_dict(model.state_dict())
        log.info("dit: warm start from %s", c.init_from)
    if step >= c.steps:
        return ema.eval()
    text = get_text_encoder()
    log.info("dit: %s, %d parameters, %d tokens, %d steps of %d clips",
             c.model, sum(p.numel() for p in model.parameters()), model.num_tokens, c.steps,
             c.batch_size)
    model.train()
    t0 = time.time()
    stream = batches(cfg.seed + 2, step, c.new_per_step)
    buffer = _ReplayBuffer(c.buffer_size)
    def add_new() -> None:
        frames, prompts = next(stream)
        buffer.add(_encode_latents(vae, frames, stats),
                   latent_object_mask(frames, latent_shape[1:]), *text(prompts))

    while len(buffer) < c.batch_size:  # (re)fill: a resumed run starts with a fresh buffer
        add_new()

    def save() -> None:
        _save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
               "step": step, "config": model.config, "name": c.model}, ckpt_path)

    while step < c.steps:
        if c.max_minutes is not None and time.time() - t0 > 60 * c.max_minutes:
            log.info("dit: time limit of %.1f min reached at step %d", c.max_minutes, step)
            break
        add_new()
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        x0, obj, tokens, mask, pooled = buffer.sample(c.batch_size, g)
        t = sample_timesteps(x0.shape[0], g)
        noise = torch.randn(x0.shape, generator=g)
        drop = torch.rand(x0.shape[0], generator=g) < c.drop_text
        lr = _dit_lr(c, step)
        for group in opt.param_groups:
            group["lr"] = lr
        weight = 1.0 + c.object_weight * obj.float() if c.object_weight else None
        loss = RectifiedFlow.loss(model, x0, t, noise, weight=weight, tokens=tokens, mask=mask,
                                  pooled=pooled, drop=drop)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))
        opt.step()
        _ema_update(ema, model, min(c.ema, (1 + step) / (10 + step)))
        step += 1
        if step % c.log_every == 0:
            rec = {"stage": "dit", "step": step, "loss": loss.item(), "grad_norm": gnorm, "lr": lr,
                   "elapsed_s": time.time() - t0}
            log.info("dit step %d loss %.4f grad %.3f (%.0f s)", step, loss.item(), gnorm,
                     time.time() - t0)
            _metrics(out, rec)
        if step % c.ckpt_every == 0:
            save()
        if step % c.sample_every == 0:
            _sample_grid(ema.eval(), vae, stats, out / "grids" / f"dit_{step:06d}.png", c)
    save()
    if not (out / "grids" / f"dit_{step:06d}.png").is_file():
        _sample_grid(ema.eval(), vae, stats, out / "grids" / f"dit_{step:06d}.png", c)
    return ema.eval()


def _sample_grid(model: torch.nn.Module, vae: VideoVAE, stats: dict[str, list[float]],
                 path: Path, c) -> None:
    from generator.pipeline import Pipeline

    pipe = Pipeline(model, vae, stats)
    frames = pipe.generate(list(GRID_PROMPTS), seeds=list(range(len(GRID_PROMPTS))),
                           steps=c.sample_steps, guidance=c.guidance)
    save_grid(frames, path)
    log.info("dit: sample grid %s", path)


#################################################################################
#                                 Export and entry                              #
#################################################################################


def export(cfg: TrainConfig, vae: VideoVAE, ema: torch.nn.Module, path: str | Path | None = None,
           meta: dict[str, Any] | None = None) -> Path:
    """Write the shipped checkpoint: VAE, EMA DiT, latent statistics, names and configs."""
    from generator.pipeline import save_checkpoint

    path = Path(path or cfg.export or Path(cfg.out) / "reference.pt")
    ck_dit = torch.load(Path(cfg.out) / "dit.pt", map_location="cpu", weights_only=False)
    vae_info = ({"vae_from": str(cfg.vae.init_from)} if cfg.vae.init_from
                else {"vae_steps": cfg.vae.steps})
    info = {"name": cfg.name, "dit_steps": ck_dit["step"], **vae_info,
            "train_config": cfg.model_dump(mode="json"), **(meta or {})}
    save_checkpoint(path, ema, vae, cfg.vae.model, cfg.dit.model,
                    vae.latent_stats, info,  # type: ignore[attr-defined]
                    dit_dtype=getattr(torch, cfg.export_dtype))
    log.info("exported %s (%.1f MB)", path, path.stat().st_size / 2**20)
    return path


def train(cfg: TrainConfig, do_export: bool = True) -> Path | None:
    """Both stages, then the export; safe to re-run (resumes)."""
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    _setup_logging(out)
    t0 = time.time()
    if cfg.vae.init_from:
        vae = vae_from_checkpoint(cfg.vae.init_from, cfg.vae.model)
        ema = train_dit(cfg, vae)
    else:
        vae = train_vae(cfg)
        ema = train_dit(cfg, vae)
        vae = finetune_decoder(cfg, vae)
    log.info("training done in %.0f s (this invocation)", time.time() - t0)
    return export(cfg, vae, ema) if do_export else None
