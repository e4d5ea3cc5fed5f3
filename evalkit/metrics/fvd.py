"""FVD and KVD: torchmetrics classes, and the evalkit metrics ``fvd`` / ``kvd`` over them.

One implementation, two faces:

- :class:`FrechetVideoDistance` and :class:`KernelVideoDistance` are ``torchmetrics.Metric``
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
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torchmetrics import Metric as TorchMetric
from torchmetrics.utilities import dim_zero_cat

from evalkit.metrics.base import MetricError, SetMetric
from evalkit.metrics.video_features.backbones import VideoBackbone, build_backbone
from evalkit.metrics.video_features.distances import (
    frechet_distance,
    frechet_distance_from_features,
    gaussian_statistics,
    kernel_distance,
)
from evalkit.metrics.video_features.preprocess import VideoInput
from evalkit.metrics.video_features.protocols import DEFAULT_PROTOCOL, PROTOCOLS
from evalkit.metrics.video_features.stats import ReferenceStats

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
# torchmetrics classes
# ----------------------------------------------------------------------------------------------


class _VideoFeatureMetric(TorchMetric):
    """Collects backbone features of real and generated videos (the shared state of FVD/KVD).

    The real side can instead be given as :class:`ReferenceStats` (:meth:`set_reference`),
    precomputed with the same backbone, protocol, frames and weights.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(
        self,
        backbone: str | VideoBackbone = "i3d",
        weights: str | Path | None = None,
        device: str = "cpu",
        batch_size: int = 8,
        protocol: str = DEFAULT_PROTOCOL,
        frames: int = 16,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.backbone = (
            build_backbone(backbone, weights, device, batch_size, protocol, frames, seed)
            if isinstance(backbone, str) else backbone
        )
        self.seed = seed
        self.reference: ReferenceStats | None = None
        self.add_state("real_features", default=[], dist_reduce_fx="cat")
        self.add_state("fake_features", default=[], dist_reduce_fx="cat")

    def update(self, videos: VideoInput, real: bool) -> None:  # type: ignore[override]
        """Add videos (clips, files, or uint8 ``(N, T, H, W, 3)``) to the real or generated side."""
        feats = self.backbone.features(videos)
        (self.real_features if real else self.fake_features).append(feats)

    def set_reference(self, stats: ReferenceStats) -> None:
        """Use precomputed statistics as the real side (refused if made another way)."""
        stats.check_compatible(self.backbone.describe())
        self.reference = stats

    def reset(self) -> None:
        super().reset()
        self.reference = None

    def features(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Accumulated float64 features: real ``(N_real, D)`` and generated ``(N_fake, D)``.

        With reference statistics, the real side is their stored per-video features (empty
        if the file holds none).
        """
        def side(states: list[torch.Tensor] | torch.Tensor) -> torch.Tensor:
            if isinstance(states, list) and not states:
                return torch.zeros(0, self.backbone.dim, dtype=torch.float64)
            return dim_zero_cat(states).double()

        if self.reference is not None:
            stored = self.reference.features
            real = torch.from_numpy(stored) if stored is not None else torch.zeros(0, self.backbone.dim,
                                                                                  dtype=torch.float64)
            return real.double(), side(self.fake_features)
        return side(self.real_features), side(self.fake_features)

    def _n_real(self, real: torch.Tensor) -> int:
        return self.reference.n if self.reference is not None else int(real.shape[0])

    def describe(self) -> dict[str, Any]:
        """Backbone, protocol, weights, frames, resolution, feature size and N of each side."""
        real, fake = self.features()
        out = {**self.backbone.describe(), "n_real": self._n_real(real), "n_fake": int(fake.shape[0])}
        if self.reference is not None:
            out["reference_stats"] = {"path": self.reference.path, "source": self.reference.meta.get("source")}
        return out


class FrechetVideoDistance(_VideoFeatureMetric):
    """Fréchet distance between Gaussians fitted to backbone features (float64, ``eigvalsh``).

    The covariance divisor follows the backbone's protocol (``N - 1``, or ``N`` for cd-fvd).

    Example::

        fvd = FrechetVideoDistance(backbone="i3d")   # DeepMind's Kinetics-400 I3D, 'styleganv'
        fvd.update(real_videos, real=True)           # uint8 (N, T, H, W, 3), Clips or VideoFiles
        fvd.update(fake_videos, real=False)
        fvd.compute()                                # tensor(float64)
        fvd.summary()                                # {"fvd": ..., "protocol": ..., "weights_sha256": ...}
    """

    def __init__(self, *args: Any, allow_unequal_n: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allow_unequal_n = allow_unequal_n

    def compute(self) -> torch.Tensor:
        real, fake = self.features()
        n_real, n_fake = self._n_real(real), fake.shape[0]
        if n_real < 2 or n_fake < 2:
            raise ValueError(f"FVD needs at least 2 videos per side, got {n_real} real and {n_fake} generated")
        if n_real != n_fake and not self.allow_unequal_n:
            raise ValueError(
                f"FVD is biased by N and the sets differ ({n_real} real vs {n_fake} generated); "
                "use equal N, or set allow_unequal_n=True to compare anyway"
            )
        ddof = self.backbone.ddof
        if self.reference is not None and self.reference.features is None:
            mu, sigma = gaussian_statistics(fake.numpy(), ddof)
            value = frechet_distance(self.reference.mu, self.reference.sigma, mu, sigma)
        else:
            value = frechet_distance_from_features(real.numpy(), fake.numpy(), ddof)
        return torch.tensor(value, dtype=torch.float64)

    def summary(self) -> dict[str, Any]:
        value = float(self.compute())
        out: dict[str, Any] = {"fvd": value, **self.describe()}
        real, fake = self.features()
        half = fvd_bias_estimate(real.numpy(), fake.numpy(), self.backbone.ddof, self.seed) \
            if real.shape[0] else None
        n = min(out["n_real"], out["n_fake"])
        if half is not None:
            out["fvd_half_n"] = half
            out["fvd_bias_estimate"] = half - value
        if n < SMALL_N:
            bias = _bias_words(value, half)
            log.warning("FVD %.4g from N=%d videos per side: %s; compare only numbers with equal N, "
                        "and use N >= %d for a reportable FVD (papers use 2048)", value, n, bias, SMALL_N)
        return out


class KernelVideoDistance(_VideoFeatureMetric):
    """Unbiased MMD² with ``k(x, y) = (x·y / d + 1)^3`` over random subsets (as KID).

    ``compute()`` returns ``(mean, std)`` over ``subsets`` subsets of ``min(subset_size, N)``
    videos per side, as torchmetrics' KID does.
    """

    def __init__(self, *args: Any, subsets: int = 100, subset_size: int = 1000, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subsets, self.subset_size = subsets, subset_size

    def _kvd(self) -> tuple[float, float, int]:
        real, fake = self.features()
        if real.shape[0] < 2 or fake.shape[0] < 2:
            raise ValueError(f"KVD needs at least 2 videos per side (with per-video features), got "
                             f"{real.shape[0]} and {fake.shape[0]}")
        return kernel_distance(real.numpy(), fake.numpy(), self.subsets, self.subset_size, self.seed)

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std, _ = self._kvd()
        return torch.tensor(mean, dtype=torch.float64), torch.tensor(std, dtype=torch.float64)

    def summary(self) -> dict[str, Any]:
        mean, std, size = self._kvd()
        return {"kvd": mean, "kvd_std": std, "kvd_subset_size": size, "kvd_subsets": self.subsets,
                **self.describe()}


# ----------------------------------------------------------------------------------------------
# evalkit adapters
# ----------------------------------------------------------------------------------------------


class VideoDistanceOptions(BaseModel):
    """Options of ``fvd`` and ``kvd`` in a suite."""

    model_config = ConfigDict(extra="forbid")

    backbone: Literal["auto", "i3d", "evaluator"] = Field(
        "auto", description="'i3d' (Kinetics-400 I3D, the FVD papers report), 'evaluator' (bundled, "
        "physics world only) or 'auto': evaluator when the reference is the physics world, else i3d")
    protocol: str = Field(DEFAULT_PROTOCOL, description=f"i3d: FVD protocol, one of {', '.join(PROTOCOLS)}")
    frames: int = Field(16, ge=9, le=1024, description="i3d: frames per video")
    weights: Path | None = Field(None, description="backbone weights file (default: the installed ones)")
    allow_unequal_n: bool = Field(False, description="compute FVD although the sets differ in size")
    device: str = "cpu"
    batch_size: int = Field(8, ge=1)
    kvd_subsets: int = Field(100, ge=1)
    kvd_subset_size: int = Field(1000, ge=2)
    seed: int = 0

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, value: str) -> str:
        if value not in PROTOCOLS:
            raise ValueError(f"unknown FVD protocol {value!r}; choose from {', '.join(PROTOCOLS)}")
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
        o = self.options
        return KernelVideoDistance(**self._common(), subsets=o.kvd_subsets, subset_size=o.kvd_subset_size)

    def compute(self) -> dict[str, Any]:
        try:
            return self._torchmetric().summary()  # type: ignore[union-attr]
        except ValueError as exc:
            raise MetricError(f"kvd: {exc}") from exc
