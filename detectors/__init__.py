"""AI-generated video detectors, provenance marks and the moderation API.

Python API::

    import detectors
    det = detectors.load()            # the shipped detector (or load(path))
    pred = det.predict(clip)          # evalkit.clip.Clip or uint8 (T, H, W, 3) frames
    pred.probability, pred.label(), pred.segments

Provenance marks live in :mod:`evalkit.provenance` (so the generator can mark its clips without
importing this package). Importing ``detectors`` itself is cheap: torch loads on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["load"]


def load(path: str | Path | None = None) -> Any:
    """The :class:`~detectors.detector.Detector` from ``path`` (default: shipped weights)."""
    from detectors.detector import Detector

    return Detector.load(path)
