"""Clip I/O throughput: write_video / read_video on synthetic clips and read_video on real footage.

Measures, for 16x64x64 and 16x256x256 clips (smooth moving gradients with a little noise, so the
encoder does real work), write and read throughput in clips/s and frames/s, then read
throughput on the real camera clips in ``../shared/data/real_videos`` (if present), and the
process's peak RSS. Writes ``benchmarks/results/clip_io.json``.

    python benchmarks/bench_clip_io.py [--small 200] [--large 40] [--real-first-frames 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import peak_rss_mb, write_result  # noqa: E402
from evalkit.clip import Clip  # noqa: E402
from evalkit.video import find_videos, probe_video, read_video, write_video  # noqa: E402


def synthetic_clip(t: int, h: int, w: int, seed: int) -> Clip:
    """Moving gradients plus mild noise: compressible like generated video, not trivially."""
    rng = np.random.default_rng(seed)
    tt, yy, xx = np.meshgrid(np.arange(t), np.arange(h), np.arange(w), indexing="ij")
    phase = rng.uniform(0, 2 * np.pi, 3)
    r = 128 + 90 * np.sin(2 * np.pi * (xx / w + tt / t) + phase[0])
    g = 128 + 90 * np.cos(2 * np.pi * (yy / h - tt / t) + phase[1])
    b = 128 + 90 * np.sin(2 * np.pi * (xx + yy) / (h + w) + phase[2])
    frames = np.stack([r, g, b], axis=-1) + rng.normal(0, 3, (t, h, w, 3))
    return Clip(np.clip(frames, 0, 255).round().astype(np.uint8), 8.0, {"seed": seed})


def bench_synthetic(folder: Path, n: int, t: int, h: int, w: int) -> dict[str, float]:
    clips = [synthetic_clip(t, h, w, seed) for seed in range(n)]
    write_video(folder / "warmup.mp4", clips[0])  # first call loads codecs
    read_video(folder / "warmup.mp4")

    paths = [folder / f"{h}x{w}_{i:04d}.mp4" for i in range(n)]
    start = time.perf_counter()
    for path, clip in zip(paths, clips):
        write_video(path, clip)
    write_s = time.perf_counter() - start

    start = time.perf_counter()
    errors = []
    for path, clip in zip(paths, clips):
        back = read_video(path)
        errors.append(np.abs(back.frames.astype(np.int16) - clip.frames).mean())
    read_s = time.perf_counter() - start

    frames = n * t
    size = sum(p.stat().st_size for p in paths)
    return {
        "clips": n,
        "shape": [t, h, w, 3],
        "write_s": round(write_s, 4),
        "write_clips_per_s": round(n / write_s, 1),
        "write_frames_per_s": round(frames / write_s, 1),
        "write_ms_per_clip": round(1e3 * write_s / n, 3),
        "read_s": round(read_s, 4),
        "read_clips_per_s": round(n / read_s, 1),
        "read_frames_per_s": round(frames / read_s, 1),
        "read_ms_per_clip": round(1e3 * read_s / n, 3),
        "mean_bytes_per_clip": round(size / n),
        "mean_abs_error": round(float(np.mean(errors)), 3),
    }


def bench_real(folder: Path, first_frames: int | None) -> dict[str, object]:
    paths = find_videos(folder, recursive=True)
    if not paths:
        return {"skipped": f"no videos in {folder}"}
    start = time.perf_counter()
    infos = [probe_video(p) for p in paths]
    probe_s = time.perf_counter() - start

    start = time.perf_counter()
    frames = pixels = 0
    for path in paths:
        clip = read_video(path, first_frames=first_frames)
        frames += clip.num_frames
        pixels += clip.frames[..., 0].size
        del clip  # keep one clip in memory at a time
    read_s = time.perf_counter() - start
    return {
        "clips": len(paths),
        "first_frames": first_frames,
        "frames_decoded": frames,
        "frames_in_files": sum(i.num_frames for i in infos),
        "read_s": round(read_s, 3),
        "read_clips_per_s": round(len(paths) / read_s, 2),
        "read_frames_per_s": round(frames / read_s, 1),
        "read_megapixels_per_s": round(pixels / read_s / 1e6, 1),
        "probe_ms_per_file": round(1e3 * probe_s / len(paths), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200, help="16x64x64 clips to write/read")
    parser.add_argument("--large", type=int, default=40, help="16x256x256 clips to write/read")
    parser.add_argument("--real-first-frames", type=int, default=300,
                        help="decode at most this many frames per real clip (0: all); the two "
                             "long clips would otherwise hold ~1.4 GB of RGB each")
    parser.add_argument("--real-dir", type=Path, default=Path(os.environ.get(
        "EVALKIT_REAL_VIDEOS",
        Path(__file__).resolve().parents[2] / "shared" / "data" / "real_videos")))
    args = parser.parse_args()

    results: dict[str, object] = {"encoder": "libx264 crf=18 preset=medium", "cpu_threads":
                                  len(os.sched_getaffinity(0))}
    with tempfile.TemporaryDirectory(prefix="bench_clip_io_") as tmp:
        results["small_16x64x64"] = bench_synthetic(Path(tmp), args.small, 16, 64, 64)
        results["large_16x256x256"] = bench_synthetic(Path(tmp), args.large, 16, 256, 256)
    if args.real_dir.is_dir():
        results["real_videos"] = bench_real(args.real_dir, args.real_first_frames or None)
    else:
        results["real_videos"] = {"skipped": f"{args.real_dir} not found"}
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    write_result("clip_io", results)


if __name__ == "__main__":
    main()
