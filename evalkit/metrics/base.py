"""The metric protocol: torchmetrics' ``update()`` / ``compute()`` API, without requiring torch.

Two scopes:

- :class:`ClipMetric` scores one clip at a time (``score(clip, context)`` → a dict of values).
  The runner writes one JSON line per clip; standalone, ``update(clip)`` accumulates and
  ``compute()`` returns the means. Physics probes, flicker and motion scores are clip metrics.
- :class:`SetMetric` compares a set of generated clips with a reference set (FVD, KVD). The
  runner feeds the reference with ``update(clips, real=True)`` and the generated clips with
  ``update(clips, real=False)``, then calls ``compute()`` once per generator.

States are declared with :meth:`Metric.add_state` (``"sum"``, ``"cat"``, ``"mean"``) so that
``reset()`` is generic and a distributed engine knows how to merge them. Every metric declares
``higher_is_better`` (``None`` where neither direction is better, e.g. a measured g), ``units``
and the key of its ``primary`` value.
"""

from __future__ import annotations

import abc
import copy
import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel

from evalkit.clip import Clip
from evalkit.options import NoOptions

__all__ = [
    "ClipContext",
    "ClipMetric",
    "Metric",
    "MetricError",
    "NoOptions",
    "SetMetric",
    "summarize_numeric",
]


class MetricError(ValueError):
    """A metric cannot score this input (the message says why)."""


@dataclasses.dataclass(frozen=True)
class ClipContext:
    """What the runner knows about a clip besides its pixels.

    Attributes:
        prompt: the text prompt the clip was made from ('' when unknown).
        scene: the prompt's physics-world scene spec (``evalkit.world.SceneSpec``) or None.
        probe: an explicit physics probe name from the suite, or None.
        seed: the sampling seed, or None.
        generator: label of the generator that made the clip, or None.
        auxiliary_info: VBench's ``auxiliary_info`` of the prompt (e.g. ``{"object": "cat"}``,
            ``{"color": "red"}``) when the suite's prompts came from ``VBench_full_info.json``.
    """

    prompt: str = ""
    scene: Any = None
    probe: str | None = None
    seed: int | None = None
    generator: str | None = None
    auxiliary_info: dict[str, Any] | None = None


Reduction = Literal["sum", "cat", "mean"]


class Metric(abc.ABC):
    """Base class of every evalkit metric (see the module docstring)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    higher_is_better: ClassVar[bool | None] = None
    units: ClassVar[str] = ""
    primary: ClassVar[str] = ""
    scope: ClassVar[Literal["clip", "set"]] = "clip"
    version: ClassVar[str] = "1"
    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, **options: Any) -> None:
        self.options = self.Options(**options)
        self._defaults: dict[str, tuple[Any, Reduction]] = {}

    # -- state handling (as torchmetrics) -----------------------------------------------------
    def add_state(self, name: str, default: Any, reduction: Reduction = "sum") -> None:
        """Declare a state: ``reset()`` restores ``default``; ``reduction`` says how to merge."""
        if reduction not in ("sum", "cat", "mean"):
            raise ValueError(f"unknown reduction {reduction!r}")
        self._defaults[name] = (copy.deepcopy(default), reduction)
        setattr(self, name, copy.deepcopy(default))

    def reset(self) -> None:
        for name, (default, _) in self._defaults.items():
            setattr(self, name, copy.deepcopy(default))

    def merge_state(self, other: Metric) -> None:
        """Fold another instance's states into this one (for work split across processes)."""
        for name, (_, reduction) in self._defaults.items():
            mine, theirs = getattr(self, name), getattr(other, name)
            if reduction == "cat":
                setattr(self, name, list(mine) + list(theirs))
            elif isinstance(mine, dict):
                merged = dict(mine)
                for key, value in theirs.items():
                    merged[key] = merged.get(key, 0) + value
                setattr(self, name, merged)
            else:
                setattr(self, name, mine + theirs)

    @abc.abstractmethod
    def update(self, *args: Any, **kwargs: Any) -> None: ...

    @abc.abstractmethod
    def compute(self) -> dict[str, Any]: ...

    def info(self) -> dict[str, Any]:
        """What a results file records about the metric."""
        return {
            "name": self.name,
            "version": self.version,
            "higher_is_better": self.higher_is_better,
            "units": self.units,
            "primary": self.primary,
            "scope": self.scope,
            "options": self.options.model_dump(mode="json"),
        }


class ClipMetric(Metric):
    """A metric with a value per clip. Subclasses implement :meth:`score`."""

    scope: ClassVar[Literal["clip", "set"]] = "clip"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.add_state("per_clip", [], reduction="cat")

    @abc.abstractmethod
    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        """Values for one clip; must contain ``self.primary``. Raise MetricError if unscorable."""

    def update(self, clip: Clip, context: ClipContext | None = None) -> None:  # type: ignore[override]
        self.per_clip.append(self.score(clip, context or ClipContext()))

    def compute(self) -> dict[str, Any]:
        if not self.per_clip:
            raise MetricError(f"{self.name}: compute() called before any update()")
        return self.summarize(self.per_clip)

    def summarize(self, per_clip: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Aggregate per-clip values into the summary (default: mean, std, median, n)."""
        return summarize_numeric(per_clip)


class SetMetric(Metric):
    """A metric over a set of generated clips against a reference set (FVD-like).

    Opt-ins the runner honours: ``streams_files`` (``update`` takes
    :class:`~evalkit.video.VideoFile` handles and decodes them as it likes, instead of decoded
    clips) and ``accepts_reference_stats`` (the reference may be precomputed statistics,
    passed to ``update(stats, real=True)``).
    """

    scope: ClassVar[Literal["clip", "set"]] = "set"
    needs_reference: ClassVar[bool] = True
    streams_files: ClassVar[bool] = False
    accepts_reference_stats: ClassVar[bool] = False

    @abc.abstractmethod
    def update(self, clips: Sequence[Clip], real: bool) -> None:  # type: ignore[override]
        """Add clips to the reference (``real=True``) or generated (``real=False``) side."""


def summarize_numeric(per_clip: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Mean, std, median and n of every finite scalar value across clips.

    ``{"a": 1.0}`` and ``{"a": 3.0}`` give ``{"a": {"mean": 2.0, "std": 1.0, "median": 2.0, "n": 2}}``.
    Non-numeric values (status strings, point lists) are skipped.
    """
    columns: dict[str, list[float]] = {}
    for values in per_clip:
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                continue
            if math.isfinite(float(value)):
                columns.setdefault(key, []).append(float(value))
    out: dict[str, Any] = {}
    for key, column in columns.items():
        arr = np.asarray(column, dtype=np.float64)
        out[key] = {
            "mean": float(arr.mean()),
            "std": float(arr.std()),
            "median": float(np.median(arr)),
            "n": int(arr.size),
        }
    return out
