"""The bundled evaluator's ``torchmetrics.Metric`` classes (the torch half of
:mod:`evalkit.metrics.evaluator`).

Apart from the suite-facing ``alignment`` / ``r_precision`` adapters so that listing metrics
and validating suites never import torch; :mod:`evalkit.metrics.evaluator` re-exports these
classes on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torchmetrics import Metric as TorchMetric
from torchmetrics.utilities import dim_zero_cat

from evalkit.metrics.evaluator import candidate_prompts
from evalkit.metrics.evaluator_scoring import load_evaluator
from evalkit.metrics.video_features.preprocess import VideoInput

__all__ = ["EvaluatorAlignment", "EvaluatorRPrecision"]


# ----------------------------------------------------------------------------------------------
# torchmetrics classes
# ----------------------------------------------------------------------------------------------


class EvaluatorAlignment(TorchMetric):
    """Mean text–video cosine under the bundled evaluator. ``update(videos, prompts)``."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, weights: str | Path | None = None, device: str = "cpu", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.evaluator = load_evaluator(weights, device)
        self.add_state("scores", default=[], dist_reduce_fx="cat")

    def update(self, videos: VideoInput, prompts: Sequence[str]) -> None:  # type: ignore[override]
        self.scores.append(self.evaluator.alignment(videos, list(prompts)).double())

    def compute(self) -> torch.Tensor:
        return dim_zero_cat(self.scores).mean()


class EvaluatorRPrecision(TorchMetric):
    """R-precision@1 and @3 among ``k`` prompts. ``compute()`` → ``{"top1": t, "top3": t}``."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, weights: str | Path | None = None, device: str = "cpu", k: int = 32,
                 seed: int = 0, pool: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if k < 3:
            raise ValueError(f"k must be >= 3 (top-3 is reported), got {k}")
        self.evaluator = load_evaluator(weights, device)
        self.k, self.seed, self.pool = k, seed, list(pool) if pool is not None else None
        self.add_state("ranks", default=[], dist_reduce_fx="cat")

    def ranks_of(self, videos: VideoInput, prompts: Sequence[str]) -> torch.Tensor:
        """``(N,)`` rank (1 = best) of each clip's prompt among its candidates."""
        candidates = [candidate_prompts(p, self.k, self.seed, self.pool) for p in prompts]
        return self.evaluator.ranks(videos, candidates)

    def update(self, videos: VideoInput, prompts: Sequence[str]) -> None:  # type: ignore[override]
        self.ranks.append(self.ranks_of(videos, prompts))

    def compute(self) -> dict[str, torch.Tensor]:
        ranks = dim_zero_cat(self.ranks)
        return {"top1": (ranks <= 1).double().mean(), "top3": (ranks <= 3).double().mean()}
