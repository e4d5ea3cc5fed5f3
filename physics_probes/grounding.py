"""Text-grounded choice of the object a motion probe measures (an open-vocabulary detector).

With ``detector:`` set (a hub id or a folder of an OWLv2 / OWL-ViT model, loaded by
:class:`evalkit.open_vocab.OpenVocabDetector`), the probes look for what the prompt (or
``object_query``) names in a few key frames and measure the tracked object at the best box,
instead of guessing from motion. Detection is costly on a CPU (seconds per frame for
OWLv2-base), so it runs on :data:`KEY_FRAMES` frames only; the tracker links the rest.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Grounding", "KEY_FRAMES", "key_frames", "ground_object"]

log = logging.getLogger(__name__)

#: Frames the detector looks at, spread over the clip.
KEY_FRAMES = 4


@dataclasses.dataclass(frozen=True)
class Grounding:
    """The detector's answer: ``box`` ``(x, y, w, h)`` in pixels of frame ``frame``."""

    query: str
    box: tuple[float, float, float, float] | None
    frame: int
    score: float | None
    detector: str

    def record(self) -> dict[str, Any]:
        return {"query": self.query, "box_xywh": list(self.box) if self.box else None,
                "frame": self.frame, "score": self.score, "detector": self.detector}


def key_frames(num_frames: int, n: int = KEY_FRAMES) -> list[int]:
    """``n`` frame indices spread over ``num_frames`` (the ends left out: objects enter)."""
    if num_frames <= n:
        return list(range(num_frames))
    return sorted({int(round(v)) for v in np.linspace(0, num_frames - 1, n + 2)[1:-1]})


def ground_object(frames: Sequence[np.ndarray], indices: Sequence[int], query: str,
                  detector: Any, threshold: float = 0.1) -> Grounding:
    """The highest-scoring box for ``query`` over ``frames`` (uint8 ``(H, W, 3)``, at clip
    ``indices``) from ``detector`` (``detect(frames, queries, threshold)``)."""
    source = str(getattr(detector, "source", type(detector).__name__))
    per_frame = detector.detect(np.stack(list(frames)), [query], threshold)
    best = None
    for idx, dets in zip(indices, per_frame):
        for d in dets:
            if best is None or d.score > best[0].score:
                best = (d, int(idx))
    if best is None:
        log.info("detector %s found no %r above %.2f", source, query, threshold)
        return Grounding(query, None, int(indices[0]) if len(indices) else 0, None, source)
    d, idx = best
    x0, y0, x1, y1 = d.box
    return Grounding(query, (x0, y0, x1 - x0, y1 - y0), idx, float(d.score), source)
