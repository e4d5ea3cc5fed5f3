"""Generators and metrics by name, extensible through entry points.

A third-party package adds a generator or a metric exactly as evalkit registers its own, in
its ``pyproject.toml``::

    [project.entry-points."evalkit.generators"]
    mymodel = "mypkg.gen:MyGenerator"

    [project.entry-points."evalkit.metrics"]
    mymetric = "mypkg.metric:MyMetric"

Targets are imported only when used, so listing names costs no heavy imports. The built-in
table below duplicates evalkit's own entry points so that a source checkout that was never
pip-installed still works.
"""

from __future__ import annotations

import difflib
import importlib
from importlib import metadata
from typing import Any, Literal

from evalkit.errors import UnknownComponentError

Kind = Literal["generator", "metric"]

ENTRY_POINT_GROUPS: dict[str, str] = {
    "generator": "evalkit.generators",
    "metric": "evalkit.metrics",
}

_BUILTIN: dict[str, dict[str, str]] = {
    "generator": {
        "world": "evalkit.generators.world:WorldGenerator",
        "folder": "evalkit.generators.folder:FolderGenerator",
        "reference": "generator.plugin:ReferenceGenerator",
        "diffusers": "evalkit.generators.diffusers_pipeline:DiffusersGenerator",
    },
    "metric": {
        "temporal_flickering": "evalkit.metrics.flicker:TemporalFlickering",
        "motion_magnitude": "evalkit.metrics.motion:MotionMagnitude",
        "freefall": "physics_probes.metrics:FreefallMetric",
        "projectile": "physics_probes.metrics:ProjectileMetric",
        "uniform_motion": "physics_probes.metrics:UniformMotionMetric",
        "bounce": "physics_probes.metrics:BounceMetric",
        "permanence": "physics_probes.metrics:PermanenceMetric",
        "constancy": "physics_probes.metrics:ConstancyMetric",
        "physics": "physics_probes.metrics:PhysicsMetric",
        "fvd": "evalkit.metrics.fvd:FVD",
        "kvd": "evalkit.metrics.fvd:KVD",
        "clip_score": "evalkit.metrics.clip_score:ClipScore",
        "alignment": "evalkit.metrics.evaluator:Alignment",
        "r_precision": "evalkit.metrics.evaluator:RPrecision",
        "detector": "detectors.metric:DetectorMetric",
    },
}

# Registered at run time (tests, notebooks): name -> "module:attr" or the class itself.
_RUNTIME: dict[str, dict[str, Any]] = {"generator": {}, "metric": {}}


def register(kind: Kind, name: str, target: Any) -> None:
    """Register a generator or metric class (or a ``"module:attr"`` string) under ``name``."""
    _RUNTIME[kind][name] = target


def unregister(kind: Kind, name: str) -> None:
    _RUNTIME[kind].pop(name, None)


def available(kind: Kind) -> dict[str, Any]:
    """All names of a kind mapped to their target (string or class), sorted by name."""
    table: dict[str, Any] = dict(_BUILTIN[kind])
    try:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUPS[kind]):
            table.setdefault(ep.name, ep.value)
    except Exception:  # broken third-party metadata must not take the CLI down
        pass
    table.update(_RUNTIME[kind])
    return dict(sorted(table.items()))


def load(kind: Kind, name: str) -> type:
    """The class registered as ``name``; raises UnknownComponentError with suggestions."""
    table = available(kind)
    if name not in table:
        close = difflib.get_close_matches(name, table, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UnknownComponentError(
            f"unknown {kind} '{name}'{hint}; available: {', '.join(table) or 'none'}"
        )
    target = table[name]
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise UnknownComponentError(
            f"{kind} '{name}' is registered as '{target}' but cannot be loaded: {exc}"
        ) from exc
    return obj
