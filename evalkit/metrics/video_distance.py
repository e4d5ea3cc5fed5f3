"""FVD and KVD as ``torchmetrics.Metric`` classes (the torch half of :mod:`evalkit.metrics.fvd`).

Kept apart from the suite-facing adapters so that listing metrics and validating a suite
(``evalkit ls metrics``, ``evalkit validate``) never import torch: the adapters in
:mod:`evalkit.metrics.fvd` import this module only when a metric first sees videos.
:mod:`evalkit.metrics.fvd` re-exports these classes, so ``from evalkit.metrics.fvd import
FrechetVideoDistance`` keeps working.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torchmetrics import Metric as TorchMetric
from torchmetrics.utilities import dim_zero_cat

from evalkit.metrics.fvd import SMALL_N, _bias_words, fvd_bias_estimate
from evalkit.metrics.video_features.backbones import VideoBackbone, build_backbone
from evalkit.metrics.video_features.distances import (
    frechet_distance,
    frechet_distance_from_features,
    gaussian_statistics,
    kernel_distance,
)
from evalkit.metrics.video_features.preprocess import VideoInput
from evalkit.metrics.video_features.protocol_names import DEFAULT_PROTOCOL
from evalkit.metrics.video_features.stats import ReferenceStats

# The FVD warnings keep the logger name they always had.
log = logging.getLogger("evalkit.metrics.fvd")

__all__ = ["FrechetVideoDistance", "KernelVideoDistance"]


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
