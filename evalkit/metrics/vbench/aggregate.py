"""VBench's Quality / Semantic / Total scores and its ``*_eval_results.json`` format.

The constants are VBench's (``scripts/constant.py`` at Vchitect/VBench 45e79ec1, used by
``scripts/cal_final_score.py`` and the leaderboard): each dimension's aggregate is normalised as
``(value - Min) / (Max - Min)`` (not clamped), weighted by ``DIM_WEIGHT`` (1, except
dynamic_degree 0.5), and

- Quality  = Σ w·norm / Σ w over the 7 quality dimensions,
- Semantic = Σ w·norm / Σ w over the 9 semantic dimensions,
- Total    = (4·Quality + 1·Semantic) / 5.

VBench's script counts a dimension that is absent from the submission as 0. evalkit does not:
Quality and Semantic are over the dimensions that were computed, and every result names the
dimensions left out (``missing``) and says whether the score is ``complete``. A score over a
subset is not comparable with VBench's leaderboard; the missing list says so.

This module imports neither torch nor numpy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["DIM_WEIGHT", "NORMALIZE", "QUALITY", "QUALITY_WEIGHT", "SEMANTIC", "SEMANTIC_WEIGHT",
           "dimension_results", "eval_results", "missing_text", "normalized", "vbench_scores", "write_eval_results"]

QUALITY: tuple[str, ...] = ("subject_consistency", "background_consistency", "temporal_flickering",
                            "motion_smoothness", "aesthetic_quality", "imaging_quality",
                            "dynamic_degree")
SEMANTIC: tuple[str, ...] = ("object_class", "multiple_objects", "human_action", "color",
                             "spatial_relationship", "scene", "appearance_style", "temporal_style",
                             "overall_consistency")
NORMALIZE: dict[str, tuple[float, float]] = {
    "subject_consistency": (0.1462, 1.0),
    "background_consistency": (0.2615, 1.0),
    "temporal_flickering": (0.6293, 1.0),
    "motion_smoothness": (0.706, 0.9975),
    "dynamic_degree": (0.0, 1.0),
    "aesthetic_quality": (0.0, 1.0),
    "imaging_quality": (0.0, 1.0),
    "object_class": (0.0, 1.0),
    "multiple_objects": (0.0, 1.0),
    "human_action": (0.0, 1.0),
    "color": (0.0, 1.0),
    "spatial_relationship": (0.0, 1.0),
    "scene": (0.0, 0.8222),
    "appearance_style": (0.0009, 0.2855),
    "temporal_style": (0.0, 0.364),
    "overall_consistency": (0.0, 0.364),
}
DIM_WEIGHT: dict[str, float] = {d: (0.5 if d == "dynamic_degree" else 1.0) for d in NORMALIZE}
QUALITY_WEIGHT, SEMANTIC_WEIGHT = 4.0, 1.0


def normalized(dimension: str, value: float) -> float:
    """VBench's ``(value - Min) / (Max - Min)`` for one dimension's aggregate (not clamped)."""
    lo, hi = NORMALIZE[dimension]
    return (value - lo) / (hi - lo)


def _group(names: Sequence[str], values: Mapping[str, float]) -> float | None:
    present = [d for d in names if d in values]
    if not present:
        return None
    return sum(DIM_WEIGHT[d] * normalized(d, values[d]) for d in present) / sum(DIM_WEIGHT[d] for d in present)


def missing_text(scores: Mapping[str, Any], run: Sequence[str] = ()) -> str:
    """The ``VBench missing`` column: each missing dimension, with why when it was in the run
    (``temporal_flickering (no clip counted)``: e.g. the static filter kept none)."""
    names = [f"{d} (no clip counted)" if d in run else d for d in scores["missing"]]
    return ", ".join(names) or "none"


def vbench_scores(values: Mapping[str, float]) -> dict[str, Any]:
    """Quality, Semantic and Total from per-dimension aggregates (VBench's raw scale, 0..1).

    Args:
        values: dimension name → VBench aggregate; names outside VBench's 16 are ignored.
    Returns:
        ``{"quality", "semantic", "total", "normalized": {dim: norm}, "computed": [...],
        "missing": [...], "missing_quality": [...], "missing_semantic": [...], "complete"}``.
        ``quality``/``semantic`` are None when none of their dimensions was computed;
        ``total`` is None unless both are there.
    """
    dims = {d: float(v) for d, v in values.items() if d in NORMALIZE}
    quality, semantic = _group(QUALITY, dims), _group(SEMANTIC, dims)
    total = None
    if quality is not None and semantic is not None:
        total = (QUALITY_WEIGHT * quality + SEMANTIC_WEIGHT * semantic) / (QUALITY_WEIGHT + SEMANTIC_WEIGHT)
    missing_q = [d for d in QUALITY if d not in dims]
    missing_s = [d for d in SEMANTIC if d not in dims]
    return {
        "quality": quality, "semantic": semantic, "total": total,
        "normalized": {d: normalized(d, v) for d, v in dims.items()},
        "computed": [d for d in (*QUALITY, *SEMANTIC) if d in dims],
        "missing": missing_q + missing_s, "missing_quality": missing_q,
        "missing_semantic": missing_s, "complete": not (missing_q or missing_s),
    }


def eval_results(per_dimension: Mapping[str, tuple[float, Sequence[tuple[str, Any]]]]) -> dict[str, Any]:
    """VBench's ``{name}_eval_results.json`` content: ``{dim: [aggregate, [{video_path,
    video_results}, ...]]}`` (what VBench's leaderboard reads: ``json[dim][0]``).

    Args:
        per_dimension: dimension → (aggregate, [(video path, per-video value), ...]).
    """
    return {dim: [agg, [{"video_path": path, "video_results": value} for path, value in videos]]
            for dim, (agg, videos) in per_dimension.items()}


def write_eval_results(path: str | os.PathLike[str], content: Mapping[str, Any]) -> Path:
    """Write the JSON atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(content, indent=2))
    tmp.replace(path)
    return path


def dimension_results(metric_info: Mapping[str, Mapping[str, Any]],
                      records: Sequence[Mapping[str, Any]],
                      video_path: Any = None) -> dict[str, tuple[float, list[tuple[str, Any]]]]:
    """Per VBench dimension of a run: (VBench's aggregate, [(video, per-video value)]).

    Args:
        metric_info: ``run.json``'s ``metrics`` (a VBench dimension's info has ``vbench_dimension``).
        records: one generator's result records (``metric``, ``status``, ``values``, ...); only
            ``ok`` records count, each clip once.
        video_path: ``record -> str`` for the per-video entries (default: ``prompt_id-sample``).
    Returns:
        dimension → (aggregate, per-video list); dimensions without a usable clip are absent.
    """
    from evalkit.metrics.vbench.common import vbench_aggregate

    by_dim: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        dim = (metric_info.get(record.get("metric", "")) or {}).get("vbench_dimension")
        if dim and record.get("status") == "ok" and isinstance(record.get("values"), dict):
            by_dim.setdefault(dim, []).append(record)
    out: dict[str, tuple[float, list[tuple[str, Any]]]] = {}
    for dim, rows in by_dim.items():
        agg = vbench_aggregate(dim, [r["values"] for r in rows])
        if agg is None:
            continue
        videos = []
        for r in rows:
            value = r["values"].get(dim)
            if dim == "temporal_flickering" and r["values"].get("static", 1) != 1:
                continue  # VBench never scores what its static filter left out
            if dim == "dynamic_degree":
                value = bool(value)  # VBench writes the per-video verdict as a boolean
            if dim == "imaging_quality":
                value = r["values"].get("musiq_score", value)  # VBench's per-video scale: 0..100
            path = video_path(r) if video_path else f"{r.get('prompt_id')}-{r.get('sample')}"
            videos.append((str(path), value))
        out[dim] = (agg["value"], videos)
    return out
