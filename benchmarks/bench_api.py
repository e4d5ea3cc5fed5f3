"""Benchmark of the moderation API under attack and under load; writes ``benchmarks/results/api.json``.

A real server (``python -m detectors serve``: default model evalkit-detector-3, 1 torch thread,
2 analysis slots) in a child process, on 127.0.0.1; its memory is the kernel's high-water mark
(VmHWM) of that process, read from ``/proc``. Three phases, in this order, on one server:

1. **Bombs** (:mod:`detectors.hostile_inputs`), each sent 4 times at once: a 269-byte GIF with a
   2880×2880 screen and 10 one-pixel frames, the same with 700 frames (16 KB, just under the
   decoded-pixel budget) and with 2000 frames (over it), 16 frames of 4K VP9 webm (2 KB), 10 s of
   flat 1080p and 4K H.264 (23 KB, 60 KB). Status codes, seconds, server peak RSS.
2. **Latency** at concurrency 4: ``n`` requests of a real 10 s 1080p camera clip (first 600
   frames of a 60 fps clip, H.264 CRF 18) and of a 16×256×256 clip; p50/p99 seconds.
3. **Fuzz**: 300 seeded hostile requests (:func:`~detectors.hostile_inputs.fuzz_cases`) at
   concurrency 4; status counts; the server must answer every one below 500 and be alive after.

Run: ``python benchmarks/bench_api.py`` (about 15 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import write_result  # noqa: E402

DATA = Path(os.environ.get("EVALKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
SPIDER = DATA / "real_videos_extra" / "vivekhsridhar_tracktor" / "spider_video.mp4"
BOUND_MB = 1500


def _post(url: str, name: str, data: bytes, timeout: float = 900) -> tuple[int, float, dict[str, Any]]:
    import httpx

    start = time.perf_counter()
    r = httpx.post(url + "/v1/detect", files={"file": (name, data, "application/octet-stream")},
                   timeout=timeout)
    seconds = time.perf_counter() - start
    try:
        body = r.json()
    except ValueError:
        body = {}
    return r.status_code, seconds, body


def bombs() -> dict[str, bytes]:
    from detectors.hostile_inputs import gif_screen_bomb, video_bomb

    return {"gif_2880_screen_10_frames": gif_screen_bomb(10),
            "gif_2880_screen_700_frames": gif_screen_bomb(700),
            "gif_2880_screen_2000_frames": gif_screen_bomb(2000),
            "webm_vp9_4k_16_frames": video_bomb(3840, 2160, 16, codec="libvpx-vp9", container="webm"),
            "mp4_h264_1080p_10s_flat": video_bomb(1920, 1080, 300),
            "mp4_h264_4k_10s_flat": video_bomb(3840, 2160, 300)}


def latency_clips(folder: Path) -> dict[str, bytes]:
    from evalkit.clip import Clip
    from evalkit.video import read_video, write_video

    clips = {}
    if SPIDER.is_file():
        cut = folder / "spider_10s.mp4"
        write_video(cut, Clip(read_video(SPIDER, first_frames=600).frames, 60.0), crf=18)
        clips["1080p_10s_camera"] = cut.read_bytes()
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (256 + 64, 256 + 64, 3), dtype=np.uint8)
    frames = np.stack([base[4 * t:4 * t + 256, 2 * t:2 * t + 256] for t in range(16)])
    small = folder / "16x256x256.mp4"
    write_video(small, Clip(frames, 8.0), crf=18)
    clips["16x256x256"] = small.read_bytes()
    return clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-requests", type=int, default=12)
    parser.add_argument("--fuzz", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    from detectors.hostile_inputs import LocalServer, fuzz_cases

    results: dict[str, Any] = {"bound_mb": BOUND_MB, "concurrency": args.concurrency,
                               "server": "python -m detectors serve (evalkit-detector-3, --threads 1, "
                                         "--max-concurrent 2)",
                               "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory() as tmp, LocalServer() as server, \
            ThreadPoolExecutor(args.concurrency) as pool:
        results["idle"] = server.memory_mb()
        phase: dict[str, Any] = {}
        for name, data in bombs().items():
            start = time.perf_counter()
            runs = list(pool.map(lambda _: _post(server.url, name, data), range(args.concurrency)))
            phase[name] = {"bytes": len(data), "statuses": [s for s, _, _ in runs],
                           "seconds": round(time.perf_counter() - start, 2),
                           "reason": next((b.get("reason") for s, _, b in runs if s >= 400), None),
                           **server.memory_mb()}
            print(name, phase[name], flush=True)
        results["bombs"] = phase

        phase = {}
        for name, data in latency_clips(Path(tmp)).items():
            _post(server.url, name, data)  # warm-up
            start = time.perf_counter()
            runs = list(pool.map(lambda _: _post(server.url, name, data), range(args.latency_requests)))
            seconds = np.array([t for _, t, _ in runs])
            phase[name] = {"bytes": len(data), "requests": len(runs),
                           "statuses": dict(Counter(s for s, _, _ in runs)),
                           "p50_s": round(float(np.percentile(seconds, 50)), 2),
                           "p99_s": round(float(np.percentile(seconds, 99)), 2),
                           "throughput_per_min": round(60 * len(runs) / (time.perf_counter() - start), 2),
                           **server.memory_mb()}
            print(name, phase[name], flush=True)
        results["latency"] = phase

        import httpx

        def fuzz(case: Any) -> int:
            try:
                return httpx.post(server.url + "/v1/detect", timeout=900, **case.request_kwargs()).status_code
            except httpx.HTTPError as exc:
                return -1 if not isinstance(exc, httpx.RemoteProtocolError) else -2

        start = time.perf_counter()
        statuses = list(pool.map(fuzz, fuzz_cases(args.fuzz, seed=0)))
        results["fuzz"] = {"requests": len(statuses), "statuses": dict(sorted(Counter(statuses).items())),
                           "server_errors": sum(1 for s in statuses if s >= 500 or s < 0),
                           "seconds": round(time.perf_counter() - start, 1),
                           "alive_after": server.alive() and httpx.get(server.url + "/healthz").status_code == 200,
                           **server.memory_mb()}
        print("fuzz", results["fuzz"], flush=True)
        results["peak_rss_mb"] = server.memory_mb()["peak_rss_mb"]
        results["under_bound"] = results["peak_rss_mb"] < BOUND_MB
        results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_result("api", results)


if __name__ == "__main__":
    main()
