"""Train the fused detector on any labelled sources.

Steps (``train_detector``):

1. Split every source by group (source file) into train / calibration / test (60/20/20, the
   same hash for a real file and the fakes made from it).
2. Add one randomly degraded copy of every train and calibration clip (crop, resize, blur,
   H.264 at CRF 18–37; see :func:`detectors.degrade.random_chain`), so the detector does not
   learn "sharp = real".
3. Train the spatial CNN on class-balanced batches of single frames and the temporal 3D CNN on
   class-balanced batches of windows, each for a fixed wall-clock budget (AdamW, cosine
   learning rate).
4. Fit the Platt fusion on the calibration split's family logits.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from detectors.data import LabelledClips, split_groups
from detectors.degrade import random_chain
from detectors.detector import Detector
from detectors.fusion import PlattFusion
from detectors.models.spatial import SPATIAL_CONFIGS, SpatialResidualCNN
from detectors.models.temporal import TEMPORAL_CONFIGS, TemporalResidual3D
from detectors.preprocess import WORK_SIZE, to_working

__all__ = ["TrainConfig", "train_detector", "augment"]

log = logging.getLogger(__name__)

MODEL_VERSION = "evalkit-detector-2"


@dataclasses.dataclass
class TrainConfig:
    """Budgets are wall-clock seconds per network (CPU time is what a user has)."""

    spatial: str = "SRes-S"
    temporal: str = "TRes3D-S"
    spatial_seconds: float = 240.0
    temporal_seconds: float = 240.0
    batch_frames: int = 48
    batch_clips: int = 12
    crop: int = 32  # train on random crops (4x cheaper); the networks are fully convolutional
    lr: float = 2e-3
    seed: int = 0
    exclude_fake_sources: tuple[str, ...] = ()
    max_calibration_clips: int = 4000
    version: str = MODEL_VERSION


def degraded_copies(clips: np.ndarray, seed: int) -> np.ndarray:
    """One randomly degraded copy of each clip (back at working size), ``(N, T, S, S, 3)``."""
    rng = np.random.default_rng(seed)
    return np.stack([to_working(random_chain(c, rng), WORK_SIZE) for c in clips])


def augment(data: LabelledClips, seed: int, copies: np.ndarray | None = None) -> LabelledClips:
    """``data`` plus one randomly degraded copy of each clip (``copies`` if precomputed)."""
    copies = degraded_copies(data.clips, seed) if copies is None else copies
    return LabelledClips.concat([data, LabelledClips(copies, data.labels, data.sources,
                                                     data.groups)])


def _balanced(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    return np.r_[rng.choice(pos, n // 2), rng.choice(neg, n - n // 2)]


def _crop(x: torch.Tensor, size: int, rng: np.random.Generator) -> torch.Tensor:
    """A random ``size x size`` crop of the last two axes (the same for the whole batch)."""
    h, w = x.shape[-2:]
    if size >= min(h, w):
        return x
    y0, x0 = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    return x[..., y0:y0 + size, x0:x0 + size]


def _fit(model: nn.Module, batch_fn: Any, seconds: float, lr: float, name: str) -> int:
    """Train ``model`` on ``batch_fn() -> (x, y)`` for ``seconds``; returns the step count."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    model.train()
    start, step, ema = time.time(), 0, None
    while (elapsed := time.time() - start) < seconds:
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / seconds)))
        x, y = batch_fn()
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if step % 50 == 0:
            log.info("%s step %d loss %.4f (%.0f s)", name, step, ema, elapsed)
    model.eval()
    log.info("%s: %d steps in %.0f s, loss %.4f", name, step, time.time() - start, ema or 0.0)
    return step


def train_detector(data: LabelledClips, config: TrainConfig | None = None,
                   copies: np.ndarray | None = None) -> tuple[Detector, dict[str, Any]]:
    """Train on ``data`` (see module docstring); returns the detector and a report with the
    split sizes, steps and timings. The test split is not touched.

    ``copies``: degraded copies of *all* clips of ``data`` (from :func:`degraded_copies`), to
    reuse across several trainings (leave-one-source-out); made here when None.
    """
    cfg = config or TrainConfig()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    t0 = time.time()
    split = split_groups(data.groups)
    keep = ~np.isin(data.sources, list(cfg.exclude_fake_sources)) | (data.labels == 0)
    m_train, m_calib = (split == 0) & keep, (split == 1) & keep
    if copies is None:
        copies = np.zeros_like(data.clips[:0])
        train = augment(data.subset(m_train), cfg.seed)
        calib = augment(data.subset(m_calib), cfg.seed + 1)
    else:
        train = augment(data.subset(m_train), cfg.seed, copies[m_train])
        calib = augment(data.subset(m_calib), cfg.seed, copies[m_calib])
    if len(calib) > cfg.max_calibration_clips:
        calib = calib.subset(np.sort(rng.choice(len(calib), cfg.max_calibration_clips,
                                                replace=False)))
    for name, part in (("train", train), ("calibration", calib)):
        if len(np.unique(part.labels)) < 2:
            raise ValueError(f"the {name} split needs real and fake clips; add more files")
    t_aug = time.time() - t0
    log.info("train %d clips, calibration %d clips (with degraded copies; %.0f s)",
             len(train), len(calib), t_aug)
    clips_t = torch.from_numpy(train.clips)  # (N, T, S, S, 3) uint8
    labels_t = torch.from_numpy(train.labels.astype(np.float32))

    def frame_batch() -> tuple[torch.Tensor, torch.Tensor]:
        idx = _balanced(train.labels, cfg.batch_frames, rng)
        t = rng.integers(0, clips_t.shape[1], len(idx))
        x = _crop(clips_t[idx, t].permute(0, 3, 1, 2), cfg.crop, rng).float() / 255.0
        if rng.random() < 0.5:
            x = x.flip(-1)
        return x, labels_t[idx]

    def clip_batch() -> tuple[torch.Tensor, torch.Tensor]:
        idx = _balanced(train.labels, cfg.batch_clips, rng)
        x = _crop(clips_t[idx].permute(0, 4, 1, 2, 3), cfg.crop, rng).float() / 255.0
        if rng.random() < 0.5:
            x = x.flip(-1)
        return x, labels_t[idx]

    spatial = SpatialResidualCNN(SPATIAL_CONFIGS[cfg.spatial])
    temporal = TemporalResidual3D(TEMPORAL_CONFIGS[cfg.temporal])
    steps_s = _fit(spatial, frame_batch, cfg.spatial_seconds, cfg.lr, "spatial")
    steps_t = _fit(temporal, clip_batch, cfg.temporal_seconds, cfg.lr, "temporal")
    detector = Detector(spatial, temporal, PlattFusion([1.0, 1.0], 0.0), version=cfg.version)
    z = detector.family_logits(calib.clips)
    detector.fusion = PlattFusion.fit(z, calib.labels)
    report = {
        "config": dataclasses.asdict(cfg),
        "sources": {s: int((data.sources == s).sum()) for s in np.unique(data.sources)},
        "train_clips": len(train), "calibration_clips": len(calib),
        "test_clips": int(((split == 2) & keep).sum()),
        "spatial_steps": steps_s, "temporal_steps": steps_t,
        "fusion": dataclasses.asdict(detector.fusion),
        "wall_s": round(time.time() - t0, 1),
    }
    detector.info = {"training": report}
    log.info("trained in %.0f s; fusion %s", report["wall_s"], report["fusion"])
    return detector, report
