"""Score reference-generator samples with the shipped detector (no provenance marks, so only the
detector's own evidence counts).

    python scripts/detector_on_generator.py \
        --run generator/weights/reference_v2.pt:0:3 --run generator/weights/reference_v3.pt:1:2 \
        --run generator/weights/reference_v3.pt:1:3:0.6:1 \
        --n 128 --out detectors/weights/detector_v2_on_generators.json

Each ``--run CHECKPOINT:ETA:GUIDANCE[:LO:HI]`` (``LO:HI``: the guidance interval, default the
whole path) samples ``--n`` training-distribution prompts at 20 steps
with seeds ``5_000_000 + i`` (the detector's own training samples used seeds ``0..699``) and
records the detector's probability: mean, minimum, and the share at or above 0.5 and 0.7 (the
``ai_generated`` label).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import torch

    from detectors.detector import Detector
    from generator.data import training_scene
    from generator.pipeline import Pipeline

    p = argparse.ArgumentParser()
    p.add_argument("--run", action="append", required=True,
                   metavar="CHECKPOINT:ETA:GUIDANCE[:LO:HI]")
    p.add_argument("--n", type=int, default=128)
    p.add_argument("--model", default="evalkit-detector-2",
                   help="detector weights or shipped name (default: evalkit-detector-2, the physics-world one)")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    det = Detector.load(args.model)
    rng = np.random.default_rng([5, 11])
    prompts = [training_scene(rng).prompt for _ in range(args.n)]
    seeds = [5_000_000 + i for i in range(args.n)]
    rows = []
    for run in args.run:
        checkpoint, eta, guidance, interval = _parse_run(run)
        pipe = Pipeline.from_checkpoint(checkpoint)
        probs = []
        for i in range(0, args.n, 16):
            frames = pipe.generate(prompts[i:i + 16], seeds[i:i + 16], steps=20,
                                   guidance=guidance, eta=eta, guidance_interval=interval)
            probs += [det.predict(f, fps=8.0).probability for f in frames]
        pr = np.array(probs)
        row = {"checkpoint": checkpoint, "eta": eta, "guidance": guidance,
               "guidance_interval": list(interval),
               "n": args.n, "mean_probability": float(pr.mean()), "min_probability": float(pr.min()),
               "share_at_or_above_0.5": float((pr >= 0.5).mean()),
               "share_at_or_above_0.7": float((pr >= 0.7).mean())}
        rows.append(row)
        print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps({"detector": det.version, "runs": rows}, indent=1) + "\n")
    return 0


def _parse_run(run: str) -> tuple[str, float, float, tuple[float, float]]:
    """``CHECKPOINT:ETA:GUIDANCE[:LO:HI]`` -> its parts (interval default: the whole path)."""
    parts = run.split(":")
    try:
        tail = [float(x) for x in parts[-4:]]
        if len(parts) >= 5:
            return ":".join(parts[:-4]), tail[0], tail[1], (tail[2], tail[3])
    except ValueError:
        pass
    checkpoint, eta, guidance = run.rsplit(":", 2)
    return checkpoint, float(eta), float(guidance), (0.0, 1.0)


if __name__ == "__main__":
    sys.exit(main())
