"""Benchmark of the real-video detector (``evalkit-detector-3``) on whole files; writes
``benchmarks/results/detector_v3.json``.

For each clip, in its own process with 2 torch threads: wall time of ``predict_file`` (decode as
a stream with seeking, 8 windows over the duration, I3D features, probe) and peak RSS of the
process (model loading included):

- ``1080p_10s``: the first 10 s of a 1920x1080 60 fps camera clip, re-encoded (H.264 CRF 18);
- ``1080p_39s``: the whole 1920x1080 clip (2,352 frames);
- ``1024x1024_60s``: a 1024x1024 25 fps clip of 1,500 frames (the issue's kind of file that
  took 24 GB before windows were streamed).

Run: ``python benchmarks/bench_detector_v3.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import peak_rss_mb, write_result  # noqa: E402

DATA = Path(os.environ.get("EVALKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
SPIDER = DATA / "real_videos_extra" / "vivekhsridhar_tracktor" / "spider_video.mp4"
SQUARE = DATA / "real_videos_extra" / "talmolab_sleap" / "clip.mp4"


def worker(path: str) -> dict[str, Any]:
    import torch

    import detectors

    torch.set_num_threads(2)
    det = detectors.load()
    start = time.perf_counter()
    pred = det.predict_file(path)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "windows": len(pred.segments),
            "probability": pred.probability, "model_version": det.version}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2])))
        return
    from evalkit.clip import Clip
    from evalkit.video import probe_video, read_video, write_video

    results: dict[str, Any] = {"threads": 2}
    with tempfile.TemporaryDirectory() as tmp:
        cut = Path(tmp) / "spider_10s.mp4"
        write_video(cut, Clip(read_video(SPIDER, first_frames=600).frames, 60.0), crf=18)
        for name, path in (("1080p_10s", cut), ("1080p_39s", SPIDER), ("1024x1024_60s", SQUARE)):
            if not Path(path).is_file():
                continue
            info = probe_video(path)
            out = subprocess.run([sys.executable, __file__, "--worker", str(path)], capture_output=True,
                                 text=True, cwd=REPO, check=True)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            results[name] = {"file": Path(path).name if path != cut else f"{SPIDER.name} (first 600 frames)",
                             "size": f"{info.width}x{info.height}", "frames": info.num_frames,
                             "fps": info.fps, "decoded_whole_gb": round(info.num_frames * info.width * info.height * 3 / 2**30, 2),
                             **run}
    write_result("detector_v3", results)


if __name__ == "__main__":
    main()
