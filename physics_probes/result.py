"""The result of one probe on one clip, and its conversion to JSON-safe values.

Every probe returns a :class:`ProbeResult`: a status (:data:`STATUSES`), a one-line reason, the
measured values (units in the key names: ``g_px_s2``, ``rmse_px``, ...), the expected values, and
the points and fitted curve needed to plot the fit (lists of floats). :meth:`ProbeResult.values`
flattens it into the dict a :class:`~evalkit.metrics.base.ClipMetric` returns: plain floats,
strings and lists only, ``None`` where a number is undefined (never NaN).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

__all__ = ["PASS", "FAIL", "NOT_APPLICABLE", "NO_OBJECT", "INCONCLUSIVE", "STATUSES",
           "ProbeResult", "jsonable"]

#: ``not_applicable``: the clip does not show what the probe tests (no falling object);
#: ``no_object``: no object found at all; ``inconclusive``: the object is there but the clip
#: holds too little evidence for a verdict (too few measurable points, 1 frame).
PASS, FAIL, NOT_APPLICABLE, NO_OBJECT = "pass", "fail", "not_applicable", "no_object"
INCONCLUSIVE = "inconclusive"
STATUSES = (PASS, FAIL, NOT_APPLICABLE, NO_OBJECT, INCONCLUSIVE)


def jsonable(value: Any) -> Any:
    """``value`` with numpy types turned into Python ones and non-finite floats into ``None``.

    Works recursively on dicts, lists, tuples and arrays, so a probe can build its values with
    numpy and still hand the runner something ``json.dumps`` accepts.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


@dataclasses.dataclass
class ProbeResult:
    """Outcome of one probe on one clip.

    Attributes:
        probe: probe name (``freefall``, ``permanence``, ...).
        status: one of :data:`STATUSES`.
        reason: why, in one line ('' when it passed without remark).
        measured: measured values, units in the key names.
        expected: the values the law predicts (same key names as their measured counterparts).
        plot: the points and the fitted curve, as lists (``points_t_s``, ``fit_y_px``, ...).
        error_key: key in ``measured`` holding the probe's main error (for medians over clips).
    """

    probe: str
    status: str
    reason: str = ""
    measured: dict[str, Any] = dataclasses.field(default_factory=dict)
    expected: dict[str, Any] = dataclasses.field(default_factory=dict)
    plot: dict[str, Any] = dataclasses.field(default_factory=dict)
    error_key: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown probe status {self.status!r}; expected one of {STATUSES}")

    @property
    def applicable(self) -> bool:
        """Whether the probe gave a verdict (pass or fail)."""
        return self.status in (PASS, FAIL)

    @property
    def passed(self) -> float | None:
        """1.0 for pass, 0.0 for fail, None when there is no verdict (excluded from means)."""
        return None if not self.applicable else float(self.status == PASS)

    @property
    def error(self) -> float | None:
        """The main error value (``measured[error_key]``), or None."""
        if self.error_key is None:
            return None
        value = jsonable(self.measured.get(self.error_key))
        return value if isinstance(value, float) else None

    def values(self) -> dict[str, Any]:
        """Flat JSON-safe dict for the runner: ``passed``, ``status``, ``reason``, the measured
        values, the expected ones prefixed ``expected_``, and the plot lists."""
        out: dict[str, Any] = {"passed": self.passed, "status": self.status, "reason": self.reason,
                               "error": self.error, "error_key": self.error_key}
        out.update(self.measured)
        out.update({f"expected_{k}": v for k, v in self.expected.items()})
        out.update(self.plot)
        return jsonable(out)

    def record(self) -> dict[str, Any]:
        """Nested JSON-safe dict (``probe``, ``status``, ``reason``, ``measured``, ``expected``),
        as the CLI prints it."""
        return jsonable({"probe": self.probe, "status": self.status, "reason": self.reason,
                         "measured": self.measured, "expected": self.expected})
