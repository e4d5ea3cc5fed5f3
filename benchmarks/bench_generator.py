"""Benchmark the reference generator: clips/s at 20 steps for 16 x 64 x 64, and peak memory.

Samples batches of prompts through :class:`generator.plugin.ReferenceGenerator` (the runner's
path: text states, batched Euler steps with classifier-free guidance, VAE decode, provenance
marks) with 2 and 1 threads (on shared cores 1 thread can be faster). Reported per batch size: median clips/s over ``--repeats`` rounds, the
seconds per clip split into DiT sampling and the rest, and the process's peak resident memory.
The load on the machine is recorded too (1-minute load average), because the 2 cores are shared.

Usage:
    python benchmarks/bench_generator.py [--steps 20] [--batches 1,8,16] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import peak_rss_mb, write_result  # noqa: E402

TARGET_CLIPS_PER_S = 4.0
PROMPTS = [
    "a red ball falls from the top", "a blue box is thrown to the right from the upper left",
    "a green ball moves left across the center", "a yellow box rests at the bottom",
    "a cyan ball falls from the upper right and bounces on the floor",
    "a magenta box moves right from the left behind a gray wall",
    "an orange ball falls from the top on a textured dark background",
    "a white box is thrown to the left from the upper right on a sky background",
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--guidance", type=float, default=None, help="default: the generator's")
    p.add_argument("--eta", type=float, default=None, help="default: the generator's")
    p.add_argument("--guidance-interval", default=None, metavar="LO,HI",
                   help="default: the generator's")
    p.add_argument("--batches", default="1,8,16")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", default="2,1", help="thread counts to time (comma-separated)")
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    from evalkit.generators.base import GenerationRequest
    from generator.defaults import (DEFAULT_ETA, DEFAULT_GUIDANCE, DEFAULT_GUIDANCE_INTERVAL,
                                    parse_guidance_interval)
    from generator.pipeline import load_pipeline
    from generator.plugin import ReferenceGenerator

    args.guidance = DEFAULT_GUIDANCE if args.guidance is None else args.guidance
    args.eta = DEFAULT_ETA if args.eta is None else args.eta
    interval = (DEFAULT_GUIDANCE_INTERVAL if args.guidance_interval is None
                else parse_guidance_interval(args.guidance_interval))
    gen = ReferenceGenerator(checkpoint=args.checkpoint, steps=args.steps, guidance=args.guidance,
                             eta=args.eta, guidance_interval=interval)
    pipe = load_pipeline(args.checkpoint)
    warm = [GenerationRequest(PROMPTS[0], "w", 0, 0)]
    gen.generate_batch(warm)  # loads MiniLM, caches text states
    rss_before = peak_rss_mb()
    per_threads: dict[str, dict] = {}
    for threads in [int(x) for x in args.threads.split(",")]:
        torch.set_num_threads(threads)
        per_batch = {}
        for b in [int(x) for x in args.batches.split(",")]:
            reqs = [GenerationRequest(PROMPTS[i % len(PROMPTS)], f"p{i}", 0, i) for i in range(b)]
            rates, dit_share = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                pipe.generate_latents([r.prompt for r in reqs], [r.seed for r in reqs],
                                      args.steps, args.guidance, eta=args.eta,
                                      guidance_interval=interval)
                t1 = time.perf_counter()
                gen.generate_batch(reqs)
                t2 = time.perf_counter()
                rates.append(b / (t2 - t1))
                dit_share.append((t1 - t0) / (t2 - t1))
            per_batch[str(b)] = {"clips_per_s": statistics.median(rates),
                                 "best_clips_per_s": max(rates),
                                 "seconds_per_clip": 1 / statistics.median(rates),
                                 "dit_sampling_share": statistics.median(dit_share)}
        per_threads[str(threads)] = per_batch
    best = max(v["clips_per_s"] for pb in per_threads.values() for v in pb.values())
    results = {
        "resolution": "16x64x64", "fps": 8, "steps": args.steps, "guidance": args.guidance,
        "eta": args.eta, "guidance_interval": list(interval), "checkpoint": str(args.checkpoint or "shipped"),
        "checkpoint_dit_steps": pipe.meta.get("dit_steps"),
        "dit_parameters": sum(p.numel() for p in pipe.dit.parameters()),
        "vae_parameters": sum(p.numel() for p in pipe.vae.parameters()),
        "tokens": pipe.dit.num_tokens,
        "per_threads_and_batch_size": per_threads,
        "best_clips_per_s": best,
        "target_clips_per_s": TARGET_CLIPS_PER_S,
        "target_met": best >= TARGET_CLIPS_PER_S,
        "peak_rss_mb": peak_rss_mb(),
        "peak_rss_mb_after_load": rss_before,
        "load_average_1min": os.getloadavg()[0],
    }
    write_result("generator", results, Path(args.out) if args.out else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
