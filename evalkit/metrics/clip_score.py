"""CLIP score of a video against its prompt, with ``transformers`` CLIP from a hub id or a folder.

For each clip, ``frames`` evenly spaced frames are embedded with CLIP's image tower and the
prompt with its text tower; each frame scores ``w * max(cos, 0)`` and the clip's score is the
mean over frames. The weight ``w`` is the convention:

- ``"torchmetrics"``: ``w = 100`` (torchmetrics ``CLIPScore``; range 0..100),
- ``"hessel"``: ``w = 2.5`` (Hessel et al., 2021, CLIPScore paper; range 0..2.5).

Frames are preprocessed as ``CLIPImageProcessor`` does — shortest side resized (bicubic,
antialiased) to the model's input size, centre crop, normalised with the model's mean/std (read
from ``preprocessor_config.json`` when the folder has one, else OpenAI CLIP's) — but in torch, so
no image library is needed. Features come from ``get_image_features`` / ``get_text_features``;
transformers 5 returns an output object whose ``pooler_output`` holds the projected features,
transformers 4 a tensor: both are handled.

Weights are never fetched implicitly when the hub is unreachable: the error names the model and
says how to pass a local folder.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, ClipMetric, MetricError

if TYPE_CHECKING:
    from evalkit.metrics.clip_score_model import CLIPScoreVideo

log = logging.getLogger(__name__)

__all__ = ["CLIPScoreVideo", "ClipScore", "ClipScoreOptions", "CLIPWeightsUnavailable", "load_clip"]

Convention = Literal["torchmetrics", "hessel"]
CONVENTION_WEIGHT: dict[str, float] = {"torchmetrics": 100.0, "hessel": 2.5}
DEFAULT_MODEL = "openai/clip-vit-base-patch32"
_OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
_OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


class CLIPWeightsUnavailable(OSError):
    """The CLIP model could not be loaded (offline and not cached, or not a CLIP folder)."""


# ----------------------------------------------------------------------------------------------
# evalkit adapter
# ----------------------------------------------------------------------------------------------


class ClipScoreOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(DEFAULT_MODEL, description="hub id or local folder of a transformers CLIP model")
    convention: Convention = "torchmetrics"
    frames: int | None = Field(8, ge=1, description="evenly spaced frames per clip (None: all)")
    device: str = Field("auto", description="auto (cuda, mps, cpu), cpu, cuda, cuda:1; float32")
    local_files_only: bool | None = Field(None, description="None: follow HF_HUB_OFFLINE")


class ClipScore(ClipMetric):
    name = "clip_score"
    description = "CLIP score: mean over frames of w·max(cos(frame, prompt), 0) (w=100 torchmetrics, 2.5 Hessel)"
    higher_is_better = True
    units = "CLIP score (0..100 torchmetrics, 0..2.5 hessel)"
    primary = "clip_score"
    version = "1"
    Options: ClassVar[type[BaseModel]] = ClipScoreOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._metric: CLIPScoreVideo | None = None

    def _torchmetric(self) -> CLIPScoreVideo:
        if self._metric is None:
            # Imported here: torch and transformers are loaded only when a clip is scored.
            from evalkit.metrics.clip_score_model import CLIPScoreVideo

            o = self.options
            try:
                self._metric = CLIPScoreVideo(o.model, o.convention, o.frames, o.device, o.local_files_only)
            except CLIPWeightsUnavailable as exc:
                raise MetricError(str(exc)) from exc
        return self._metric

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        if not context.prompt:
            raise MetricError("clip_score needs the clip's prompt")
        metric = self._torchmetric()
        cos = float(metric.cosines([clip], [context.prompt])[0])
        return {"clip_score": metric.weight * cos, "cosine": cos}


def __getattr__(name: str) -> Any:
    """The torch half (:mod:`evalkit.metrics.clip_score_model`), imported on first use."""
    if name in ("CLIPScoreVideo", "LoadedCLIP", "load_clip", "_features", "_load_cached",
                "_preprocessor_config"):
        from evalkit.metrics import clip_score_model

        return getattr(clip_score_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
