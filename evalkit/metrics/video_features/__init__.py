"""Video features for distribution metrics: distances, preprocessing, backbones.

Modules, one job each: ``distances`` (Fréchet distance, kernel MMD), ``preprocess`` (clips →
model input), ``backbones`` (I3D and the bundled evaluator as feature extractors).
"""

from evalkit.metrics.video_features.distances import (
    frechet_distance,
    frechet_distance_from_features,
    gaussian_statistics,
    kernel_distance,
    polynomial_mmd2_unbiased,
)

__all__ = [
    "frechet_distance",
    "frechet_distance_from_features",
    "gaussian_statistics",
    "kernel_distance",
    "polynomial_mmd2_unbiased",
]
