"""VBench's object-grounded semantic dimensions with an open-vocabulary detector.

``object_class``, ``multiple_objects``, ``color`` and ``spatial_relationship`` follow VBench
0.1.5's definitions (``vbench/object_class.py``, ``multiple_objects.py``, ``color.py``,
``spatial_relationship.py``): 16 frames sampled at the middle of 16 equal intervals, frames whose
short side exceeds 768 px resized to a 720 px short side, and the same per-frame success rules and
aggregation. The detector differs: VBench runs GRiT (a dense-captioning detector built on
detectron2); evalkit runs OWLv2 from ``transformers`` (:mod:`evalkit.open_vocab`), which takes
the object names as text queries. So these dimensions are **VBench-compatible, not identical**:

- ``object_class`` / ``multiple_objects``: a frame counts when a box for the object (for each of
  the two objects) scores above ``threshold``; GRiT instead looks the name up in its caption's
  object words.
- ``color``: GRiT writes a caption per box and VBench looks for colour words in it. OWLv2 has no
  captions: each of VBench's 12 colours is a query (``"a red car"``), and a frame's colour is that
  of the best-scoring box above ``threshold``; the frame counts for the object when any such box
  exists (VBench: a caption of the object that names some colour) and for the colour when the
  best box's colour is the prompt's (grey and gray are one colour).
- ``spatial_relationship``: VBench's ``get_position_score`` unchanged (horizontal or vertical
  separation with an IoU tolerance of 0.1, best pair per frame), on OWLv2's boxes.

Where the object, colour or relation comes from: the prompt's VBench ``auxiliary_info``, keyed by
dimension as in ``VBench_full_info.json`` (a suite whose prompts are read from that file carries
it; a suite YAML can give ``auxiliary_info: {color: {color: red}}`` on any prompt), else the prompt itself when it has VBench's template
(``a red car``, ``a cat and a dog``, ``a cat on the left of a dog``). Otherwise the metric
refuses the clip with a message that says what to add.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, MetricError
from evalkit.metrics.vbench.common import VBenchDimension

__all__ = [
    "VBENCH_COLORS",
    "ColorDimension",
    "MultipleObjects",
    "ObjectClass",
    "SpatialRelationship",
    "parse_color_prompt",
    "parse_multiple_objects_prompt",
    "parse_spatial_prompt",
    "position_score",
]

# VBench color.py's list, in its order.
VBENCH_COLORS = ("white", "red", "pink", "blue", "silver", "purple", "orange", "green", "gray",
                 "yellow", "black", "grey")
_RELATIONS = ("on the left of", "on the right of", "on the top of", "on the bottom of")
_ARTICLE = re.compile(r"^(a|an|the)\s+", re.IGNORECASE)


# ----------------------------------------------------------------------------------------------
# VBench's rules (ported from vbench 0.1.5)
# ----------------------------------------------------------------------------------------------


def position_score(relation: str, box_a: Sequence[float], box_b: Sequence[float],
                   iou_threshold: float = 0.1) -> float:
    """VBench ``spatial_relationship.get_position_score``: 1 when the boxes' centres are further
    apart along the relation's axis than across it and the boxes overlap by IoU < 0.1,
    ``0.1 / IoU`` when they overlap more, 0 when the centres are further apart across the axis.

    VBench does not check the direction (left vs right) or which box is which; neither does this.
    """
    ax0, ay0, ax1, ay1 = (float(v) for v in box_a)
    bx0, by0, bx1, by1 = (float(v) for v in box_b)
    x_distance = (bx0 + bx1) / 2 - (ax0 + ax1) / 2
    y_distance = (by0 + by1) / 2 - (ay0 + ay1) / 2
    x_overlap = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    y_overlap = max(0.0, min(ay1, by1) - max(ay0, by0))
    intersection = x_overlap * y_overlap
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - intersection
    iou = intersection / union if union > 0 else 0.0
    # VBench tests ``relation in 'on the right of' or relation in 'on the left of'`` (substring).
    if relation in "on the right of" or relation in "on the left of":
        along, across = abs(x_distance), abs(y_distance)
    elif relation in "on the bottom of" or relation in "on the top of":
        along, across = abs(y_distance), abs(x_distance)
    else:
        return 0.0
    if along > across:
        return 1.0 if iou < iou_threshold else iou_threshold / iou
    return 0.0


# ----------------------------------------------------------------------------------------------
# What the prompt names
# ----------------------------------------------------------------------------------------------


def _noun(text: str) -> str:
    return _ARTICLE.sub("", text.strip().strip(".,").strip()).strip()


def parse_color_prompt(prompt: str, aux: dict[str, Any] | None) -> tuple[str, str] | None:
    """``(colour, object)``: VBench takes the colour from ``auxiliary_info`` and the object from
    the prompt with articles and the colour removed (``"a red bicycle"`` → ``bicycle``)."""
    words = prompt.lower().replace(",", " ").split()
    colour = (aux or {}).get("color") or next((w for w in words if w in VBENCH_COLORS), None)
    if not colour:
        return None
    colour = str(colour).lower()
    obj = " ".join(w for w in words if w not in ("a", "an", "the") and w != colour).strip()
    return (colour, obj) if obj else None


def parse_multiple_objects_prompt(prompt: str, aux: dict[str, Any] | None) -> tuple[str, str] | None:
    """``(object_a, object_b)`` from ``auxiliary_info["object"]`` (``"cat and dog"``) or a
    prompt ``"a cat and a dog"``."""
    text = str((aux or {}).get("object") or prompt)
    parts = text.lower().split(" and ")
    if len(parts) != 2 or not all(_noun(p) for p in parts):
        return None
    return _noun(parts[0]), _noun(parts[1])


def parse_spatial_prompt(prompt: str, aux: dict[str, Any] | None) -> dict[str, str] | None:
    """``{"object_a", "object_b", "relationship"}`` from ``auxiliary_info`` or a prompt
    ``"a cat on the left of a dog, front view"``."""
    given = (aux or {}).get("spatial_relationship")
    if isinstance(given, dict) and {"object_a", "object_b", "relationship"} <= set(given):
        return {k: str(given[k]) for k in ("object_a", "object_b", "relationship")}
    text = prompt.lower().split(",")[0]
    for relation in _RELATIONS:
        if f" {relation} " in text:
            a, b = text.split(f" {relation} ", 1)
            if _noun(a) and _noun(b):
                return {"object_a": _noun(a), "object_b": _noun(b), "relationship": relation}
    return None


def parse_object_prompt(prompt: str, aux: dict[str, Any] | None) -> str | None:
    """The object of ``object_class``: ``auxiliary_info["object"]`` or a prompt of at most three
    words (VBench's object_class prompts are ``"a person"``, ``"a fire hydrant"``)."""
    given = (aux or {}).get("object")
    if given:
        return str(given)
    noun = _noun(prompt.lower())
    return noun if noun and len(noun.split()) <= 3 else None


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------


class GroundedOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    detector: str = Field("google/owlv2-base-patch16-ensemble",
                          description="hub id or local folder of an OWLv2 / OWL-ViT model")
    threshold: float = Field(0.2, gt=0, lt=1, description="box score that counts as a detection")
    frames: int = Field(16, ge=1, description="frames per clip, VBench's 'middle' sampling")
    device: str = Field("auto", description="auto (cuda, mps, cpu), cpu, cuda, cuda:1")
    local_files_only: bool | None = Field(None, description="None: follow HF_HUB_OFFLINE")


class _Grounded(VBenchDimension):
    """Shared part: frame sampling, VBench's resize, the detector; subclasses score frames.
    VBench's per-dimension aggregate and ``vbench_dimension`` come from :class:`VBenchDimension`;
    the detector is not one of its weight files, so ``options_problem`` is this class's own."""

    higher_is_better = True
    units = "fraction of frames (0..1)"
    version = "1"
    vbench_compatibility: ClassVar[str] = "compatible"
    Options: ClassVar[type[BaseModel]] = GroundedOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._detector: Any = None

    @classmethod
    def options_problem(cls, options: dict[str, Any]) -> str | None:
        """The one-line reason the detector cannot be found, or None (asked by the runner while
        planning, before any clip is generated or decoded; reads only the model's config)."""
        from evalkit.open_vocab import OpenVocabWeightsUnavailable, check_available

        o = cls.Options(**options)
        try:
            check_available(o.detector, o.local_files_only)
        except OpenVocabWeightsUnavailable as exc:
            return str(exc)
        return None

    def detector(self) -> Any:
        if self._detector is None:
            from evalkit.open_vocab import OpenVocabDetector, OpenVocabWeightsUnavailable

            try:
                self._detector = OpenVocabDetector.load(self.options.detector, self.options.device,
                                                        self.options.local_files_only)
            except OpenVocabWeightsUnavailable as exc:
                raise MetricError(str(exc)) from exc
        return self._detector

    def frames_for_detection(self, clip: Clip) -> np.ndarray:
        """uint8 ``(frames, h, w, 3)``: VBench's 16 middle frames, a short side over 768 px
        brought to 720 px (``int(720 / short * side)``, bilinear)."""
        from evalkit.metrics.vbench.preprocess import middle_frame_indices

        frames = clip.frames[middle_frame_indices(self.options.frames, clip.num_frames)]
        h, w = frames.shape[1:3]
        if min(h, w) > 768:
            import cv2

            scale = 720.0 / min(h, w)
            size = (int(scale * w), int(scale * h))
            frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
        return frames

    def auxiliary(self, context: ClipContext) -> dict[str, Any] | None:
        """This dimension's part of the prompt's ``auxiliary_info`` (VBench keys it by dimension:
        ``{"color": {"color": "red"}}``)."""
        aux = (context.auxiliary_info or {}).get(self.name)
        return aux if isinstance(aux, dict) else None

    def detect(self, clip: Clip, queries: list[str]) -> list[list[Any]]:
        return self.detector().detect(self.frames_for_detection(clip), queries, self.options.threshold)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "vbench": self.vbench_compatibility}


class ObjectClass(_Grounded):
    name = "object_class"
    description = "VBench object_class, OWLv2 (compatible): share of frames showing the prompt's object"
    primary = "object_class"

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        obj = parse_object_prompt(context.prompt, self.auxiliary(context))
        if obj is None:
            raise MetricError("object_class needs the object the prompt names: give the prompt "
                              "auxiliary_info: {object_class: {object: <name>}} in the suite, or a prompt like 'a cat'")
        per_frame = self.detect(clip, [obj])
        hits = sum(1 for dets in per_frame if dets)
        return {"object_class": hits / len(per_frame), "success_frames": hits,
                "frames": len(per_frame), "object": obj}


class MultipleObjects(_Grounded):
    name = "multiple_objects"
    description = "VBench multiple_objects, OWLv2 (compatible): share of frames showing both objects"
    primary = "multiple_objects"

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        pair = parse_multiple_objects_prompt(context.prompt, self.auxiliary(context))
        if pair is None:
            raise MetricError("multiple_objects needs two objects: give auxiliary_info: "
                              "{multiple_objects: {object: 'cat and dog'}} in the suite, or a prompt like 'a cat and a dog'")
        per_frame = self.detect(clip, list(pair))
        hits = sum(1 for dets in per_frame if {pair[0], pair[1]} <= {d.label for d in dets})
        return {"multiple_objects": hits / len(per_frame), "success_frames": hits,
                "frames": len(per_frame), "objects": " and ".join(pair)}


def _same_colour(a: str, b: str) -> bool:
    grey = {"gray", "grey"}
    return a == b or {a, b} <= grey


class ColorDimension(_Grounded):
    name = "color"
    description = "VBench color, OWLv2 (compatible): share of the object's frames in the prompt's colour"
    primary = "color"

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        parsed = parse_color_prompt(context.prompt, self.auxiliary(context))
        if parsed is None:
            raise MetricError("color needs a colour and an object: give auxiliary_info: "
                              "{color: {color: red}} in the suite, or a prompt like 'a red car'")
        colour, obj = parsed
        palette = [c for c in VBENCH_COLORS if c != "grey"]  # one query for grey/gray
        queries = [f"a {c} {obj}" for c in palette]
        per_frame = self.detect(clip, queries)
        object_frames = colour_frames = 0
        for dets in per_frame:
            if not dets:
                continue
            object_frames += 1
            best = palette[queries.index(dets[0].label)]
            colour_frames += int(_same_colour(best, colour))
        if object_frames == 0:
            # VBench leaves a clip without the object out of the colour average.
            raise MetricError(f"color: no '{obj}' of any colour detected in {len(per_frame)} frames "
                              "(VBench leaves such a clip out of the average)")
        return {"color": colour_frames / object_frames, "colour_frames": colour_frames,
                "object_frames": object_frames, "frames": len(per_frame), "target_color": colour,
                "object": obj}


class SpatialRelationship(_Grounded):
    name = "spatial_relationship"
    description = "VBench spatial_relationship, OWLv2 (compatible): position score of the two objects"
    units = "score (0..1)"
    primary = "spatial_relationship"

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        spec = parse_spatial_prompt(context.prompt, self.auxiliary(context))
        if spec is None:
            raise MetricError("spatial_relationship needs two objects and a relation: give "
                              "auxiliary_info: {spatial_relationship: {spatial_relationship: {object_a, "
                              "object_b, relationship}}} in the suite, or a prompt like 'a cat on the left of a dog'")
        per_frame = self.detect(clip, [spec["object_a"], spec["object_b"]])
        frame_scores = []
        for dets in per_frame:
            # VBench pairs every box of either object with every other one and keeps the best.
            boxes = [d.box for d in dets if d.label in (spec["object_a"], spec["object_b"])]
            best = 0.0
            for i in range(len(boxes)):
                for j in range(i + 1, len(boxes)):
                    best = max(best, position_score(spec["relationship"], boxes[i], boxes[j]))
            frame_scores.append(best)
        return {"spatial_relationship": float(np.mean(frame_scores)), "frames": len(frame_scores),
                **spec}
