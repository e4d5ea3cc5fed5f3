"""Clips with wrong physics, made by the world with changes: to test that the probes catch them.

Each kind breaks one law on a world scene and names the probe that should flag it
(:data:`WRONG_KINDS`): gravity halved or doubled, a constant-velocity glide instead of a fall
(``freefall``), a jump mid-clip or an object vanishing in open view (``permanence``), an object
growing (``constancy``). The clip keeps the *original* scene spec as its claimed scene, so a
probe compares what it sees with what the prompt promised.

Gravity and glide changes are new scene specs rendered by the world. Jumps, vanishing and growth
need per-frame positions, sizes and visibility, which the world's spec cannot express: they are
drawn here on the world's own background (the scene rendered with its object moved out of
view), with the same antialiased coverage the world uses (:mod:`evalkit.world.geometry`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from evalkit.clip import Clip
from evalkit.world import PALETTE, GroundTruth, Motion, SceneSpec, ground_truth, render
from evalkit.world.geometry import axis_coverage, disc_coverage

__all__ = ["WRONG_KINDS", "WrongClip", "make_wrong", "draw_scene"]

#: Kind of wrong physics -> the probe that must flag it.
WRONG_KINDS: dict[str, str] = {
    "g_half": "freefall", "g_double": "freefall", "constant_velocity": "freefall",
    "teleport": "permanence", "vanish": "permanence", "grow": "constancy",
}
#: Jump length as a share of the view width; growth of the object's radius by the last frame.
TELEPORT_SHARE, GROWTH = 0.3, 1.6


@dataclasses.dataclass(frozen=True, eq=False)
class WrongClip:
    """A clip with broken physics.

    Attributes:
        clip: the frames (metadata: the claimed scene and prompt, and ``wrong_kind``).
        scene: the claimed (original) scene spec.
        kind: key of :data:`WRONG_KINDS`; probe: the probe that should flag it.
        positions_px, sizes_px, visible: ``(T, N, 2)``, ``(T, N)``, ``(T, N)`` what was drawn.
        truth: ground truth of the scene actually drawn (positions before any jump).
    """

    clip: Clip
    scene: SceneSpec
    kind: str
    probe: str
    positions_px: np.ndarray
    sizes_px: np.ndarray
    visible: np.ndarray
    truth: GroundTruth


def _blend(frame: np.ndarray, alpha: np.ndarray, y0: int, x0: int, colour: np.ndarray) -> None:
    ny, nx = alpha.shape
    window = frame[y0:y0 + ny, x0:x0 + nx].astype(np.float32)
    window += alpha[..., None] * (colour - window)
    frame[y0:y0 + ny, x0:x0 + nx] = (window + 0.5).astype(np.uint8)


def draw_scene(spec: SceneSpec, seed: int, positions_px: np.ndarray, sizes_px: np.ndarray,
               visible: np.ndarray) -> np.ndarray:
    """Frames ``(T, H, W, 3)`` uint8 of ``spec``'s background and objects drawn at the given
    per-frame ``positions_px`` ``(T, N, 2)``, radii / half-sides ``sizes_px`` ``(T, N)`` and
    ``visible`` ``(T, N)`` bool. Scenes with an occluder or sensor noise are not supported."""
    if spec.occluder is not None or spec.noise_std > 0:
        raise ValueError("draw_scene supports scenes without occluder and noise only")
    hidden = [o.model_copy(update={"motion": Motion.REST, "x0_m": -1e3, "y0_m": -1e3,
                                   "vx_mps": 0.0, "vy_mps": 0.0}) for o in spec.objects[:1]]
    empty = spec.model_copy(update={"objects": tuple(hidden)})
    frames = render(empty, seed).clip.frames.copy()
    t_len, h, w, _ = frames.shape
    for j, obj in enumerate(spec.objects):
        colour = np.asarray(PALETTE[obj.colour], dtype=np.float32)
        for t in range(t_len):
            if not visible[t, j]:
                continue
            cx, cy = positions_px[t, j]
            s = float(sizes_px[t, j])
            reach = s + 1.0
            x0 = int(np.clip(np.floor(cx - reach), 0, w - 1))
            y0 = int(np.clip(np.floor(cy - reach), 0, h - 1))
            nx = int(min(w - x0, np.ceil(2 * reach) + 1))
            ny = int(min(h - y0, np.ceil(2 * reach) + 1))
            if nx <= 0 or ny <= 0 or cx + reach < 0 or cy + reach < 0:
                continue
            if obj.shape == "ball":
                alpha = disc_coverage(np.array([cx]), np.array([cy]), s, np.array([x0]),
                                      np.array([y0]), nx, ny)[0]
            else:
                alpha = (axis_coverage(np.array([cy]), s, np.array([y0]), ny)[0][:, None]
                         * axis_coverage(np.array([cx]), s, np.array([x0]), nx)[0][None, :])
            _blend(frames[t], alpha, y0, x0, colour)
    return frames


def make_wrong(spec: SceneSpec, kind: str, seed: int = 0) -> WrongClip:
    """Render ``spec`` with the physics broken as ``kind`` says (see :data:`WRONG_KINDS`)."""
    if kind not in WRONG_KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose from {sorted(WRONG_KINDS)}")
    drawn = spec
    if kind in ("g_half", "g_double"):
        drawn = spec.model_copy(update={"g_mps2": spec.g_mps2 * (0.5 if kind == "g_half" else 2.0)})
    elif kind == "constant_velocity":
        truth0 = ground_truth(spec)
        objs = []
        for j, o in enumerate(spec.objects):
            vy = (truth0.position_m[-1, j, 1] - o.y0_m) / max(spec.t_end_s, 1e-9)
            objs.append(o.model_copy(update={"motion": Motion.UNIFORM, "vy_mps": float(vy)})
                        if o.motion in (Motion.FREEFALL, Motion.PROJECTILE) and vy != 0 else o)
        drawn = spec.model_copy(update={"objects": tuple(objs)})
    truth = ground_truth(drawn)
    pos = truth.position_px.copy()
    size = np.broadcast_to(truth.size_px[None, :], pos.shape[:2]).copy()
    vis = truth.in_view_fraction > 0.0
    half = spec.frames // 2
    if kind == "teleport":
        # Jump sideways towards the middle of the view, so the object stays in view.
        direction = np.where(pos[half, :, 0] < spec.width / 2, 1.0, -1.0)
        pos[half:, :, 0] += direction[None, :] * TELEPORT_SHARE * spec.width
    elif kind == "vanish":
        vis[half:] = False
    elif kind == "grow":
        size *= np.linspace(1.0, GROWTH, spec.frames)[:, None]
    if kind in ("teleport", "vanish", "grow"):
        frames = draw_scene(spec, seed, pos, size, vis)
    else:
        frames = render(drawn, seed).clip.frames
    metadata = {"prompt": spec.prompt, "seed": int(seed), "scene": spec.to_json_dict(),
                "generator": "world-wrong", "wrong_kind": kind}
    return WrongClip(clip=Clip(frames, spec.fps, metadata), scene=spec, kind=kind,
                     probe=WRONG_KINDS[kind], positions_px=pos, sizes_px=size, visible=vis,
                     truth=truth)
