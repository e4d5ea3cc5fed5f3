"""Choose the reference generator's sampler settings on validation prompts (never the test).

    python scripts/sampler_sweep.py --checkpoint generator/weights/reference_v3.pt \
        --out generator/weights/sampler_sweep_v3.json

For every (eta, guidance, guidance interval) of the grid, at ``--steps``: the 64 held-out prompts of ``--seed 1``
(``heldout``: tracked, colour, g) and ``--n-freefall`` held-out free falls of the same seed
(``freefall``: g within 25%). The test numbers of the model card use ``--seed 0``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    import torch

    from generator.evaluate import evaluate

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--etas", default="0,1")
    p.add_argument("--guidances", default="2,3,4")
    p.add_argument("--intervals", default="0:1",
                   help="guidance intervals LO:HI, comma-separated (times t of the guided steps)")
    p.add_argument("--n-freefall", type=int, default=48)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    from generator.defaults import parse_guidance_interval

    intervals = [parse_guidance_interval(x, sep=":") for x in args.intervals.split(",")]
    grid = [(e, g, iv) for e in [float(x) for x in args.etas.split(",")]
            for g in [float(x) for x in args.guidances.split(",")] for iv in intervals]
    for eta, guidance, interval in grid:
        row = {"eta": eta, "guidance": guidance, "guidance_interval": list(interval),
               "steps": args.steps}
        for name, n in (("heldout", 64), ("freefall", args.n_freefall)):
            res = evaluate(args.checkpoint, n, args.seed, args.steps, guidance, eta,
                           ("reference",), (name,), interval)
            s = res["sets"][name]["reference"]["summary"]
            row[name] = {k: s[k] for k in ("n", "tracked_rate", "colour_match_rate",
                                           "freefall_n", "freefall_g_within_25pct_rate",
                                           "freefall_median_rel_error_g")}
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = Path(args.out)
    out.write_text(json.dumps({"checkpoint": args.checkpoint, "seed": args.seed,
                               "grid": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
