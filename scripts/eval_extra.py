"""Extra evidence and ablations for generator/MODEL_CARD.md: a fixed list of
``python -m generator.evaluate`` runs, gathered into one JSON (each entry: the command and the
JSON it wrote).

    python scripts/eval_extra.py --out generator/weights/eval_v3_extra.json

The runs: 96 more held-out free falls (``--seed 5``) for every condition with the shipped
sampler and with v3's sampler before the guidance interval (guidance 2 on every step), the
seed-0 test prompts with that sampler and with guidance 3 on every step, and the
seed-0 test prompts (held-out and OOD) with full-interval guidance and with v2, so the card can
tell what the probe change, the sampler change and the model each did.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

V3 = "generator/weights/reference_v3.pt"
V2 = "generator/weights/reference_v2.pt"
RUNS: list[list[str]] = [
    ["--checkpoint", V3, "--sets", "freefall", "--seed", "5", "--n", "96",
     "--conditions", "world,vae_roundtrip,reference,reference_unmarked"],
    ["--checkpoint", V3, "--sets", "freefall", "--seed", "5", "--n", "96",
     "--conditions", "reference,reference_unmarked", "--guidance", "2",
     "--guidance-interval", "0,1"],
    ["--checkpoint", V3, "--sets", "heldout", "--conditions", "reference,reference_unmarked",
     "--guidance", "2", "--guidance-interval", "0,1"],
    ["--checkpoint", V3, "--sets", "heldout", "--conditions", "reference,reference_unmarked",
     "--guidance-interval", "0,1"],
    ["--checkpoint", V2, "--sets", "heldout", "--conditions", "reference", "--eta", "0",
     "--guidance", "3", "--guidance-interval", "0,1"],
    ["--checkpoint", V3, "--sets", "ood", "--conditions", "reference", "--guidance", "2",
     "--guidance-interval", "0,1"],
]


def main(argv: list[str] | None = None) -> int:
    from generator.evaluate import main as evaluate_main

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--only", type=int, nargs="*", default=None,
                   help="run only these entries of RUNS (0-based) and merge them into --out")
    args = p.parse_args(argv)
    out_path = Path(args.out)
    todo = range(len(RUNS)) if args.only is None else args.only
    runs: list = [None] * len(RUNS)
    if args.only is not None and out_path.is_file():
        old = json.loads(out_path.read_text())["runs"]
        runs[:len(old)] = old[:len(RUNS)]
    with tempfile.TemporaryDirectory() as tmp:
        for i in todo:
            run = RUNS[i]
            out = Path(tmp) / f"{i}.json"
            code = evaluate_main([*run, "--out", str(out)])
            if code:
                return code
            runs[i] = {"command": " ".join(["python -m generator.evaluate", *run]),
                       "result": json.loads(out.read_text())}
    if any(r is None for r in runs):
        raise SystemExit(f"{out_path}: entries {[i for i, r in enumerate(runs) if r is None]} "
                         "missing; run without --only")
    out_path.write_text(json.dumps({
        "note": "Extra evidence and ablations for generator/MODEL_CARD.md (scripts/eval_extra.py); "
                "each entry is the JSON that its command wrote.",
        "runs": runs}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
