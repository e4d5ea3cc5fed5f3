"""Exact ground truth of a scene: where every object is, how fast it moves, how much is visible.

Computed from the spec alone (:func:`ground_truth`), without rendering, so probes and tests can
compare against it at any resolution. Arrays are indexed ``[frame, object, ...]`` in the order of
``SceneSpec.objects``.

``visible_fraction`` is the exact share of an object's area (disc ``pi r^2`` or square ``4 s^2``)
that lies inside the view and not behind the occluder. Objects hiding each other are NOT counted
(the sampler keeps objects apart). ``visible`` is ``visible_fraction > VISIBLE_THRESHOLD`` (0.5):
more than half of the object can be seen, so a detector should find it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from evalkit.world.geometry import box_rect_area, disc_rect_area
from evalkit.world.physics import trajectory
from evalkit.world.scene import SceneSpec

__all__ = ["GroundTruth", "ground_truth", "VISIBLE_THRESHOLD"]

#: An object counts as visible when more than this fraction of its area can be seen.
VISIBLE_THRESHOLD = 0.5
#: Fractions this close to 0 or 1 are round-off of an exact 0 or 1 (area differences).
_SNAP = 1e-9

_ARRAY_FIELDS = ("times_s", "position_m", "velocity_mps", "position_px", "velocity_pxps",
                 "visible_fraction", "in_view_fraction", "visible", "size_px", "size_m")


@dataclasses.dataclass(frozen=True, eq=False)
class GroundTruth:
    """Per-frame, per-object truth of a rendered scene (``T`` frames, ``N`` objects).

    Attributes:
        times_s: ``(T,)`` frame times (s).
        position_m: ``(T, N, 2)`` centre ``(x, y)`` in metres (``y`` down).
        velocity_mps: ``(T, N, 2)`` velocity in m/s (right-continuous at bounce contacts).
        position_px: ``(T, N, 2)`` centre in pixel coordinates (pixel ``j`` centred at ``j + .5``).
        velocity_pxps: ``(T, N, 2)`` velocity in px/s.
        visible_fraction: ``(T, N)`` share of the object's area inside the view and not behind
            the occluder, in ``[0, 1]``.
        in_view_fraction: ``(T, N)`` share inside the view (occluder ignored).
        visible: ``(T, N)`` bool, ``visible_fraction > VISIBLE_THRESHOLD``.
        size_px: ``(N,)`` ball radius / box half-side in pixels; ``size_m`` the same in metres.
        contacts_s: per object, the floor-contact times (s) within the clip (bounce only).
        pixels_per_metre: the scene's scale.
    """

    times_s: np.ndarray
    position_m: np.ndarray
    velocity_mps: np.ndarray
    position_px: np.ndarray
    velocity_pxps: np.ndarray
    visible_fraction: np.ndarray
    in_view_fraction: np.ndarray
    visible: np.ndarray
    size_px: np.ndarray
    size_m: np.ndarray
    contacts_s: tuple[np.ndarray, ...]
    pixels_per_metre: float

    @property
    def num_frames(self) -> int:
        return int(self.times_s.shape[0])

    @property
    def num_objects(self) -> int:
        return int(self.size_px.shape[0])

    def bbox_px(self) -> np.ndarray:
        """``(T, N, 4)`` unclipped boxes ``(x_min, y_min, x_max, y_max)`` in pixels."""
        half = self.size_px[None, :, None]
        return np.concatenate([self.position_px - half, self.position_px + half], axis=-1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of nested lists (floats, bools)."""
        out: dict[str, Any] = {k: getattr(self, k).tolist() for k in _ARRAY_FIELDS}
        out["contacts_s"] = [c.tolist() for c in self.contacts_s]
        out["pixels_per_metre"] = self.pixels_per_metre
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GroundTruth:
        """Inverse of :meth:`to_dict`."""
        arrays = {k: np.asarray(d[k], dtype=bool if k == "visible" else np.float64)
                  for k in _ARRAY_FIELDS}
        contacts = tuple(np.asarray(c, dtype=np.float64) for c in d["contacts_s"])
        return cls(**arrays, contacts_s=contacts, pixels_per_metre=float(d["pixels_per_metre"]))


def ground_truth(spec: SceneSpec) -> GroundTruth:
    """Exact truth for every frame and object of ``spec`` (no rendering)."""
    t = spec.times_s
    n = len(spec.objects)
    pos = np.empty((t.size, n, 2))
    vel = np.empty((t.size, n, 2))
    contacts = []
    for j, obj in enumerate(spec.objects):
        traj = trajectory(obj, t, spec.g_mps2, spec.floor_m)
        pos[:, j], vel[:, j] = traj.position_m, traj.velocity_mps
        contacts.append(traj.contacts_s)
    in_view, visible = _visible_fractions(spec, pos)
    ppm = spec.pixels_per_metre
    size_m = np.array([o.size_m for o in spec.objects])
    return GroundTruth(
        times_s=t, position_m=pos, velocity_mps=vel, position_px=pos * ppm,
        velocity_pxps=vel * ppm, visible_fraction=visible, in_view_fraction=in_view,
        visible=visible > VISIBLE_THRESHOLD, size_px=size_m * ppm, size_m=size_m,
        contacts_s=tuple(contacts), pixels_per_metre=ppm,
    )


def _visible_fractions(spec: SceneSpec, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(in_view, visible)`` fractions, each ``(T, N)``, from exact shape/rectangle areas."""
    w, h = spec.view_width_m, spec.view_height_m
    occ = spec.occluder
    in_view = np.empty(pos.shape[:2])
    visible = np.empty(pos.shape[:2])
    for j, obj in enumerate(spec.objects):
        x, y, s = pos[:, j, 0], pos[:, j, 1], obj.size_m
        if obj.shape == "ball":
            area_fn, full = disc_rect_area, np.pi * s * s
        else:
            area_fn, full = box_rect_area, 4.0 * s * s
        # Fast path: fully inside the view needs no area computation (the common case).
        inside = (x - s >= 0) & (x + s <= w) & (y - s >= 0) & (y + s <= h)
        area = np.full(x.shape, full)
        if not inside.all():
            area = np.where(inside, full, area_fn(x, y, s, 0.0, w, 0.0, h))
        hidden = np.zeros(x.shape)
        if occ is not None:
            top, bottom = occ.span_m(h)
            ox0, ox1 = max(0.0, occ.x_m - occ.width_m / 2), min(w, occ.x_m + occ.width_m / 2)
            oy0, oy1 = max(0.0, top), min(h, bottom)
            near = (x + s > ox0) & (x - s < ox1) & (y + s > oy0) & (y - s < oy1)
            if near.any() and ox1 > ox0 and oy1 > oy0:
                hidden = np.where(near, area_fn(x, y, s, ox0, ox1, oy0, oy1), 0.0)
        in_view[:, j] = _snap(area / full)
        visible[:, j] = _snap((area - hidden) / full)
    return in_view, visible


def _snap(fraction: np.ndarray) -> np.ndarray:
    """Clip to ``[0, 1]`` and make round-off of fully hidden / fully visible exact."""
    f = np.clip(fraction, 0.0, 1.0)
    f[f < _SNAP] = 0.0
    f[f > 1.0 - _SNAP] = 1.0
    return f
