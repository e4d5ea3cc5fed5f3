"""Build the shipped detector's training data: real and fake source folders of ``.npz`` shards.

``detectors make-data --real-videos DIR --out DATA`` writes::

    DATA/real_camera/clips.npz     random windows + crops of the real camera clips
    DATA/real_world/clips.npz      physics-world clips (evalkit.world), random windows
    DATA/fake_ae4/clips.npz        the real clips (both kinds) round-tripped through AE-F4-PS
    DATA/fake_ae8/clips.npz        ... through AE-F8-TC
    DATA/fake_ae4_interp/clips.npz ... through AE-F4-PS with odd frames decoded from
                                   interpolated, noised latents (a generative-looking transform)
    DATA/fake_gen_vae/clips.npz    the real clips round-tripped through the reference
                                   generator's own video VAE
    DATA/fake_reference/clips.npz  reference-generator samples (no provenance marks) of
                                   training-distribution prompts, two windows per clip
    DATA/ae/*.pt                   the two autoencoders, trained here on the real clips

Every autoencoder fake is made from a real clip of the same split group, so both classes share
content; the reference samples show physics-world scenes, as ``real_world`` does.
``--only NAME...`` builds just those sources, reading the real ones from ``DATA`` if present.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from pathlib import Path

import numpy as np
import torch

from detectors.data import read_source, write_shard
from detectors.models.autoencoder import AE_CONFIGS, FrameAutoencoder
from detectors.preprocess import WINDOW

__all__ = ["build_default_data", "camera_windows", "world_windows", "train_autoencoder",
           "round_trip", "generator_vae_round_trip", "reference_windows", "SOURCES"]

#: Every source ``build_default_data`` can write, in build order.
SOURCES = ("real_camera", "real_world", "fake_ae4", "fake_ae4_interp", "fake_ae8",
           "fake_gen_vae", "fake_reference")

log = logging.getLogger(__name__)


def camera_windows(folder: Path, per_file: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, list[str]]:
    """Random windows of every video under ``folder`` (groups = relative file paths)."""
    source = read_source(folder, 0, rng, windows_per_file=per_file)
    return source.clips, [str(g).split("/", 1)[1] for g in source.groups]


def world_windows(n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """``n`` physics-world clips (64x64, 8 fps), one random window each."""
    from evalkit.world import render, sample_scene

    out, groups = [], []
    for i in range(n):
        scene = sample_scene(np.random.default_rng([7, i]), n_objects=int(rng.integers(1, 4)))
        frames = render(scene, seed=i).clip.frames
        t0 = int(rng.integers(0, frames.shape[0] - WINDOW + 1))
        out.append(frames[t0:t0 + WINDOW])
        groups.append(f"world:{i}")
    return np.stack(out), groups


def _frames_tensor(clips: np.ndarray) -> torch.Tensor:
    """``(N, T, S, S, 3)`` uint8 → ``(N*T, 3, S, S)`` float in [0, 1]."""
    x = torch.from_numpy(clips.reshape(-1, *clips.shape[2:]))
    return x.permute(0, 3, 1, 2).float() / 255.0


def train_autoencoder(name: str, clips: np.ndarray, seconds: float, seed: int = 0
                      ) -> FrameAutoencoder:
    """Train a frame autoencoder on the frames of ``clips`` for about ``seconds``."""
    torch.manual_seed(seed)
    model = FrameAutoencoder(AE_CONFIGS[name])
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    frames = _frames_tensor(clips)
    gen = torch.Generator().manual_seed(seed)
    start, step, loss = time.time(), 0, torch.tensor(0.0)
    crop = 32  # fully convolutional: train on 32x32 crops (4x cheaper), apply to 64x64
    while time.time() - start < seconds:
        idx = torch.randint(0, len(frames), (16,), generator=gen)
        y0, x0 = (int(v) for v in torch.randint(0, frames.shape[-1] - crop + 1, (2,),
                                                generator=gen))
        x = frames[idx, :, y0:y0 + crop, x0:x0 + crop]
        y = model(x)
        loss = (y - x).abs().mean() + ((y - x) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            log.info("%s step %d loss %.4f", name, step, loss.item())
    log.info("%s: %d steps in %.0f s, last loss %.4f", name, step, time.time() - start,
             loss.item())
    return model.eval()


@torch.no_grad()
def round_trip(model: FrameAutoencoder, clips: np.ndarray, interpolate: bool = False,
               noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Clips ``(N, T, S, S, 3)`` through the autoencoder. With ``interpolate``, odd frames are
    decoded from the mean of their neighbours' latents plus Gaussian noise (``noise`` x the
    latent std), as a frame-interpolating generator would make them."""
    gen = torch.Generator().manual_seed(seed)
    out = np.empty_like(clips)
    for i in range(0, len(clips), 16):
        batch = clips[i:i + 16]
        n, t = batch.shape[:2]
        z = model.encode(_frames_tensor(batch))
        z = z.reshape(n, t, *z.shape[1:])
        if interpolate:
            z = z.clone()
            for k in range(1, t, 2):
                nxt = z[:, k + 1] if k + 1 < t else z[:, k - 1]
                z[:, k] = 0.5 * (z[:, k - 1] + nxt)
            z = z + noise * z.std() * torch.randn(z.shape, generator=gen)
        y = model.decode(z.reshape(n * t, *z.shape[2:]))
        y = (y.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
        out[i:i + n] = y.reshape(n, t, *y.shape[1:]).numpy()
    return out


@torch.no_grad()
def generator_vae_round_trip(clips: np.ndarray, checkpoint: str | Path | None = None,
                             batch: int = 32) -> np.ndarray:
    """Clips ``(N, T, S, S, 3)`` (T even, S a multiple of 4) through the reference generator's
    video VAE (posterior mean), as its samples are decoded."""
    from generator.data import to_tensor, to_uint8
    from generator.pipeline import load_pipeline

    vae = load_pipeline(checkpoint).vae
    out = np.empty_like(clips)
    for i in range(0, len(clips), batch):
        x = to_tensor(clips[i:i + batch])
        out[i:i + batch] = to_uint8(vae.decode(vae.encode(x).mean))
    return out


def reference_windows(n_clips: int, checkpoint: str | Path | None = None, seed: int = 0,
                      steps: int = 20, guidance: float | None = None, batch: int = 16,
                      eta: float | None = None) -> tuple[np.ndarray, list[str]]:
    """``2 n_clips`` windows: both halves of ``n_clips`` reference-generator samples.

    Prompts are training-distribution scenes (:func:`generator.data.training_scene`); sample
    ``i`` uses seed ``seed * 1_000_003 + i``. The frames come straight from the pipeline, so
    they carry **no** provenance marks: a detector trained on them cannot lean on the watermark.
    ``guidance`` and ``eta`` default to the generator's own sampler defaults.
    """
    from tqdm import tqdm

    from generator.data import training_scene
    from generator.defaults import DEFAULT_ETA, DEFAULT_GUIDANCE
    from generator.pipeline import load_pipeline

    pipe = load_pipeline(checkpoint)
    rng = np.random.default_rng([seed, 11])
    prompts = [training_scene(rng).prompt for _ in range(n_clips)]
    seeds = [seed * 1_000_003 + i for i in range(n_clips)]
    clips: list[np.ndarray] = []
    for i in tqdm(range(0, n_clips, batch), desc="reference samples", unit="batch"):
        clips.extend(pipe.generate(prompts[i:i + batch], seeds[i:i + batch], steps=steps,
                                   guidance=DEFAULT_GUIDANCE if guidance is None else guidance,
                                   eta=DEFAULT_ETA if eta is None else eta))
    windows, groups = [], []
    for i, clip in enumerate(clips):
        for t0 in range(0, clip.shape[0] - WINDOW + 1, WINDOW):
            windows.append(clip[t0:t0 + WINDOW])
            groups.append(f"reference:{i}")
    return np.stack(windows), groups


def _load_shard(path: Path) -> tuple[np.ndarray, list[str]]:
    with np.load(path) as z:
        return z["clips"], [str(g) for g in z["groups"]]


def build_default_data(real_videos: Path, out: Path, per_file: int = 32, n_world: int = 600,
                       ae_seconds: float = 150.0, seed: int = 0, n_reference: int = 700,
                       reference_checkpoint: str | Path | None = None,
                       reference_eta: float | None = None,
                       only: Collection[str] | None = None) -> dict[str, int]:
    """Write the default source folders under ``out`` (see module docstring).

    ``only``: build just these sources; the real ones they derive from are read back from
    ``out`` when present (else rebuilt from ``seed``, which gives the same clips).
    """
    unknown = set(only or ()) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown source(s) {sorted(unknown)}; choose from {list(SOURCES)}")

    def want(name: str) -> bool:
        return only is None or name in only

    out = Path(out)
    counts: dict[str, int] = {}
    rng = np.random.default_rng(seed)
    have_real = all((out / n / "clips.npz").is_file() for n in ("real_camera", "real_world"))
    if have_real and not (want("real_camera") or want("real_world")):
        cam, cam_groups = _load_shard(out / "real_camera" / "clips.npz")
        world, world_groups = _load_shard(out / "real_world" / "clips.npz")
    else:
        cam, cam_groups = camera_windows(Path(real_videos), per_file, rng)
        world, world_groups = world_windows(n_world, rng)
        write_shard(out / "real_camera" / "clips.npz", cam, cam_groups)
        write_shard(out / "real_world" / "clips.npz", world, world_groups)
        counts.update(real_camera=len(cam), real_world=len(world))
    real = np.concatenate([cam, world])
    groups = cam_groups + world_groups
    log.info("real clips: %d camera windows, %d world clips", len(cam), len(world))
    for name, folder in [("AE-F4-PS", "fake_ae4"), ("AE-F8-TC", "fake_ae8")]:
        interp = name == "AE-F4-PS" and want("fake_ae4_interp")
        if not (want(folder) or interp):
            continue
        (out / "ae").mkdir(parents=True, exist_ok=True)
        model = train_autoencoder(name, real, ae_seconds, seed)
        torch.save(model.state_dict(), out / "ae" / f"{name}.pt")
        if want(folder):
            write_shard(out / folder / "clips.npz", round_trip(model, real), groups)
            counts[folder] = len(real)
        if interp:
            fakes = round_trip(model, real, interpolate=True, noise=0.1, seed=seed)
            write_shard(out / "fake_ae4_interp" / "clips.npz", fakes, groups)
            counts["fake_ae4_interp"] = len(real)
    if want("fake_gen_vae"):
        fakes = generator_vae_round_trip(real, reference_checkpoint)
        write_shard(out / "fake_gen_vae" / "clips.npz", fakes, groups)
        counts["fake_gen_vae"] = len(real)
    if want("fake_reference") and n_reference > 0:
        clips, ref_groups = reference_windows(n_reference, reference_checkpoint, seed,
                                              eta=reference_eta)
        write_shard(out / "fake_reference" / "clips.npz", clips, ref_groups)
        counts["fake_reference"] = len(clips)
    return counts
