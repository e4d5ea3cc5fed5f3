"""Train the bundled video–text evaluator on physics-world clips rendered on the fly.

Usage (about 10 minutes on 2 CPU cores; the same scenes for the same --seed)::

    python -m evalkit.metrics.train_evaluator --out evalkit/weights/evaluator_v1.pt

Each step renders a fresh batch of in-distribution world scenes (16 frames, 64 x 64) with their
prompts, embeds the prompts with the frozen MiniLM text tower, and minimises the symmetric
InfoNCE loss of :class:`~evalkit.metrics.evaluator_model.EvaluatorModel` (video tower, text
projection and temperature are trained). AdamW, linear warm-up then cosine decay. At the end,
top-1/top-3 R-precision among 32 prompts is measured on held-out scenes (a separate seed
stream) and written into the checkpoint's ``meta`` and the log.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from evalkit.metrics.evaluator_data import split_rng, world_examples
from evalkit.metrics.evaluator_model import EVALUATOR_configs, EvaluatorModel, shared_text_encoder
from evalkit.metrics.evaluator_scoring import Evaluator, heldout_r_precision
from evalkit.metrics.video_features.preprocess import to_model_input

log = logging.getLogger("evalkit.train_evaluator")


def lr_at(step: int, steps: int, peak: float, warmup: int) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then cosine decay to 5% of it."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(
    out: Path,
    steps: int = 1200,
    batch_size: int = 48,
    lr: float = 2e-3,
    config: str = "Evaluator-S",
    seed: int = 0,
    threads: int = 2,
    eval_clips: int = 512,
) -> dict:
    """Train, evaluate on held-out scenes, save ``out``; returns the checkpoint's meta."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = EvaluatorModel(**EVALUATOR_configs[config])
    text = shared_text_encoder("cpu")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    rng = split_rng(seed, "train")
    start, running = time.time(), None
    for step in range(steps):
        videos, prompts, _ = world_examples(rng, batch_size)
        x = to_model_input(videos, 16, 64, sampling="uniform")
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr, warmup=min(100, steps // 10))
        loss = model.contrastive_loss(x, text(prompts))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 50 == 0 or step == steps - 1:
            log.info("step %d/%d loss %.4f (avg %.4f) scale %.1f %.0fs", step, steps, loss.item(),
                     running, model.log_scale.exp().item(), time.time() - start)
    train_s = time.time() - start
    scores = heldout_r_precision(Evaluator(model), n=eval_clips, seed=seed)
    log.info("held-out R-precision among %d prompts: top1 %.3f top3 %.3f (n=%d)",
             scores["k"], scores["top1"], scores["top3"], scores["n"])
    meta = {
        "config": config, "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
        "threads": threads, "train_seconds": round(train_s, 1), "final_loss_avg": running,
        "heldout_r_precision": scores, "torch": str(torch.__version__),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.config, "state_dict": model.state_dict(), "meta": meta}, out)
    log.info("saved %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--batch-size", type=int, default=48)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--config", default="Evaluator-S", choices=sorted(EVALUATOR_configs))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-clips", type=int, default=512)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(args.out, args.steps, args.batch_size, args.lr, args.config, args.seed, args.threads, args.eval_clips)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
