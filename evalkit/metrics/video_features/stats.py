"""Reference statistics: a reference set's features computed once, saved, and reused.

A file (``.npz``, read with ``allow_pickle=False``) holds the mean ``mu (D,)``, the covariance
``sigma (D, D)`` (with the protocol's divisor), the per-video features ``(N, D)`` (for KVD and
the small-N bias estimate) and a JSON header that says how they were made::

    {"format": "evalkit-fvd-stats", "version": 1, "n": 2048, "backbone": "i3d",
     "protocol": "styleganv", "frames": 16, "frame_sampling": "first", "covariance": "unbiased",
     "resolution": [224, 224], "feature_dim": 400, "weights": "i3d-kinetics-400.ckpt",
     "weights_sha256": "af5c50f0...", "evalkit_version": "0.1.0", "source": "data/ucf101", ...}

A file is only used with the same backbone, protocol, frames and weights: anything else is
refused with one line that names the difference (FVD across protocols or weights differs by
5-10 %, so mixing them would give a number that means nothing).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["COMPATIBILITY_KEYS", "ReferenceStats", "StatsMismatchError", "load_stats", "save_stats"]

FORMAT = "evalkit-fvd-stats"
VERSION = 1
#: Header keys that must agree between a stats file and the FVD that uses it.
COMPATIBILITY_KEYS = ("backbone", "protocol", "frames", "covariance", "feature_dim", "weights_sha256", "seed")


class StatsMismatchError(ValueError):
    """A stats file was made another way than the FVD that wants to use it."""


@dataclasses.dataclass
class ReferenceStats:
    """A reference set's features and how they were made (see the module docstring)."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int
    meta: dict[str, Any]
    features: np.ndarray | None = None
    path: str | None = None

    def check_compatible(self, made_by: dict[str, Any]) -> None:
        """Raise :class:`StatsMismatchError` (one line) if ``made_by`` differs in a key that matters."""
        diffs = []
        for key in COMPATIBILITY_KEYS:
            mine, theirs = self.meta.get(key), made_by.get(key)
            if key == "seed" and made_by.get("frame_sampling") != "random_window":
                continue  # the seed only matters where windows are drawn at random
            if mine != theirs:
                diffs.append(f"{key} {_short(mine)} (file) vs {_short(theirs)} (this FVD)")
        if diffs:
            where = self.path or "reference statistics"
            raise StatsMismatchError(
                f"{where} was made differently: {'; '.join(diffs)}; recompute it with "
                "'evalkit fvd-stats' using the same backbone, protocol, frames and weights")


def _short(value: Any) -> str:
    text = str(value)
    return text[:12] if isinstance(value, str) and len(text) == 64 else text  # sha256 → prefix


def save_stats(path: str | os.PathLike[str], features: np.ndarray, meta: dict[str, Any], ddof: int) -> ReferenceStats:
    """Write ``features`` ``(N, D)`` with their mean and covariance and ``meta`` to ``path``."""
    from evalkit import __version__
    from evalkit.metrics.video_features.distances import gaussian_statistics

    features = np.asarray(features, dtype=np.float64)
    mu, sigma = gaussian_statistics(features, ddof)
    header = {"format": FORMAT, "version": VERSION, "n": int(features.shape[0]),
              "evalkit_version": __version__, **meta}
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, mu=mu, sigma=sigma, features=features.astype(np.float32),
             meta=np.array(json.dumps(header, sort_keys=True)))
    os.replace(tmp, path)  # never a half-written file at ``path``
    return ReferenceStats(mu, sigma, header["n"], header, features, str(path))


def load_stats(path: str | os.PathLike[str]) -> ReferenceStats:
    """Read a file written by :func:`save_stats`; ``ValueError`` with one line if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference statistics not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            mu, sigma = data["mu"].astype(np.float64), data["sigma"].astype(np.float64)
            features = data["features"].astype(np.float64) if "features" in data.files else None
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not an evalkit FVD statistics file ({type(exc).__name__}: {exc})") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not an evalkit FVD statistics file (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise ValueError(f"{path}: statistics file version {meta.get('version')} is not supported "
                         f"(this evalkit reads version {VERSION})")
    d = mu.shape[0]
    if sigma.shape != (d, d) or (features is not None and features.shape[1:] != (d,)):
        raise ValueError(f"{path}: inconsistent shapes mu {mu.shape}, sigma {sigma.shape}")
    return ReferenceStats(mu, sigma, int(meta["n"]), meta, features, str(path))
