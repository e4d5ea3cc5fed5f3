"""Benchmark the physics world: rendering throughput (clips/s) and memory, on one core.

Renders pre-sampled scenes (sampling is timed separately) through :func:`evalkit.world.render`,
which includes the ground truth, the prompt and the metadata, i.e. everything a dataset builder
pays per clip. Configurations: 16 x 64 x 64 with plain / textured backgrounds and 1 / 3 objects,
16 x 256 x 256 (the same scenes via ``at_resolution``), and sensor noise. Each configuration is
timed in ``REPEATS`` rounds; the JSON reports the median and best round.

Usage:
    python benchmarks/bench_world.py [--seconds 1.0] [--repeats 3]
"""

from __future__ import annotations

import os

# One core: BLAS threads would otherwise parallelise the texture's small matrix products.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import peak_rss_mb, write_result  # noqa: E402
from evalkit.world import SceneSpec, ground_truth, render, sample_scene  # noqa: E402

N_SPECS = 64  # distinct scenes cycled through per configuration
TARGET_CLIPS_PER_S = 500  # 16 x 64 x 64, one object, plain background, one core


def _specs(background: str, n_objects: int, size: int = 64, noise: float = 0.0) -> list[SceneSpec]:
    rng = np.random.default_rng(0)
    specs = [sample_scene(rng, n_objects=n_objects, background=background, noise_std=noise)
             for _ in range(N_SPECS)]
    return [s.at_resolution(size, size) for s in specs] if size != 64 else specs


def _throughput(fn, specs: list[SceneSpec], seconds: float, repeats: int) -> dict[str, float]:
    """Calls of ``fn(spec, i)`` per second: median and best over ``repeats`` timed rounds."""
    fn(specs[0], 0)  # warm caches (texture weights, imports)
    rates = []
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            fn(specs[n % len(specs)], n)
            n += 1
        rates.append(n / elapsed)
    return {"median_per_s": round(statistics.median(rates), 1), "best_per_s": round(max(rates), 1),
            "ms_per_call": round(1e3 / statistics.median(rates), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per round")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    def do_render(spec: SceneSpec, i: int) -> None:
        render(spec, seed=i)

    configs = {
        "render_16x64x64_plain_1obj": _specs("plain", 1),
        "render_16x64x64_textured_1obj": _specs("textured", 1),
        "render_16x64x64_plain_3obj": _specs("plain", 3),
        "render_16x64x64_textured_3obj": _specs("textured", 3),
        "render_16x64x64_plain_1obj_noise": _specs("plain", 1, noise=3.0),
        "render_16x256x256_plain_1obj": _specs("plain", 1, size=256),
        "render_16x256x256_textured_1obj": _specs("textured", 1, size=256),
    }
    # The machine may be shared: record its load so numbers from a busy moment can be told apart.
    results: dict[str, object] = {"load_avg_1min_at_start": round(os.getloadavg()[0], 2)}
    for name, specs in configs.items():
        results[name] = _throughput(do_render, specs, args.seconds, args.repeats)
    results["ground_truth_only_1obj"] = _throughput(lambda s, i: ground_truth(s),
                                                    configs["render_16x64x64_plain_1obj"],
                                                    args.seconds, args.repeats)
    rng = np.random.default_rng(1)
    results["sample_scene_1obj"] = _throughput(lambda s, i: sample_scene(rng), [SceneSpec()],
                                               args.seconds, args.repeats)
    results["sample_scene_3obj"] = _throughput(lambda s, i: sample_scene(rng, n_objects=3),
                                               [SceneSpec()], args.seconds, args.repeats)
    headline = results["render_16x64x64_plain_1obj"]["median_per_s"]
    results["target_clips_per_s"] = TARGET_CLIPS_PER_S
    results["meets_target"] = headline >= TARGET_CLIPS_PER_S
    results["threads"] = "single (BLAS threads forced to 1)"
    results["load_avg_1min_at_end"] = round(os.getloadavg()[0], 2)
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    write_result("world", results)


if __name__ == "__main__":
    main()
