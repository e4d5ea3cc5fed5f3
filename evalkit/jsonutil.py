"""JSON for what evalkit writes: numpy values and paths become plain JSON types."""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def json_default(value: Any) -> Any:
    """``default=`` hook for :func:`json.dumps`: numpy scalars and arrays, paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"value {value!r} of type {type(value).__name__} is not JSON-serialisable")
