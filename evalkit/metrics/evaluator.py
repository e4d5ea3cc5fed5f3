"""Metrics of the bundled video–text evaluator: ``alignment`` and ``r_precision``.

- ``alignment``: cosine between the clip's and the prompt's embeddings (``[-1, 1]``, higher is
  better). It falls when the prompt names another colour or motion than the clip shows.
- ``r_precision``: text-to-motion style retrieval (Guo et al., 2022): the clip's prompt and 31
  distractor prompts are ranked by similarity to the clip; top-1 / top-3 hit. Averaged over clips
  this is R-precision@1 / @3. Distractors are other prompts of the evaluated set when the
  torchmetrics class is given a ``pool``, else prompts of random world scenes drawn from a stream
  seeded by the prompt itself, so a clip's score never depends on which other clips were scored.

The evaluator was trained on physics-world scenes (see ``evalkit/weights/evaluator_v1.md``):
its numbers mean most for clips and prompts of that world.

Both are ``torchmetrics.Metric`` classes (:class:`EvaluatorAlignment`,
:class:`EvaluatorRPrecision`, in :mod:`evalkit.metrics.evaluator_torchmetrics` and re-exported
here on first use, so that this module imports without torch) and evalkit clip metrics (:class:`Alignment`, :class:`RPrecision`)
over the same scoring code (:mod:`evalkit.metrics.evaluator_scoring`).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, ClipMetric, MetricError
from evalkit.metrics.evaluator_data import distractor_prompts

if TYPE_CHECKING:
    from evalkit.metrics.evaluator_scoring import Evaluator

__all__ = ["Alignment", "EvaluatorAlignment", "EvaluatorRPrecision", "RPrecision", "candidate_prompts"]


def candidate_prompts(prompt: str, k: int = 32, seed: int = 0, pool: Sequence[str] | None = None) -> list[str]:
    """``[prompt, *k-1 distractors]``, deterministic in ``(prompt, seed, pool)``."""
    stream = zlib.crc32(prompt.encode()) ^ seed
    return [prompt, *distractor_prompts(prompt, k - 1, seed=stream, pool=pool)]


def _evaluator(weights: str | Path | None, device: str) -> Evaluator:
    # Imported here: the model needs torch, and listing or validating must not import it.
    from evalkit.metrics.evaluator_scoring import load_evaluator

    try:
        return load_evaluator(weights, device)
    except FileNotFoundError as exc:
        raise MetricError(str(exc)) from exc


# ----------------------------------------------------------------------------------------------
# evalkit adapters
# ----------------------------------------------------------------------------------------------


class EvaluatorOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weights: Path | None = Field(None, description="evaluator checkpoint (default: the bundled one)")
    device: str = Field("auto", description="auto (cuda, mps, cpu), cpu, cuda, cuda:1; float32")


class RPrecisionOptions(EvaluatorOptions):
    k: int = Field(32, ge=3, description="candidate prompts per clip (its own + k-1 distractors)")
    seed: int = 0


class Alignment(ClipMetric):
    name = "alignment"
    description = "bundled evaluator: cosine between the clip's and its prompt's embeddings"
    higher_is_better = True
    units = "cosine in [-1, 1]"
    primary = "alignment"
    version = "1"
    Options: ClassVar[type[BaseModel]] = EvaluatorOptions

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        if not context.prompt:
            raise MetricError("alignment needs the clip's prompt")
        evaluator = _evaluator(self.options.weights, self.options.device)
        return {"alignment": float(evaluator.alignment([clip], [context.prompt])[0])}


class RPrecision(ClipMetric):
    name = "r_precision"
    description = "bundled evaluator: is the clip's prompt the best (top-1) / top-3 of 32 prompts"
    higher_is_better = True
    units = "fraction of clips (mean of hits)"
    primary = "r_precision"
    version = "1"
    Options: ClassVar[type[BaseModel]] = RPrecisionOptions

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        if not context.prompt:
            raise MetricError("r_precision needs the clip's prompt")
        o = self.options
        evaluator = _evaluator(o.weights, o.device)
        rank = int(evaluator.ranks([clip], [candidate_prompts(context.prompt, o.k, o.seed)])[0])
        return {"r_precision": float(rank <= 1), "r_precision_top3": float(rank <= 3), "rank": rank}


def __getattr__(name: str) -> Any:
    """The torchmetrics classes, imported on first use (they need torch)."""
    if name in ("EvaluatorAlignment", "EvaluatorRPrecision"):
        from evalkit.metrics import evaluator_torchmetrics

        return getattr(evaluator_torchmetrics, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
