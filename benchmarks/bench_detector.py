"""Benchmark of the AI-video detector, the provenance watermark and the moderation API; writes
``benchmarks/results/detector.json``.

Measures:

* **throughput**: ``Detector.predict`` on 16x64x64 and 16x256x256 clips with 2 torch threads
  (clips/s and ms/clip, median of repeated runs, preprocessing included);
* **watermark**: payload bit accuracy and detection rate after H.264 CRF 23 and a resize
  (x0.5 and to 48x48) on world clips (what the reference generator makes) and on windows of the
  real camera clips; false detections on unmarked real windows (H.264 CRF 23) and world clips;
  PSNR of the marked clips;
* **load test**: a real server (``python -m detectors serve``) on 127.0.0.1, N requests at
  concurrency 4 with bad inputs mixed in (not a video, truncated, over the size limit);
  p50/p99 latency, throughput, status counts, and whether the server stayed up.

Run: ``python benchmarks/bench_detector.py [--requests 120] [--skip-load]``.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import peak_rss_mb, write_result  # noqa: E402
from evalkit.clip import Clip, resize  # noqa: E402
from evalkit.provenance import detect_watermark, mark_clip  # noqa: E402
from evalkit.video import find_videos, read_video, write_video  # noqa: E402
from evalkit.world import render, sample_scene  # noqa: E402

log = logging.getLogger("bench_detector")
REAL_VIDEOS = Path(os.environ.get("EVALKIT_REAL_VIDEOS", REPO.parent / "shared" / "data" /
                                  "real_videos"))


def _world(i: int) -> Clip:
    return render(sample_scene(np.random.default_rng([99, i])), seed=i).clip


def bench_throughput(reps: int = 10) -> dict[str, Any]:
    """ms per clip of ``Detector.predict`` (resize + 2 windows + both networks + fusion), with
    2 torch threads (the target) and, for comparison, 1 thread."""
    import torch

    import detectors

    det = detectors.load("evalkit-detector-2")  # this benchmark is of the physics-world detector
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {"model_version": det.version}
    for threads in (2, 1):
        torch.set_num_threads(threads)
        key = f"{threads}_threads"
        out[key] = {}
        for size in (64, 256):
            clip = Clip(rng.integers(0, 256, (16, size, size, 3), dtype=np.uint8), 8.0)
            det.predict(clip)  # warm-up
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                det.predict(clip)
                times.append(time.perf_counter() - t0)
            med = float(np.median(times))
            out[key][f"16x{size}x{size}"] = {"ms_per_clip": round(1000 * med, 2),
                                             "clips_per_s": round(1 / med, 2),
                                             "frames_per_s": round(16 / med, 1), "reps": reps}
            log.info("%d threads, 16x%dx%d: %.1f ms/clip", threads, size, size, 1000 * med)
    torch.set_num_threads(2)
    return out


def _crf(clip: Clip, crf: int, tmp: Path) -> Clip:
    path = tmp / "c.mp4"
    write_video(path, clip, crf=crf)
    return read_video(path)


def _real_windows(per_file: int, rng: np.random.Generator) -> list[Clip]:
    """``per_file`` random 16-frame windows of each real clip, full-height square crops at a
    random position, area-resized to 64x64."""
    if not (REAL_VIDEOS / "manifest.tsv").is_file():
        return []
    from detectors.data import random_windows

    out = []
    for f in find_videos(REAL_VIDEOS, recursive=True):
        c = read_video(f, first_frames=200)
        windows = random_windows(c.frames, per_file, rng, window=16, crop_range=(1.0, 1.0))
        out += [Clip(w, c.fps) for w in windows]
    return out


def bench_watermark(n_world: int = 60, real_per_file: int = 4) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    sets = {"world": [_world(i) for i in range(n_world)],
            "real_windows": _real_windows(real_per_file, rng)}
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name, clips in sets.items():
            if not clips:
                continue
            rows: dict[str, list[float]] = {}
            psnr, false_det, null_p = [], [], []
            for clip in clips:
                payload = int(rng.integers(0, 2 ** 32))
                marked = mark_clip(clip, generator="bench", version="1", payload=payload)
                mse = np.mean((marked.frames.astype(float) - clip.frames) ** 2)
                psnr.append(10 * np.log10(255 ** 2 / max(mse, 1e-12)))
                enc = _crf(marked, 23, tmp)
                for cond, x in (("clean", marked), ("crf23", enc),
                                ("crf23_resize0.5", resize(enc, 32, 32)),
                                ("crf23_resize48", resize(enc, 48, 48))):
                    wm = detect_watermark(x.frames)
                    acc = 1 - bin(wm["payload"] ^ payload).count("1") / 32
                    rows.setdefault(f"{cond}_bit_accuracy", []).append(acc)
                    rows.setdefault(f"{cond}_detected", []).append(float(wm["detected"]))
                un = detect_watermark(_crf(clip, 23, tmp).frames)
                false_det.append(float(un["detected"]))
                null_p.append(un["p_value"])
            result[name] = {
                "n": len(clips),
                **{k: round(float(np.mean(v)), 4) for k, v in rows.items()},
                "min_bit_accuracy_crf23_resize0.5": round(float(np.min(
                    rows["crf23_resize0.5_bit_accuracy"])), 4),
                "psnr_db_mean": round(float(np.mean(psnr)), 2),
                "psnr_db_min": round(float(np.min(psnr)), 2),
                "unmarked_false_detection_rate": round(float(np.mean(false_det)), 4),
                "unmarked_p_below_0.05": round(float(np.mean(np.array(null_p) < 0.05)), 4),
            }
            log.info("watermark %s: %s", name, result[name])
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_load(n_requests: int, concurrency: int = 4, timeout_s: float = 240) -> dict[str, Any]:
    import httpx

    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("EVALKIT_API_KEY", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "detectors", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--threads", "2", "--max-upload-mb", "1"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not come up")
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            write_video(tmp / "a.mp4", _world(0))
            write_video(tmp / "m.mp4", mark_clip(_world(1), generator="ref", version="1"))
            good, marked = (tmp / "a.mp4").read_bytes(), (tmp / "m.mp4").read_bytes()
        bodies = {"valid": good, "marked": marked, "not_a_video": b"this is not a video\n" * 50,
                  "corrupt_gif": b"GIF89a nope" * 50,
                  "truncated": good[: len(good) // 2], "oversized": os.urandom(2 << 20)}
        expected = {"valid": 200, "marked": 200, "not_a_video": 415, "corrupt_gif": 422,
                    "truncated": 422, "oversized": 413}
        kinds = (["valid"] * 13 + ["marked"] * 2 + ["not_a_video", "corrupt_gif", "truncated",
                                                     "oversized", "valid"])
        plan = [kinds[i % len(kinds)] for i in range(n_requests)]
        client = httpx.Client(timeout=60)

        def one(kind: str) -> tuple[str, int, float]:
            t0 = time.perf_counter()
            try:
                r = client.post(f"{base}/v1/detect",
                                files={"file": ("clip.mp4", io.BytesIO(bodies[kind]), "video/mp4")})
                status = r.status_code
            except httpx.HTTPError:
                status = -1
            return kind, status, time.perf_counter() - t0

        for _ in range(2):  # warm-up (first-call allocations), not counted
            one("valid")
        t_start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(one, plan))
        wall = time.perf_counter() - t_start
        alive = httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        lat = np.array([r[2] for r in results])
        lat_valid = np.array([r[2] for r in results if r[0] in ("valid", "marked")])
        statuses: dict[str, int] = {}
        for _, s, _ in results:
            statuses[str(s)] = statuses.get(str(s), 0) + 1
        return {
            "requests": n_requests, "concurrency": concurrency,
            "mix": {k: plan.count(k) for k in expected},
            "status_counts": statuses,
            "unexpected_status": sum(1 for k, s, _ in results if s != expected[k]),
            "http_500": sum(1 for _, s, _ in results if s >= 500),
            "p50_ms": round(1000 * float(np.percentile(lat, 50)), 1),
            "p99_ms": round(1000 * float(np.percentile(lat, 99)), 1),
            "p50_ms_valid": round(1000 * float(np.percentile(lat_valid, 50)), 1),
            "p99_ms_valid": round(1000 * float(np.percentile(lat_valid, 99)), 1),
            "throughput_rps": round(n_requests / wall, 2), "wall_s": round(wall, 2),
            "server_alive_after": bool(alive and server.poll() is None),
            "server_threads": 2, "upload_limit_mb": 1,
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--world", type=int, default=60)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="bench_detector: %(message)s")
    t0 = time.time()
    results: dict[str, Any] = {"load_average_at_start": [round(v, 2) for v in os.getloadavg()],
                               "throughput": bench_throughput(),
                               "watermark": bench_watermark(args.world)}
    if not args.skip_load:
        results["load_test"] = bench_load(args.requests)
    eval_json = REPO / "detectors" / "weights" / "detector_v2_eval.json"
    if eval_json.is_file():
        import json

        ev = json.loads(eval_json.read_text())
        results["detector_eval"] = {
            "in_domain_auc": ev["in_domain"]["auc"],
            "loso_auc": {r["held_out"]: r["auc"] for r in ev.get("leave_one_source_out", [])},
            "robustness_auc": {r["condition"]: r["auc"] for r in ev["robustness"]},
        }
    results["load_average_1_5_15_min"] = [round(v, 2) for v in os.getloadavg()]
    results["note"] = ("2 torch threads; the machine's 2 cores were shared with other jobs "
                       "(see load_average), so times are upper bounds")
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    results["wall_s"] = round(time.time() - t0, 1)
    write_result("detector", results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
