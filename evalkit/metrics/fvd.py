"""FVD and KVD: torchmetrics classes, and the evalkit metrics ``fvd`` / ``kvd`` over them.

One implementation, two faces:

- :class:`FrechetVideoDistance` and :class:`KernelVideoDistance` (defined in
  :mod:`evalkit.metrics.video_distance`, re-exported here and imported on first use, so that
  listing metrics and validating suites never import torch) are ``torchmetrics.Metric``
  classes for standalone use: ``update(videos, real=True/False)`` extracts backbone features and
  keeps them as states; ``compute()`` applies the distances of
  :mod:`evalkit.metrics.video_features.distances`; ``summary()`` adds what a number needs to be
  comparable (backbone, protocol, weights and their sha256, N per side, frames, resolution) and,
  for FVD, an estimate of its small-N bias.
- :class:`FVD` and :class:`KVD` are evalkit :class:`~evalkit.metrics.base.SetMetric` adapters
  that the runner drives (``reset``, ``update(reference, real=True)``,
  ``update(generated, real=False)``, ``compute() -> dict``).

Backbones (:mod:`evalkit.metrics.video_features.backbones`): ``i3d``, DeepMind's Kinetics-400
I3D under a named FVD protocol (:mod:`~evalkit.metrics.video_features.protocols`) — the FVD that
papers report; and ``evaluator``, the bundled model trained on the physics world, for world
clips only. In a suite, ``backbone: auto`` (the default) picks ``evaluator`` when the reference
is the physics world and ``i3d`` otherwise. Numbers from different backbones, protocols or
weights are not comparable; every result says which made it.

FVD is biased by the number of videos: it shrinks roughly as ``FVD_inf + k / N``. Sets of
unequal N are refused unless ``allow_unequal_n=True``; the summary carries ``fvd_half_n`` (FVD of
random half-size subsets) and ``fvd_bias_estimate = fvd_half_n - fvd`` (the ``k / N`` term,
fitted on two points as FID-infinity does), and a warning is logged when N is small.
KVD (unbiased MMD², cubic polynomial kernel, mean ± std over random subsets of equal size) is
unbiased in N and may be slightly negative for identical distributions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from evalkit.metrics.base import MetricError, SetMetric
from evalkit.metrics.video_features.distances import frechet_distance_from_features, kernel_distance
from evalkit.metrics.video_features.protocol_names import DEFAULT_PROTOCOL, PROTOCOL_NAMES
from evalkit.metrics.video_features.stats import ReferenceStats

if TYPE_CHECKING:
    from evalkit.metrics.video_distance import (FrechetVideoDistance, KernelVideoDistance,
                                                _VideoFeatureMetric)

log = logging.getLogger(__name__)

__all__ = ["FVD", "KVD", "FrechetVideoDistance", "KernelVideoDistance", "VideoDistanceOptions",
           "fvd_bias_estimate"]

#: Below this many videos per side, FVD's 1/N bias is large enough to warn about (StyleGAN-V
#: and most papers use 2048; its own docs call results from a few hundred indicative only).
SMALL_N = 256
#: Random half-size subsets averaged for the bias estimate.
BIAS_DRAWS = 32


def fvd_bias_estimate(real: np.ndarray, fake: np.ndarray, ddof: int, seed: int = 0,
                      draws: int = BIAS_DRAWS) -> float | None:
    """Mean FVD of random half-size subsets of both sides (None when a half has < 4 videos).

    With ``FVD(N) ≈ FVD_inf + k / N``, ``FVD(N/2) - FVD(N)`` estimates the bias ``k / N`` of the
    full-size number. When both sides have the same N, the same positions are drawn on both
    sides: a suite's reference and generated clips come in the same prompt order, and halves
    that kept different prompts on each side would measure the content gap, not the 1/N trend
    (for exchangeable sets, drawing the same positions is as random as drawing others).
    """
    n_real, n_fake = real.shape[0] // 2, fake.shape[0] // 2
    if min(n_real, n_fake) < 4:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        pick_real = rng.choice(real.shape[0], n_real, replace=False)
        pick_fake = pick_real if real.shape[0] == fake.shape[0] else rng.choice(fake.shape[0], n_fake, replace=False)
        values.append(frechet_distance_from_features(real[pick_real], fake[pick_fake], ddof))
    return float(np.mean(values))


def _bias_words(value: float, half: float | None) -> str:
    if half is None:
        return "too few videos to estimate its 1/N bias"
    bias = half - value
    if 0 <= bias <= 1.5 * value:
        return f"an estimated {bias:.4g} of it is the 1/N bias (FVD of half-size subsets: {half:.4g})"
    return (f"half-size subsets give {half:.4g}, no clean 1/N trend to estimate its bias from "
            "(too few videos, or sets that are not random samples)")


# ----------------------------------------------------------------------------------------------
# evalkit adapters
# ----------------------------------------------------------------------------------------------


class VideoDistanceOptions(BaseModel):
    """Options of ``fvd`` and ``kvd`` in a suite."""

    model_config = ConfigDict(extra="forbid")

    backbone: Literal["auto", "i3d", "evaluator"] = Field(
        "auto", description="'i3d' (Kinetics-400 I3D, the FVD papers report), 'evaluator' (bundled, "
        "physics world only) or 'auto': evaluator when the reference is the physics world, else i3d")
    protocol: str = Field(DEFAULT_PROTOCOL, description=f"i3d: FVD protocol, one of {', '.join(PROTOCOL_NAMES)}")
    frames: int = Field(16, ge=9, le=1024, description="i3d: frames per video")
    weights: Path | None = Field(None, description="backbone weights file (default: the installed ones)")
    allow_unequal_n: bool = Field(False, description="compute FVD although the sets differ in size")
    device: str = Field("auto", description="auto (cuda, mps, cpu), cpu, cuda, cuda:1; float32")
    batch_size: int = Field(8, ge=1)
    kvd_subsets: int = Field(100, ge=1)
    kvd_subset_size: int = Field(1000, ge=2)
    seed: int = 0

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, value: str) -> str:
        if value not in PROTOCOL_NAMES:
            raise ValueError(f"unknown FVD protocol {value!r}; choose from {', '.join(PROTOCOL_NAMES)}")
        return value


class _VideoDistanceAdapter(SetMetric):
    """Runs a torchmetrics video-distance class for the runner; built on first update."""

    Options: ClassVar[type[BaseModel]] = VideoDistanceOptions
    higher_is_better: ClassVar[bool | None] = False
    version: ClassVar[str] = "2"
    #: The runner may hand over :class:`~evalkit.video.VideoFile` handles (decoded as a stream).
    streams_files: ClassVar[bool] = True
    #: A suite may give precomputed :class:`ReferenceStats` as the reference.
    accepts_reference_stats: ClassVar[bool] = True

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._metric: _VideoFeatureMetric | None = None
        self._reference_kind: str | None = None

    @classmethod
    def reference_problem(cls, options: dict[str, Any], reference: Any) -> str | None:
        """Why a statistics reference cannot serve these options (checked before any work)."""
        if getattr(reference, "kind", None) != "stats":
            return None
        from evalkit.metrics.video_features.stats import load_stats

        o = cls.Options(**options)
        stats = load_stats(reference.path)
        backbone = "i3d" if o.backbone == "auto" else o.backbone
        wanted: dict[str, Any] = {"backbone": backbone}
        if backbone == "i3d":
            wanted.update(protocol=o.protocol, frames=o.frames)
        diffs = [f"{k} {stats.meta.get(k)} (file) vs {v} (options)" for k, v in wanted.items()
                 if stats.meta.get(k) != v]
        if diffs:
            return (f"{reference.path} was made differently: {'; '.join(diffs)}; recompute it with "
                    "'evalkit fvd-stats' or change the options")
        return None

    def bind_reference(self, kind: str) -> None:
        """Tell the metric what the reference set is ('world', 'folder', 'stats'): picks 'auto'."""
        before = self.backbone_name
        self._reference_kind = kind
        if self.backbone_name != before:
            self._metric = None  # built for the other backbone (the runner reuses instances)

    @property
    def backbone_name(self) -> str:
        if self.options.backbone != "auto":
            return self.options.backbone
        return "evaluator" if self._reference_kind == "world" else "i3d"

    def _make(self) -> _VideoFeatureMetric:
        raise NotImplementedError

    def _torchmetric(self) -> _VideoFeatureMetric:
        if self._metric is None:
            try:
                self._metric = self._make()
            except (FileNotFoundError, ValueError) as exc:
                raise MetricError(str(exc)) from exc
        return self._metric

    def reset(self) -> None:
        super().reset()
        if self._metric is not None:
            self._metric.reset()
            backbone = self._metric.backbone
            if hasattr(backbone, "reset_rng"):
                backbone.reset_rng()

    def update(self, clips: Any, real: bool) -> None:  # type: ignore[override]
        if isinstance(clips, ReferenceStats):
            if not real:
                raise MetricError(f"{self.name}: statistics can only stand for the reference side")
            try:
                self._torchmetric().set_reference(clips)
            except ValueError as exc:
                raise MetricError(str(exc)) from exc
            return
        clips = list(clips)
        if clips:
            self._torchmetric().update(clips, real=real)

    def _common(self) -> dict[str, Any]:
        o = self.options
        return {"backbone": self.backbone_name, "weights": o.weights, "device": o.device,
                "batch_size": o.batch_size, "protocol": o.protocol, "frames": o.frames, "seed": o.seed}


class FVD(_VideoDistanceAdapter):
    name = "fvd"
    description = ("Fréchet Video Distance to the reference set: Kinetics-400 I3D (real video) or the "
                   "bundled evaluator (physics world); + KVD of the same features")
    units = "squared feature distance"
    primary = "fvd"

    def _make(self) -> FrechetVideoDistance:
        from evalkit.metrics.video_distance import FrechetVideoDistance

        return FrechetVideoDistance(**self._common(), allow_unequal_n=self.options.allow_unequal_n)

    def compute(self) -> dict[str, Any]:
        metric = self._torchmetric()
        try:
            out = metric.summary()
        except ValueError as exc:
            raise MetricError(f"fvd: {exc}") from exc
        real, fake = metric.features()
        if real.shape[0] >= 2:  # KVD needs per-video features on both sides
            mean, std, _ = kernel_distance(real.numpy(), fake.numpy(), self.options.kvd_subsets,
                                           self.options.kvd_subset_size, self.options.seed)
            out.update(kvd=mean, kvd_std=std)
        return out


class KVD(_VideoDistanceAdapter):
    name = "kvd"
    description = "Kernel Video Distance: unbiased polynomial-kernel MMD² over subsets (as KID)"
    units = "MMD² (feature units)"
    primary = "kvd"

    def _make(self) -> KernelVideoDistance:
        from evalkit.metrics.video_distance import KernelVideoDistance

        o = self.options
        return KernelVideoDistance(**self._common(), subsets=o.kvd_subsets, subset_size=o.kvd_subset_size)

    def compute(self) -> dict[str, Any]:
        try:
            return self._torchmetric().summary()  # type: ignore[union-attr]
        except ValueError as exc:
            raise MetricError(f"kvd: {exc}") from exc


def __getattr__(name: str) -> Any:
    """The torchmetrics classes, imported on first use (they need torch; the adapters above
    do not, so ``evalkit ls metrics`` and ``evalkit validate`` stay fast)."""
    if name in ("FrechetVideoDistance", "KernelVideoDistance", "_VideoFeatureMetric"):
        from evalkit.metrics import video_distance

        return getattr(video_distance, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
