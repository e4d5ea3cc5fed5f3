"""FVD and KVD: torchmetrics classes, and the evalkit metrics ``fvd`` / ``kvd`` over them.

One implementation, two faces:

- :class:`FrechetVideoDistance` and :class:`KernelVideoDistance` are ``torchmetrics.Metric``
  classes for standalone use: ``update(videos, real=True/False)`` extracts backbone features and
  keeps them as states; ``compute()`` applies the distances of
  :mod:`evalkit.metrics.video_features.distances`; ``summary()`` adds what a number needs to be
  comparable (backbone, N per side, frames, resolution).
- :class:`FVD` and :class:`KVD` are evalkit :class:`~evalkit.metrics.base.SetMetric` adapters
  that the runner drives (``reset``, ``update(reference, real=True)``,
  ``update(generated, real=False)``, ``compute() -> dict``).

FVD is biased by the number of videos, so sets of unequal N are refused unless
``allow_unequal_n=True``. KVD (unbiased MMD², cubic polynomial kernel, mean ± std over random
subsets of equal size) is unbiased in N and may be slightly negative for identical distributions.

Backbones: ``i3d`` (the original FVD: Kinetics-400 I3D logits; pass the weights file) and
``evaluator`` (the bundled model; works offline, the default). Numbers from different
backbones are not comparable; every result says which one made it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torchmetrics import Metric as TorchMetric
from torchmetrics.utilities import dim_zero_cat

from evalkit.metrics.base import MetricError, SetMetric
from evalkit.metrics.video_features.backbones import VideoBackbone, build_backbone
from evalkit.metrics.video_features.distances import frechet_distance_from_features, kernel_distance
from evalkit.metrics.video_features.preprocess import VideoInput

log = logging.getLogger(__name__)

__all__ = ["FVD", "KVD", "FrechetVideoDistance", "KernelVideoDistance", "VideoDistanceOptions"]


# ----------------------------------------------------------------------------------------------
# torchmetrics classes
# ----------------------------------------------------------------------------------------------


class _VideoFeatureMetric(TorchMetric):
    """Collects backbone features of real and generated videos (the shared state of FVD/KVD)."""

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(
        self,
        backbone: str | VideoBackbone = "evaluator",
        weights: str | Path | None = None,
        device: str = "cpu",
        batch_size: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.backbone = (
            build_backbone(backbone, weights, device, batch_size) if isinstance(backbone, str) else backbone
        )
        self.add_state("real_features", default=[], dist_reduce_fx="cat")
        self.add_state("fake_features", default=[], dist_reduce_fx="cat")

    def update(self, videos: VideoInput, real: bool) -> None:  # type: ignore[override]
        """Add videos (clips, or uint8 ``(N, T, H, W, 3)``) to the real or the generated side."""
        feats = self.backbone.features(videos)
        (self.real_features if real else self.fake_features).append(feats)

    def features(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Accumulated float64 features: real ``(N_real, D)`` and generated ``(N_fake, D)``."""
        def side(states: list[torch.Tensor] | torch.Tensor) -> torch.Tensor:
            if isinstance(states, list) and not states:
                return torch.zeros(0, self.backbone.dim, dtype=torch.float64)
            return dim_zero_cat(states).double()

        return side(self.real_features), side(self.fake_features)

    def describe(self) -> dict[str, Any]:
        """Backbone, frames, resolution, feature size and N of each side."""
        real, fake = self.features()
        return {**self.backbone.describe(), "n_real": int(real.shape[0]), "n_fake": int(fake.shape[0])}


class FrechetVideoDistance(_VideoFeatureMetric):
    """Fréchet distance between Gaussians fitted to backbone features (float64, ``eigvalsh``).

    Example::

        fvd = FrechetVideoDistance(backbone="i3d", weights="i3d_pretrained_400.pt")
        fvd.update(real_videos, real=True)      # uint8 (N, T, H, W, 3) or list of Clip
        fvd.update(fake_videos, real=False)
        fvd.compute()                           # tensor(float64)
        fvd.summary()                           # {"fvd": ..., "backbone": "i3d", "n_real": ...}
    """

    def __init__(self, *args: Any, allow_unequal_n: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allow_unequal_n = allow_unequal_n

    def compute(self) -> torch.Tensor:
        real, fake = self.features()
        n_real, n_fake = real.shape[0], fake.shape[0]
        if n_real < 2 or n_fake < 2:
            raise ValueError(f"FVD needs at least 2 videos per side, got {n_real} real and {n_fake} generated")
        if n_real != n_fake and not self.allow_unequal_n:
            raise ValueError(
                f"FVD is biased by N and the sets differ ({n_real} real vs {n_fake} generated); "
                "use equal N, or set allow_unequal_n=True to compare anyway"
            )
        if n_real < self.backbone.dim:
            log.debug("FVD with N=%d < feature dim %d: covariances are singular (handled)", n_real, self.backbone.dim)
        return torch.tensor(frechet_distance_from_features(real.numpy(), fake.numpy()), dtype=torch.float64)

    def summary(self) -> dict[str, Any]:
        return {"fvd": float(self.compute()), **self.describe()}


class KernelVideoDistance(_VideoFeatureMetric):
    """Unbiased MMD² with ``k(x, y) = (x·y / d + 1)^3`` over random subsets (as KID).

    ``compute()`` returns ``(mean, std)`` over ``subsets`` subsets of ``min(subset_size, N)``
    videos per side, as torchmetrics' KID does.
    """

    def __init__(self, *args: Any, subsets: int = 100, subset_size: int = 1000, seed: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed

    def _kvd(self) -> tuple[float, float, int]:
        real, fake = self.features()
        if real.shape[0] < 2 or fake.shape[0] < 2:
            raise ValueError(f"KVD needs at least 2 videos per side, got {real.shape[0]} and {fake.shape[0]}")
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

    backbone: Literal["i3d", "evaluator"] = Field(
        "evaluator", description="'evaluator' (bundled, offline) or 'i3d' (original FVD; needs weights)"
    )
    weights: Path | None = Field(None, description="backbone weights file (required for i3d)")
    allow_unequal_n: bool = Field(False, description="compute FVD although the sets differ in size")
    device: str = "cpu"
    batch_size: int = Field(8, ge=1)
    kvd_subsets: int = Field(100, ge=1)
    kvd_subset_size: int = Field(1000, ge=2)
    seed: int = 0


class _VideoDistanceAdapter(SetMetric):
    """Runs a torchmetrics video-distance class for the runner; built on first update."""

    Options: ClassVar[type[BaseModel]] = VideoDistanceOptions
    higher_is_better: ClassVar[bool | None] = False
    version: ClassVar[str] = "1"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._metric: _VideoFeatureMetric | None = None

    def _make(self) -> _VideoFeatureMetric:
        raise NotImplementedError

    def _torchmetric(self) -> _VideoFeatureMetric:
        if self._metric is None:
            try:
                self._metric = self._make()
            except FileNotFoundError as exc:
                raise MetricError(str(exc)) from exc
        return self._metric

    def reset(self) -> None:
        super().reset()
        if self._metric is not None:
            self._metric.reset()

    def update(self, clips: Any, real: bool) -> None:  # type: ignore[override]
        clips = list(clips)
        if clips:
            self._torchmetric().update(clips, real=real)

    def _common(self) -> dict[str, Any]:
        o = self.options
        return {"backbone": o.backbone, "weights": o.weights, "device": o.device, "batch_size": o.batch_size}


class FVD(_VideoDistanceAdapter):
    name = "fvd"
    description = "Fréchet Video Distance between generated and reference clips (+ KVD of the same features)"
    units = "squared feature distance"
    primary = "fvd"

    def _make(self) -> FrechetVideoDistance:
        return FrechetVideoDistance(**self._common(), allow_unequal_n=self.options.allow_unequal_n)

    def compute(self) -> dict[str, Any]:
        metric = self._torchmetric()
        try:
            out = metric.summary()
            real, fake = metric.features()
            mean, std, _ = kernel_distance(real.numpy(), fake.numpy(), self.options.kvd_subsets,
                                           self.options.kvd_subset_size, self.options.seed)
        except ValueError as exc:
            raise MetricError(f"fvd: {exc}") from exc
        return {**out, "kvd": mean, "kvd_std": std}


class KVD(_VideoDistanceAdapter):
    name = "kvd"
    description = "Kernel Video Distance: unbiased polynomial-kernel MMD² over subsets (as KID)"
    units = "MMD² (feature units)"
    primary = "kvd"

    def _make(self) -> KernelVideoDistance:
        o = self.options
        return KernelVideoDistance(**self._common(), subsets=o.kvd_subsets, subset_size=o.kvd_subset_size, seed=o.seed)

    def compute(self) -> dict[str, Any]:
        try:
            return self._torchmetric().summary()  # type: ignore[union-attr]
        except ValueError as exc:
            raise MetricError(f"kvd: {exc}") from exc
