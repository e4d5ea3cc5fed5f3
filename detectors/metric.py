"""Runner metric ``detector``: how detectable each generator's clips are.

Per clip: ``probability`` (calibrated P(AI-generated), the primary value the leaderboard reads),
the families' logits, the label, and the watermark verdict (``watermark_detected`` as 0/1,
``watermark_p_value``). The detector is loaded once per metric instance, on first use.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, ClipMetric

__all__ = ["DetectorMetric"]


class DetectorOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: a weights file, or a shipped detector's name: evalkit-detector-3 (real video, the default)
    #: or evalkit-detector-2 (trained on the physics world)
    model_path: str | None = None
    watermark: bool = True


class DetectorMetric(ClipMetric):
    name = "detector"
    description = "P(AI-generated) from the bundled detector (calibrated; the same windows as evalkit detect)"
    higher_is_better = None
    units = "probability in [0, 1]"
    primary = "probability"
    version = "2"
    Options: ClassVar[type[BaseModel]] = DetectorOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._detector: Any = None

    def _model(self) -> Any:
        if self._detector is None:
            from detectors.detector import Detector

            self._detector = Detector.load(self.options.model_path)
        return self._detector

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        model = self._model()
        pred = model.predict(clip)
        out: dict[str, Any] = {
            "probability": pred.probability,
            **{f"{name}_logit": value for name, value in pred.logits.items()},
            "label": pred.label(model.thresholds),
            "model_version": model.version,
        }
        if self.options.watermark:
            from evalkit.provenance import detect_watermark

            wm = detect_watermark(clip.frames)
            out["watermark_detected"] = int(wm["detected"])
            out["watermark_p_value"] = wm["p_value"]
        return out

    def __getstate__(self) -> dict[str, Any]:  # do not pickle the loaded model to workers
        state = dict(self.__dict__)
        state["_detector"] = None
        return state
