"""Video feature extractors for FVD / KVD, by name: ``i3d`` and ``evaluator``.

A backbone turns videos into one feature vector each, with its own preprocessing, and says what
it did (name, frames, resolution, feature size) so results can record it.

=============  ==========================================  ===========================
backbone       network and features                        input
=============  ==========================================  ===========================
``i3d``        Inception-I3D, Kinetics-400 logits, 400-d    first 16 frames, 224 x 224,
               (the original FVD); weights: user's file      bilinear, [-1, 1]
``evaluator``  bundled video–text evaluator's video          16 evenly spaced frames,
               embedding, 256-d, ``sqrt(256)`` x unit vector 64 x 64, bilinear, [-1, 1]
               (trained here, ships with evalkit)
=============  ==========================================  ===========================
"""

from __future__ import annotations

import abc
import functools
from pathlib import Path
from typing import Any

import torch

from evalkit.metrics.video_features.preprocess import (
    FrameSampling,
    VideoInput,
    as_frame_arrays,
    to_model_input,
)

__all__ = ["BACKBONES", "EvaluatorBackbone", "I3DBackbone", "VideoBackbone", "build_backbone"]

BACKBONES = ("i3d", "evaluator")


class VideoBackbone(abc.ABC):
    """Videos → ``(N, dim)`` float64 features."""

    name: str = ""
    num_frames: int = 16
    resolution: int = 0
    dim: int = 0
    sampling: FrameSampling = "first"

    @abc.abstractmethod
    def features(self, videos: VideoInput) -> torch.Tensor:
        """``(N, dim)`` float64 features of ``N`` videos."""

    def describe(self) -> dict[str, Any]:
        return {
            "backbone": self.name,
            "frames": self.num_frames,
            "resolution": [self.resolution, self.resolution],
            "feature_dim": self.dim,
            "frame_sampling": self.sampling,
        }


class I3DBackbone(VideoBackbone):
    """Original FVD features: Kinetics-400 I3D logits of 16 frames at 224 x 224 in [-1, 1]."""

    name, num_frames, resolution, dim = "i3d", 16, 224, 400

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu",
                 batch_size: int = 8, sampling: FrameSampling = "first") -> None:
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.batch_size, self.sampling = batch_size, sampling

    @torch.no_grad()
    def features(self, videos: VideoInput) -> torch.Tensor:
        arrays = as_frame_arrays(videos)
        out = []
        # Preprocess per batch: 16 x 224 x 224 float frames are 9.6 MB per clip.
        for i in range(0, len(arrays), self.batch_size):
            x = to_model_input(arrays[i : i + self.batch_size], self.num_frames, self.resolution, self.sampling)
            out.append(self.model(x.to(self.device)).double().cpu())
        return torch.cat(out)


class EvaluatorBackbone(VideoBackbone):
    """The bundled evaluator's video embedding (256-d unit vector scaled by 16)."""

    name, sampling = "evaluator", "uniform"

    def __init__(self, evaluator: Any) -> None:
        self.evaluator = evaluator
        self.num_frames, self.resolution, self.dim = evaluator.frames, evaluator.size, evaluator.dim

    def features(self, videos: VideoInput) -> torch.Tensor:
        return self.evaluator.video_features(videos).double()


@functools.lru_cache(maxsize=4)
def _build(name: str, weights: str | None, device: str, batch_size: int) -> VideoBackbone:
    if name == "i3d":
        from evalkit.metrics.i3d import load_i3d

        if weights is None:
            raise FileNotFoundError(
                "backbone 'i3d' needs the Kinetics-400 I3D state dict (i3d_pretrained_400.pt, "
                "as used by VideoGPT/TATS/cd-fvd); evalkit never downloads it: pass its path "
                "(--weights PATH or the 'weights' option), or use backbone 'evaluator'"
            )
        return I3DBackbone(load_i3d(weights, device=device), device=device, batch_size=batch_size)
    if name == "evaluator":
        from evalkit.metrics.evaluator_scoring import load_evaluator

        return EvaluatorBackbone(load_evaluator(weights, device=device))
    raise ValueError(f"unknown video backbone {name!r}; choose from {', '.join(BACKBONES)}")


def build_backbone(name: str, weights: str | Path | None = None, device: str = "cpu",
                   batch_size: int = 8) -> VideoBackbone:
    """The backbone ``name`` with ``weights`` (cached per process, so FVD and KVD share it)."""
    path = str(Path(weights).expanduser().resolve()) if weights is not None else None
    return _build(name, path, str(device), batch_size)
