"""``evalkit fvd --check``: reproduce published FVD numbers with the installed I3D weights.

Two anchors, each computed by the same code that scores user videos:

- ``black-white``: 8 all-black vs 8 all-white 64 x 64 clips of 30 frames, the example of
  common_metrics_on_video_quality, whose TensorFlow reference (the original FVD code and TF-Hub
  network) prints 151.39244. Within a set every clip is the same, so the covariances vanish and
  FVD is the squared distance between two I3D logit vectors: a check of the weights, the
  network and the [-1, 1] range, not of resizing. Seconds on a CPU.
- ``fvd-comparison``: universome/fvd-comparison's ``compare_metrics.py``: 128 vs 128 videos of
  ``RandomState(1)`` and ``RandomState(2)`` ``.rand(128, 16, 224, 224, 3)`` (float32), fed to the
  I3D as they are, FVD with TF-GAN's unbiased covariance; TF gives 10.13808536529541. A check of
  the whole network on non-trivial input and of the Fréchet distance at N < D. Takes minutes on a
  CPU (256 clips through I3D), so ``--check quick`` skips it.

Each anchor prints one JSON line; the exit code is 0 when every anchor is within its tolerance.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["ANCHORS", "Anchor", "run_checks"]


@dataclasses.dataclass(frozen=True)
class Anchor:
    name: str
    expected: float
    tolerance: float
    source: str
    slow: bool


ANCHORS = {
    "black-white": Anchor("black-white", 151.39244, 0.05,
                          "JunyaoHu/common_metrics_on_video_quality README, TensorFlow FVD", slow=False),
    "fvd-comparison": Anchor("fvd-comparison", 10.13808536529541, 0.01,
                             "universome/fvd-comparison README, TensorFlow FVD", slow=True),
}


def _black_white(weights: Any, progress: Callable[[int], None]) -> float:
    from evalkit.metrics.fvd import FrechetVideoDistance

    fvd = FrechetVideoDistance(backbone="i3d", weights=weights, frames=30, batch_size=8)
    for value, real in ((0, True), (255, False)):
        fvd.update(np.full((8, 30, 64, 64, 3), value, dtype=np.uint8), real=real)
        progress(8)
    return float(fvd.compute())


def _random_batches(seed: int, total: int, batch: int) -> Iterator[np.ndarray]:
    """``RandomState(seed).rand(total, 16, 224, 224, 3)`` in batches: the same stream, less memory."""
    state = np.random.RandomState(seed)
    for start in range(0, total, batch):
        yield state.rand(min(batch, total - start), 16, 224, 224, 3).astype(np.float32)


def _fvd_comparison(weights: Any, progress: Callable[[int], None]) -> float:
    import torch

    from evalkit.metrics.video_features.backbones import build_backbone
    from evalkit.metrics.video_features.distances import frechet_distance_from_features

    model = build_backbone("i3d", weights).model  # the fused network every FVD here uses
    feats = []
    with torch.inference_mode():
        for seed in (1, 2):
            side = []
            for videos in _random_batches(seed, 128, 8):
                x = torch.from_numpy(videos).permute(0, 4, 1, 2, 3)  # as they are: [0, 1), no resize
                side.append(model(x.contiguous(memory_format=torch.channels_last_3d)).double())
                progress(len(videos))
            feats.append(torch.cat(side).numpy())
    return frechet_distance_from_features(feats[0], feats[1], ddof=1)


_RUNNERS = {"black-white": (_black_white, 16), "fvd-comparison": (_fvd_comparison, 256)}


def run_checks(which: str = "full", weights: Any = None, show_progress: bool = True) -> list[dict[str, Any]]:
    """Compute the anchors (``quick``: the cheap one only); one result dict per anchor."""
    from tqdm import tqdm

    from evalkit.metrics.video_features.backbones import build_backbone

    info = build_backbone("i3d", weights).weights  # fails early, with the install hint, if none
    names = [n for n, a in ANCHORS.items() if which == "full" or not a.slow]
    results = []
    for name in names:
        anchor = ANCHORS[name]
        fn, clips = _RUNNERS[name]
        start = time.perf_counter()
        with tqdm(total=clips, desc=f"check {name}", unit="clip", disable=not show_progress) as bar:
            value = fn(weights, bar.update)
        results.append({
            "check": name, "fvd": value, "expected": anchor.expected, "tolerance": anchor.tolerance,
            "ok": bool(abs(value - anchor.expected) <= anchor.tolerance), "source": anchor.source,
            **info.describe(), "seconds": round(time.perf_counter() - start, 1),
        })
    return results
