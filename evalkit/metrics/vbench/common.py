"""What every VBench dimension metric shares: options, up-front weight checks, the device, and
VBench's per-dimension aggregate in the summary.

Importing this module imports neither torch nor transformers (``evalkit ls`` and suite
validation stay fast); the networks load on the first clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from evalkit.metrics.base import ClipMetric, summarize_numeric
from evalkit.metrics.vbench.weights import ResolvedWeights, WeightsUnavailable, resolve

__all__ = ["VBenchDimension", "VBenchOptions", "vbench_aggregate"]


class VBenchOptions(BaseModel):
    """Options every VBench dimension with a network takes (each adds its backbone options)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    weights_dir: str | None = Field(
        None, description="folder with VBench's weight files (else $EVALKIT_VBENCH_WEIGHTS, "
                          "then VBench's cache $VBENCH_CACHE_DIR or ~/.cache/vbench)")
    device: str = Field("auto", description="auto (cuda, mps, cpu), cpu, cuda, cuda:1; float32")
    batch_size: int = Field(32, ge=1, description="frames (or frame pairs for RAFT) per forward pass")


def vbench_aggregate(dimension: str, per_clip: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """VBench's aggregate of one dimension over clips, as its ``compute_<dimension>`` returns it.

    - subject/background consistency: ``Σ_videos Σ_pairs sim / Σ_videos pairs`` (per frame pair,
      so longer clips weigh more), from each clip's value and ``pairs``;
    - appearance style: per frame (``frames``), likewise;
    - temporal flickering: the mean over the clips the static filter kept (all clips when the
      filter is off);
    - every other dimension: the mean of the per-clip values.

    Returns ``{"value": float, "n": clips counted}`` or None when no clip counts.
    """
    rows = [r for r in per_clip if isinstance(r.get(dimension), (int, float))]
    if dimension == "temporal_flickering":
        rows = [r for r in rows if r.get("static", 1) == 1]
    if not rows:
        return None
    if dimension in ("subject_consistency", "background_consistency"):
        pairs = sum(int(r["pairs"]) for r in rows)
        value = sum(float(r[dimension]) * int(r["pairs"]) for r in rows) / pairs
    elif dimension == "appearance_style":  # VBench: the mean over all frames of all clips
        frames = sum(int(r["frames"]) for r in rows)
        value = sum(float(r[dimension]) * int(r["frames"]) for r in rows) / frames
    else:
        value = sum(float(r[dimension]) for r in rows) / len(rows)
    return {"value": value, "n": len(rows)}


class VBenchDimension(ClipMetric):
    """Base of the VBench dimensions that load networks.

    Subclasses set ``name`` (the VBench dimension), ``backbones`` (option name → key of
    :data:`evalkit.metrics.vbench.weights.BACKBONES`) and implement ``score``.
    """

    higher_is_better = True
    units = "VBench score in [0, 1]"
    backbones: ClassVar[dict[str, str]] = {}
    Options: ClassVar[type[BaseModel]] = VBenchOptions

    @classmethod
    def options_problem(cls, options: dict[str, Any]) -> str | None:
        """The one-line reason this metric cannot load its weights, or None (asked by the runner
        while planning, before any clip is generated or decoded)."""
        for option, key in cls.required_backbones(options).items():
            try:
                resolve(key, options.get(option), options.get("weights_dir"), cls.name)
            except WeightsUnavailable as exc:
                return str(exc)
        return None

    @classmethod
    def required_backbones(cls, options: dict[str, Any]) -> dict[str, str]:
        """The backbones these options need (option name → backbone key)."""
        return dict(cls.backbones)

    def weights(self, option: str) -> ResolvedWeights:
        """Where the backbone behind ``option`` is (raises WeightsUnavailable)."""
        o = self.options
        return resolve(self.backbones[option], getattr(o, option), o.weights_dir, self.name)

    def device(self) -> str:
        from evalkit.devices import metric_device

        return metric_device(self.options.device)

    def info(self) -> dict[str, Any]:
        out = super().info()
        out["vbench_dimension"] = self.name
        return out

    def summarize(self, per_clip: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Mean/std/median/n per value, plus ``vbench``: VBench's own aggregate (see
        :func:`vbench_aggregate`)."""
        out = summarize_numeric(per_clip)
        agg = vbench_aggregate(self.name, per_clip)
        if agg is not None:
            out["vbench"] = agg
        return out


def consistency_sums(features: Any) -> tuple[float, int]:
    """VBench's subject/background consistency sum over one clip's frame features.

    Args:
        features: float ``(T, D)`` torch tensor, already L2-normalised per frame.
    Returns:
        ``(video_sim, pairs)``: ``Σ_{i≥1} (max(0, cos(f_i, f_{i-1})) + max(0, cos(f_i, f_0))) / 2``
        accumulated in Python floats as VBench does, and ``T - 1``. VBench's per-video value is
        ``video_sim / pairs``.
    """
    import torch.nn.functional as F

    prev = F.cosine_similarity(features[:-1], features[1:], dim=-1)
    first = F.cosine_similarity(features[:1].expand_as(features[1:]), features[1:], dim=-1)
    video_sim = 0.0
    for p, f in zip(prev.tolist(), first.tolist()):
        video_sim += (max(0.0, p) + max(0.0, f)) / 2
    return video_sim, int(features.shape[0]) - 1
