"""Open-vocabulary object detection: boxes for what a prompt names, in any frame.

Used by the physics probes to pick the object a prompt or a user names ("the red ball"), and by
the object-grounded VBench-style dimensions. The detector is OWLv2 (or OWL-ViT) from
``transformers``, loaded from a hub id or a local folder like CLIP; nothing is downloaded
unless the hub is reachable and the caller allows it, and a missing model is one
:class:`OpenVocabWeightsUnavailable` line that says how to fetch it.

Example::

    detector = OpenVocabDetector.load("google/owlv2-base-patch16-ensemble")   # or a folder
    per_frame = detector.detect(frames, ["a red ball", "a hand"], threshold=0.2)
    per_frame[0][0]   # Detection(label='a red ball', score=0.61, box=(x0, y0, x1, y1))

Boxes are in pixels of the frames passed in. The processor's own resizing and padding are
used unchanged (OWLv2 pads to a square at the bottom/right, then resizes), so scores are those
the model's authors' pipeline gives.

Cost: OWLv2-base sees 960x960 inputs (3600 patches), seconds per frame on a laptop CPU; callers
detect on a few key frames and track between them rather than detecting in every frame.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evalkit.errors import EvalkitError

__all__ = ["DEFAULT_DETECTOR", "Detection", "OpenVocabDetector", "OpenVocabWeightsUnavailable",
           "check_available"]

log = logging.getLogger(__name__)

DEFAULT_DETECTOR = "google/owlv2-base-patch16-ensemble"
# Model types whose processor and outputs follow the OWL-ViT protocol (logits per text query,
# boxes as normalised centre/size). Grounding DINO differs (token spans, two thresholds) and is
# refused rather than half-supported.
_OWL_TYPES = {"owlv2", "owlvit"}


class OpenVocabWeightsUnavailable(EvalkitError, OSError):
    """The detector could not be loaded (offline and not cached, or not a supported model)."""


@dataclass(frozen=True)
class Detection:
    """One box: ``label`` is the query it answers, ``box`` is ``(x0, y0, x1, y1)`` in pixels."""

    label: str
    score: float
    box: tuple[float, float, float, float]

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2.0, (y0 + y1) / 2.0

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 6), "box": [round(v, 2) for v in self.box]}


class OpenVocabDetector:
    """An OWLv2 / OWL-ViT model and its processor, in eval mode (see the module docstring)."""

    def __init__(self, model: Any, processor: Any, source: str, device: str = "cpu", batch_size: int = 4) -> None:
        self.model, self.processor, self.source = model, processor, source
        self.device, self.batch_size = device, int(batch_size)

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, source: str | Path = DEFAULT_DETECTOR, device: str = "cpu",
             local_files_only: bool | None = None, batch_size: int = 4) -> OpenVocabDetector:
        """The detector from a hub id or a local folder (cached per process).

        Raises :class:`OpenVocabWeightsUnavailable` (one line, with the command that saves the
        model for offline use) when the source cannot be loaded.
        """
        folder = Path(source).expanduser()
        key = str(folder.resolve()) if folder.is_dir() else str(source)
        from evalkit.devices import metric_device

        return _load_cached(key, metric_device(str(device)), local_files_only, int(batch_size))

    # -- inference -------------------------------------------------------------------------------

    def detect(self, frames: np.ndarray | Sequence[np.ndarray], queries: Sequence[str],
               threshold: float = 0.1) -> list[list[Detection]]:
        """Boxes per frame for the text ``queries``.

        ``frames``: uint8 ``(T, H, W, 3)`` RGB (or a list of ``(H, W, 3)`` frames). Returns ``T``
        lists of :class:`Detection`, each sorted by score (highest first), keeping boxes whose
        score is above ``threshold``.
        """
        import torch

        queries = [str(q).strip() for q in queries]
        if not queries or any(not q for q in queries):
            raise ValueError("queries must be non-empty strings")
        frame_list = [np.ascontiguousarray(f) for f in frames]
        for frame in frame_list:
            if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
                raise ValueError(f"frames must be uint8 (H, W, 3) RGB, got {frame.dtype} {frame.shape}")
        out: list[list[Detection]] = []
        with torch.inference_mode():
            text = self.processor(text=[list(queries)], return_tensors="pt")
            text = {k: v.to(self.device) for k, v in text.items()}
            for start in range(0, len(frame_list), self.batch_size):
                batch = frame_list[start : start + self.batch_size]
                pixels = self.processor(images=batch, return_tensors="pt")["pixel_values"].to(self.device)
                n = len(batch)
                outputs = self.model(
                    input_ids=text["input_ids"].repeat(n, 1),
                    attention_mask=text["attention_mask"].repeat(n, 1),
                    pixel_values=pixels,
                )
                sizes = [(f.shape[0], f.shape[1]) for f in batch]
                results = self.processor.post_process_grounded_object_detection(
                    outputs=outputs, threshold=float(threshold), target_sizes=sizes)
                for result, (h, w) in zip(results, sizes):
                    dets = []
                    for score, label, box in zip(result["scores"].tolist(), result["labels"].tolist(),
                                                 result["boxes"].tolist()):
                        x0, y0, x1, y1 = box
                        # OWLv2 boxes live in the padded square; clip them to the real frame.
                        clipped = (min(max(x0, 0.0), w), min(max(y0, 0.0), h), min(max(x1, 0.0), w), min(max(y1, 0.0), h))
                        if clipped[2] > clipped[0] and clipped[3] > clipped[1]:
                            dets.append(Detection(queries[int(label)], float(score), clipped))
                    out.append(sorted(dets, key=lambda d: -d.score))
        return out

    def best(self, frames: np.ndarray | Sequence[np.ndarray], query: str,
             threshold: float = 0.1) -> list[Detection | None]:
        """The highest-scoring box for one query in each frame (``None`` where none passes)."""
        return [dets[0] if dets else None for dets in self.detect(frames, [query], threshold)]

    def info(self) -> dict[str, Any]:
        return {"detector": self.source, "model_type": getattr(self.model.config, "model_type", None)}


def _how_to(source: str) -> str:
    return (f"On a machine with access, save it once with "
            f"AutoModelForZeroShotObjectDetection.from_pretrained('{source}').save_pretrained(DIR) and "
            f"AutoProcessor.from_pretrained('{source}').save_pretrained(DIR) (or 'hf download {source} "
            f"--local-dir DIR'), then pass the folder")


def _config(source: str, local_files_only: bool | None) -> Any:
    """The model's config, or the one-line error; refuses models that are not OWL."""
    from transformers import AutoConfig

    kwargs = {} if local_files_only is None else {"local_files_only": local_files_only}
    try:
        config = AutoConfig.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise OpenVocabWeightsUnavailable(
            f"open-vocabulary detector '{source}' could not be loaded: it is not a local folder with a "
            f"model, and the hub has no copy reachable from here (offline, or not in the local cache). "
            f"{_how_to(source)}. Cause: {str(exc).splitlines()[0]}") from exc
    if config.model_type not in _OWL_TYPES:
        raise OpenVocabWeightsUnavailable(
            f"open-vocabulary detector '{source}' is a {config.model_type!r} model; evalkit supports "
            f"OWLv2 and OWL-ViT ({', '.join(sorted(_OWL_TYPES))}), e.g. {DEFAULT_DETECTOR}")
    return config


def check_available(source: str | Path = DEFAULT_DETECTOR, local_files_only: bool | None = None) -> None:
    """Raise :class:`OpenVocabWeightsUnavailable` unless ``source`` names a loadable OWL model;
    reads only its config (a run checks this before it decodes any video)."""
    folder = Path(source).expanduser()
    _config(str(folder.resolve()) if folder.is_dir() else str(source), local_files_only)


@functools.lru_cache(maxsize=2)
def _load_cached(source: str, device: str, local_files_only: bool | None, batch_size: int) -> OpenVocabDetector:
    from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

    from evalkit.progress import quiet_library_bars

    kwargs = {} if local_files_only is None else {"local_files_only": local_files_only}
    config = _config(source, local_files_only)
    try:
        with quiet_library_bars():
            model = AutoModelForZeroShotObjectDetection.from_pretrained(source, **kwargs)
        processor = AutoProcessor.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise OpenVocabWeightsUnavailable(
            f"open-vocabulary detector '{source}' could not be loaded (model or processor files "
            f"missing). {_how_to(source)}. Cause: {str(exc).splitlines()[0]}") from exc
    log.info("open-vocabulary detector %s (%s) on %s", source, config.model_type, device)
    return OpenVocabDetector(model.eval().to(device), processor, source, device, batch_size)
