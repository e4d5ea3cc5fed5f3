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

__all__ = ["load", "thresholds"]


def load(path: str | Path | None = None) -> Any:
    """The :class:`~detectors.detector.Detector` from ``path`` (default: shipped weights)."""
    from detectors.detector import Detector

    return Detector.load(path)


def thresholds(path: str | Path | None = None) -> dict[str, float]:
    """The label thresholds a detector's weights carry: the ones ``evalkit detect``, the API and
    ``pred.label()`` use (``not_ai_generated_below``, ``ai_generated_at_or_above``).

    ``path``: a weights file or a shipped detector's name (None: the default). Reads the file's
    small state only (no feature extractor, no I3D weights), so pages that show thresholds
    beside an evaluation stay quick.
    """
    import torch

    from detectors.detector import DEFAULT_THRESHOLDS, resolve_weights

    file = resolve_weights(path)
    if not file.is_file():
        raise FileNotFoundError(f"detector weights '{file}' not found")
    state = torch.load(file, map_location="cpu", weights_only=True)
    return {k: float(v) for k, v in dict(state.get("thresholds") or DEFAULT_THRESHOLDS).items()}
