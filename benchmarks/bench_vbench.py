"""Seconds per clip of VBench's quality dimensions: evalkit against VBench 0.1.5's own code.

    bash scripts/make_vbench_parity_env.sh            # once: VBench's code beside our torch
    python benchmarks/bench_vbench.py [--clips 2] [--frames 16] [--size 240x320] [--threads 2]

Same clips (synthetic moving textures, H.264 at 8 fps), same weights on both sides: **random
weights of the real architectures' size** (DINO ViT-B/16, CLIP ViT-B/32 and ViT-L/14 image
towers, RAFT, AMT-S; a forward pass costs what it costs with the trained weights), the LAION
head. AMT's network code is VBench's copy in the parity environment, on both sides.
Models are loaded before the clock starts on both sides.

- VBench: each dimension's own function over the clip list, as ``vbench evaluate`` runs them
  (each decodes every clip again: decord for DINO/CLIP, OpenCV for flicker and RAFT; DINO one
  frame at a time, RAFT one pair at a time). Run in a subprocess by ``tests/vbench_reference.py``.
- evalkit: each clip decoded once (PyAV, as the runner does) and handed to every dimension;
  frames batched through each model, ``torch.inference_mode``.

Writes ``benchmarks/results/vbench.json``: per dimension the seconds per clip on each side,
VBench/evalkit, both sides' per-clip values and their largest difference (the parity of the
real-size architectures); the total (evalkit's decode included once) and its ratio.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from benchmarks.common import write_result  # noqa: E402

log = logging.getLogger("bench_vbench")

DIMENSIONS = ("subject_consistency", "background_consistency", "aesthetic_quality",
              "temporal_flickering", "dynamic_degree", "static_filter", "motion_smoothness")


def _clip(seed: int, t: int, h: int, w: int):
    from evalkit.clip import Clip

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 / w), (yy * 255 / h), np.full_like(xx, 90.0)], -1)
    tex = rng.integers(0, 255, (h // 3, w // 4, 3))
    frames = []
    for i in range(t):
        f = base.copy()
        x0 = (w // 16) + (w // 32) * i % (w - tex.shape[1])
        f[h // 3 : h // 3 + tex.shape[0], x0 : x0 + tex.shape[1]] = tex
        frames.append(f.clip(0, 255).astype(np.uint8))
    return Clip(np.stack(frames), 8.0)


def _weights(folder: Path, env: Path) -> dict[str, Path]:
    from tiny_vbench import (make_random_amt, make_random_raft, make_tiny_aesthetic_head, make_tiny_dino,
                             make_tiny_openai_clip)

    folder.mkdir(parents=True, exist_ok=True)
    return {
        "dino": make_tiny_dino(folder, dim=768, depth=12),
        "clip_b32": make_tiny_openai_clip(folder, "random-ViT-B-32.pt", seed=1, width=768, layers=12,
                                          patch=32, embed_dim=512),
        "clip_l14": make_tiny_openai_clip(folder, "random-ViT-L-14.pt", seed=2, width=1024, layers=24,
                                          patch=14, embed_dim=768),
        "head": make_tiny_aesthetic_head(folder, seed=3),
        "raft": make_random_raft(folder, seed=4),
        "amt": make_random_amt(folder, env / "site" / "vbench"),  # AMT's code: VBench's copy
    }


def _ours(videos: list[Path], weights: dict[str, Path], env: Path) -> tuple[dict[str, float], dict[str, list]]:
    from evalkit.metrics.flicker import TemporalFlickering
    from evalkit.metrics.vbench.aesthetic_quality import AestheticQuality
    from evalkit.metrics.vbench.background_consistency import BackgroundConsistency
    from evalkit.metrics.vbench.dynamic_degree import DynamicDegree
    from evalkit.metrics.vbench.motion_smoothness import MotionSmoothness
    from evalkit.metrics.vbench.subject_consistency import SubjectConsistency
    from evalkit.video import read_video

    metrics = {
        "subject_consistency": SubjectConsistency(dino=str(weights["dino"]), device="cpu"),
        "background_consistency": BackgroundConsistency(clip=str(weights["clip_b32"]), device="cpu"),
        "aesthetic_quality": AestheticQuality(clip=str(weights["clip_l14"]), head=str(weights["head"]),
                                              device="cpu"),
        "temporal_flickering": TemporalFlickering(),
        "dynamic_degree": DynamicDegree(raft=str(weights["raft"]), device="cpu"),
        "static_filter": TemporalFlickering(static_filter=True, raft=str(weights["raft"]), device="cpu"),
        "motion_smoothness": MotionSmoothness(amt=str(weights["amt"]), vbench_code=str(env / "site" / "vbench"),
                                              device="cpu"),
    }
    warm = _clip(99, 3, 128, 128)
    for m in metrics.values():  # load every model before the clock starts
        m.score(warm, None)
    seconds = dict.fromkeys(["decode", *metrics], 0.0)
    values: dict[str, list] = {name: [] for name in metrics}
    for path in videos:
        start = time.perf_counter()
        clip = read_video(path)
        seconds["decode"] += time.perf_counter() - start
        for name, metric in metrics.items():
            start = time.perf_counter()
            out = metric.score(clip, None)
            seconds[name] += time.perf_counter() - start
            values[name].append(out["static"] if name == "static_filter" else out[metric.primary])
    # the static filter's run also computed the flicker; count only its extra work
    seconds["static_filter"] -= seconds["temporal_flickering"]
    return seconds, values


def _vbench(videos: list[Path], weights: dict[str, Path], env: Path, threads: int, tmp: Path) -> dict:
    spec = {k: str(v) for k, v in weights.items()}
    spec.update(dino_code=str(env / "dino"), dino_dim=768, dino_depth=12, threads=threads)
    (tmp / "weights.json").write_text(json.dumps(spec))
    (tmp / "videos.txt").write_text("\n".join(str(v) for v in videos))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "vbench_reference.py"), str(tmp / "videos.txt"),
         str(tmp / "weights.json"), str(tmp)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(env / "site")}, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"VBench's code failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", default="240x320", help="HxW")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--env", type=Path, default=Path(os.environ.get("VBENCH_PARITY_ENV", "/tmp/vbench_env")))
    parser.add_argument("--weights", type=Path, default=Path(tempfile.gettempdir()) / "evalkit_bench_vbench_weights")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    h, w = (int(v) for v in args.size.split("x"))
    from evalkit.video import write_video

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        weights = _weights(args.weights, args.env)
        videos = [write_video(tmp / f"clip-{i}.mp4", _clip(i, args.frames, h, w)) for i in range(args.clips)]
        log.info("evalkit ...")
        ours, our_values = _ours(videos, weights, args.env)
        log.info("VBench 0.1.5 ...")
        reference = _vbench(videos, weights, args.env, args.threads, tmp)
        theirs = reference["seconds"]
    n = args.clips
    per_dim = {}
    for dim in DIMENSIONS:
        mine = [float(v) for v in our_values[dim]]
        ref = [float(v) for v in reference[dim]["videos"]]
        per_dim[dim] = {"evalkit_s_per_clip": round(ours[dim] / n, 3),
                        "vbench_s_per_clip": round(theirs[dim] / n, 3),
                        "vbench_over_evalkit": round(theirs[dim] / ours[dim], 2) if ours[dim] > 0 else None,
                        "evalkit_values": mine, "vbench_values": ref,
                        "max_abs_diff": max(abs(a - b) for a, b in zip(mine, ref))}
    total_ours = sum(ours.values())  # decode included once
    total_theirs = sum(theirs[d] for d in DIMENSIONS)
    results = {
        "clips": n, "frames": args.frames, "size": [h, w], "fps": 8.0, "threads": args.threads,
        "device": "cpu", "weights": "random, real architecture size (DINO ViT-B/16, CLIP ViT-B/32 and "
                                    "ViT-L/14 image towers, RAFT, AMT-S), LAION head",
        "evalkit_decode_s_per_clip": round(ours["decode"] / n, 3),
        "dimensions": per_dim,
        "total": {"evalkit_s_per_clip": round(total_ours / n, 3),
                  "vbench_s_per_clip": round(total_theirs / n, 3),
                  "vbench_over_evalkit": round(total_theirs / total_ours, 2)},
        "note": "static_filter: evalkit's extra time over plain temporal_flickering; VBench's "
                "static filter is a separate command (vbench static_filter).",
    }
    write_result("vbench", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
