"""The fused detector: load once, predict on clips (thread-safe).

``Detector.predict(clip)`` resizes the clip to the working size, cuts it into windows of
:data:`~detectors.preprocess.WINDOW` frames, runs the spatial and temporal networks on every
window, and fuses the mean family logits into one calibrated probability for the clip (and one
per window: the ``segments``).

The weights file (``torch.save`` of a plain dict, loaded with ``weights_only=True``) holds both
networks' configs and states, the fusion, the thresholds and the training facts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch

from detectors.fusion import PlattFusion
from detectors.models.spatial import SPATIAL_CONFIGS, SpatialConfig, SpatialResidualCNN
from detectors.models.temporal import TEMPORAL_CONFIGS, TemporalConfig, TemporalResidual3D
from detectors.preprocess import WINDOW, WORK_SIZE, to_working, windows
from evalkit.clip import Clip

__all__ = ["DEFAULT_WEIGHTS", "SHIPPED", "Detector", "Prediction", "Segment", "load", "resolve_weights"]

log = logging.getLogger(__name__)

_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: Shipped detectors by name: ``evalkit-detector-3`` for real video (the default: I3D features +
#: linear probe) and ``evalkit-detector-2`` for the physics world (trained on our own renders).
SHIPPED = {"evalkit-detector-3": _WEIGHTS_DIR / "detector_v3.pt",
           "evalkit-detector-2": _WEIGHTS_DIR / "detector_v2.pt"}
DEFAULT_WEIGHTS = SHIPPED["evalkit-detector-3"]


def resolve_weights(path: str | Path | None) -> Path:
    """A weights file from a path or a shipped detector's name (None: the default)."""
    if path is None or str(path) == "":
        return DEFAULT_WEIGHTS
    return SHIPPED.get(str(path), Path(path))
DEFAULT_THRESHOLDS = {"not_ai_generated_below": 0.3, "ai_generated_at_or_above": 0.7}


@dataclasses.dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    probability: float


@dataclasses.dataclass(frozen=True)
class Prediction:
    """``probability``: calibrated P(AI-generated) of the clip; ``segments``: per window;
    ``logits``: the families' mean logits ``{"spatial", "temporal"}``."""

    probability: float
    segments: list[Segment]
    logits: dict[str, float]

    def label(self, thresholds: dict[str, float] | None = None) -> str:
        t = thresholds or DEFAULT_THRESHOLDS
        if self.probability >= t["ai_generated_at_or_above"]:
            return "ai_generated"
        if self.probability < t["not_ai_generated_below"]:
            return "not_ai_generated"
        return "inconclusive"


def _to_tensor(clips: np.ndarray) -> torch.Tensor:
    """``(N, T, S, S, 3)`` uint8 → ``(N, 3, T, S, S)`` float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(clips)).permute(0, 4, 1, 2, 3).float() / 255.0


class Detector:
    """Spatial + temporal networks and their fusion (see module docstring)."""

    def __init__(self, spatial: SpatialResidualCNN, temporal: TemporalResidual3D,
                 fusion: PlattFusion, *, thresholds: dict[str, float] | None = None,
                 info: dict[str, Any] | None = None, version: str = "detector-untrained") -> None:
        self.spatial = spatial.eval()
        self.temporal = temporal.eval()
        self.fusion = fusion
        self.thresholds = dict(thresholds or DEFAULT_THRESHOLDS)
        self.info = dict(info or {})
        self.version = version
        self._lock = threading.Lock()

    # -- persistence --------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "format": 1,
            "version": self.version,
            "spatial_config": dataclasses.asdict(self.spatial.config),
            "spatial_state": self.spatial.state_dict(),
            "temporal_config": dataclasses.asdict(self.temporal.config),
            "temporal_state": self.temporal.state_dict(),
            "fusion": dataclasses.asdict(self.fusion),
            "thresholds": self.thresholds,
            "info": self.info,
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.state(), path)
        return path

    @classmethod
    def load(cls, path: str | Path | None = None) -> Detector:
        """Load a weights file or a shipped detector by name (default: ``evalkit-detector-3``)."""
        path = resolve_weights(path)
        if not path.is_file():
            raise FileNotFoundError(f"detector weights '{path}' not found (train one with "
                                    "'detectors train' or reinstall evalkit)")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("kind") == "i3d-probe":  # evalkit-detector-3: I3D features + linear probe
            from detectors.probe import ProbeDetector

            return ProbeDetector.from_state(state, path)  # type: ignore[return-value]
        sc = state["spatial_config"]
        tc = state["temporal_config"]
        spatial = SpatialResidualCNN(SpatialConfig(**{**sc, "widths": tuple(sc["widths"])}))
        temporal = TemporalResidual3D(TemporalConfig(**{**tc, "widths": tuple(tc["widths"])}))
        spatial.load_state_dict(state["spatial_state"])
        temporal.load_state_dict(state["temporal_state"])
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
        version = f"{state['version']}+{digest}"
        log.info("loaded detector %s from %s", version, path)
        return cls(spatial, temporal, PlattFusion(**state["fusion"]),
                   thresholds=state.get("thresholds"), info=state.get("info"), version=version)

    # -- inference ----------------------------------------------------------------------------
    @torch.no_grad()
    def family_logits(self, clips: np.ndarray, batch: int = 32) -> np.ndarray:
        """Spatial and temporal logits ``(N, 2)`` of working-size clips ``(N, T, S, S, 3)``
        uint8 (``T >= 3``)."""
        out = []
        with self._lock:
            for i in range(0, len(clips), batch):
                x = _to_tensor(clips[i:i + batch])
                out.append(torch.stack([self.spatial.forward_clip(x), self.temporal(x)], 1))
        return torch.cat(out).numpy().astype(np.float64) if out else np.zeros((0, 2))

    def predict(self, clip: Clip | np.ndarray, fps: float | None = None) -> Prediction:
        """Probability that ``clip`` (a Clip, or uint8 ``(T, H, W, 3)`` frames) is AI-made."""
        frames = clip.frames if isinstance(clip, Clip) else np.asarray(clip)
        rate = float(clip.fps) if isinstance(clip, Clip) else float(fps or 8.0)
        return self._predict_working(to_working(frames, WORK_SIZE), rate)

    def _predict_working(self, work: np.ndarray, rate: float) -> Prediction:
        spans = windows(len(work), WINDOW)
        batch = []
        for s, e in spans:
            w = work[s:e]
            if len(w) < WINDOW:  # short clip: repeat the last frame
                w = np.concatenate([w, np.repeat(w[-1:], WINDOW - len(w), axis=0)])
            batch.append(w)
        z = self.family_logits(np.stack(batch))
        probs = self.fusion(z)
        segments = [Segment(s / rate, e / rate, float(p)) for (s, e), p in zip(spans, probs)]
        mean_z = z.mean(axis=0, keepdims=True)
        return Prediction(float(self.fusion(mean_z)[0]), segments,
                          {"spatial": float(mean_z[0, 0]), "temporal": float(mean_z[0, 1])})

    def predict_file(self, path: str | Path, **limits: Any) -> Prediction:
        """:meth:`predict` of a video file, decoded as a stream: each frame is brought to the
        working size as it arrives (the crop and resize are per frame, so the result is the
        same), and memory holds one full-size frame (``limits``: as ``read_video``'s)."""
        from evalkit.video import iter_video_frames, probe_video

        fps = probe_video(path).fps
        work = [to_working(frame[None], WORK_SIZE)[0] for frame in iter_video_frames(path, **limits)]
        if not work:
            raise ValueError("no frames to score")
        return self._predict_working(np.stack(work), fps)

    def predict_proba(self, clips: np.ndarray) -> np.ndarray:
        """Probabilities ``(N,)`` of working-size clips ``(N, T, S, S, 3)`` (one window each)."""
        return self.fusion(self.family_logits(clips))


def load(path: str | Path | None = None) -> Detector:
    """The detector from ``path`` (default: the shipped weights)."""
    return Detector.load(path)
