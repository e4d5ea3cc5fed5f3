"""The model card's sample grid: the training-grid prompts, then the first four held-out free
falls of the test set (``heldout_scenes(64, seed=0)``, with the evaluation's seeds), sampled with
the shipped defaults; columns are every other frame.

    python scripts/sample_grid.py --out generator/weights/samples_v3.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from generator.data import heldout_scenes
    from generator.pipeline import load_pipeline
    from generator.train import GRID_PROMPTS, save_grid

    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    specs = heldout_scenes(64, seed=0)
    falls = [(i, s) for i, s in enumerate(specs) if s.objects[0].motion.value == "freefall"][:4]
    prompts = list(GRID_PROMPTS) + [s.prompt for _, s in falls]
    # the evaluation's seed of held-out prompt i is its place in its batch of 16
    seeds = list(range(len(GRID_PROMPTS))) + [i % 16 for i, _ in falls]
    save_grid(load_pipeline(args.checkpoint).generate(prompts, seeds), Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
