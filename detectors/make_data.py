"""Build the shipped detector's training data: real and fake source folders of ``.npz`` shards.

``detectors make-data --real-videos DIR --out DATA`` writes::

    DATA/real_camera/clips.npz     random windows + crops of the real camera clips
    DATA/real_world/clips.npz      physics-world clips (evalkit.world), random windows
    DATA/fake_ae4/clips.npz        the real clips (both kinds) round-tripped through AE-F4-PS
    DATA/fake_ae8/clips.npz        ... through AE-F8-TC
    DATA/fake_ae4_interp/clips.npz ... through AE-F4-PS with odd frames decoded from
                                   interpolated, noised latents (a generative-looking transform)
    DATA/ae/*.pt                   the two autoencoders, trained here on the real clips

Every fake is made from a real clip of the same split group, so both classes share content.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from detectors.data import read_source, write_shard
from detectors.models.autoencoder import AE_CONFIGS, FrameAutoencoder
from detectors.preprocess import WINDOW

__all__ = ["build_default_data", "camera_windows", "world_windows", "train_autoencoder",
           "round_trip"]

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


def build_default_data(real_videos: Path, out: Path, per_file: int = 32, n_world: int = 600,
                       ae_seconds: float = 150.0, seed: int = 0) -> dict[str, int]:
    """Write the default source folders under ``out`` (see module docstring)."""
    rng = np.random.default_rng(seed)
    cam, cam_groups = camera_windows(Path(real_videos), per_file, rng)
    world, world_groups = world_windows(n_world, rng)
    write_shard(out / "real_camera" / "clips.npz", cam, cam_groups)
    write_shard(out / "real_world" / "clips.npz", world, world_groups)
    real = np.concatenate([cam, world])
    groups = cam_groups + world_groups
    log.info("real clips: %d camera windows, %d world clips", len(cam), len(world))
    counts = {"real_camera": len(cam), "real_world": len(world)}
    (out / "ae").mkdir(parents=True, exist_ok=True)
    for name, folder, interp in [("AE-F4-PS", "fake_ae4", False), ("AE-F8-TC", "fake_ae8", False)]:
        model = train_autoencoder(name, real, ae_seconds, seed)
        torch.save(model.state_dict(), out / "ae" / f"{name}.pt")
        write_shard(out / folder / "clips.npz", round_trip(model, real), groups)
        counts[folder] = len(real)
        if name == "AE-F4-PS":
            fakes = round_trip(model, real, interpolate=True, noise=0.1, seed=seed)
            write_shard(out / "fake_ae4_interp" / "clips.npz", fakes, groups)
            counts["fake_ae4_interp"] = len(real)
    return counts
