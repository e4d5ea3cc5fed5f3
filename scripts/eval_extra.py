"""Extra evidence and ablations for generator/MODEL_CARD.md: a fixed list of
``python -m generator.evaluate`` runs, gathered into one JSON (each entry: the command and the
JSON it wrote).

    python scripts/eval_extra.py --out generator/weights/eval_v3_extra.json

The runs: 96 more held-out free falls (``--seed 5``) for every condition with the shipped
sampler and with full-interval guidance (v3's sampler before the guidance interval), and the
seed-0 test prompts with full-interval guidance and with v2, so the card can tell what the
probe change, the sampler change and the model each did.
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
     "--conditions", "reference,reference_unmarked", "--guidance-interval", "0,1"],
    ["--checkpoint", V3, "--sets", "heldout", "--conditions", "reference,reference_unmarked",
     "--guidance-interval", "0,1"],
    ["--checkpoint", V2, "--sets", "heldout", "--conditions", "reference", "--eta", "0",
     "--guidance", "3", "--guidance-interval", "0,1"],
]


def main(argv: list[str] | None = None) -> int:
    from generator.evaluate import main as evaluate_main

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, run in enumerate(RUNS):
            out = Path(tmp) / f"{i}.json"
            code = evaluate_main([*run, "--out", str(out)])
            if code:
                return code
            runs.append({"command": " ".join(["python -m generator.evaluate", *run]),
                         "result": json.loads(out.read_text())})
    Path(args.out).write_text(json.dumps({
        "note": "Extra evidence and ablations for generator/MODEL_CARD.md (scripts/eval_extra.py); "
                "each entry is the JSON that its command wrote.",
        "runs": runs}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
