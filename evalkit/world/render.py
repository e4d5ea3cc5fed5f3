"""Rendering: a :class:`SceneSpec` plus a seed becomes a :class:`~evalkit.clip.Clip` and its truth.

Pipeline for ``(T, H, W, 3)`` uint8 frames:

1. background (plain or seeded texture, :mod:`evalkit.world.texture`), rounded once to uint8 and
   copied to every frame;
2. each object in list order, alpha-blended with analytic antialiased coverage
   (:mod:`evalkit.world.geometry`) over a small per-frame window around it: the windows of all
   ``T`` frames are gathered through one strided view with one fancy index, blended in float32
   and written back, so cost scales with the object's size, not the frame size;
3. the occluder (static, exact box coverage) on top: its interior is a plain assignment, only
   its antialiased border pixels are blended;
4. optional Gaussian sensor noise.

Blending works on uint8 values (gather -> float32 -> blend -> round), which keeps full-frame work
to a single memcpy when there is no noise. All randomness comes from ``seed`` through independent
streams (texture, noise), so the same spec and seed give identical bytes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.lib.stride_tricks import as_strided

from evalkit.clip import Clip
from evalkit.world.geometry import axis_coverage, disc_coverage
from evalkit.world.palette import OCCLUDER_PALETTE, PALETTE
from evalkit.world.scene import SceneSpec
from evalkit.world.texture import background_image
from evalkit.world.truth import GroundTruth, ground_truth

__all__ = ["RenderedScene", "render", "render_frames", "GENERATOR_NAME"]

GENERATOR_NAME = "world"
# Sub-streams of the seed: adding a stream never changes the others' numbers.
_STREAM_TEXTURE = 1
_STREAM_NOISE = 2


@dataclasses.dataclass(frozen=True, eq=False)
class RenderedScene:
    """A rendered scene.

    Attributes:
        clip: frames ``(T, H, W, 3)`` uint8 with metadata ``prompt``, ``seed``, ``scene`` (the spec
            as a JSON-able dict) and ``generator`` (``"world"``).
        truth: exact :class:`~evalkit.world.truth.GroundTruth`.
        spec: the spec it was rendered from.
    """

    clip: Clip
    truth: GroundTruth
    spec: SceneSpec


def render(spec: SceneSpec, seed: int = 0) -> RenderedScene:
    """Render ``spec`` with ``seed`` (a non-negative int) to a clip plus ground truth."""
    truth = ground_truth(spec)
    frames = render_frames(spec, seed, truth)
    metadata = {"prompt": spec.prompt, "seed": int(seed), "scene": spec.to_json_dict(),
                "generator": GENERATOR_NAME}
    return RenderedScene(Clip(frames, spec.fps, metadata), truth, spec)


def render_frames(spec: SceneSpec, seed: int = 0, truth: GroundTruth | None = None) -> np.ndarray:
    """Frames only: ``(T, H, W, 3)`` uint8. ``truth`` may be passed to avoid recomputing it."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    truth = ground_truth(spec) if truth is None else truth
    t, h, w = spec.frames, spec.height, spec.width
    texture_rng = np.random.default_rng([int(seed), _STREAM_TEXTURE])
    bg = background_image(spec.background, h, w, texture_rng)
    frames = np.empty((t, h, w, 3), dtype=np.uint8)
    frames[:] = _round_u8(bg)
    for j, obj in enumerate(spec.objects):
        _draw_object(frames, truth.position_px[:, j], float(truth.size_px[j]), obj.shape,
                     PALETTE[obj.colour])
    if spec.occluder is not None:
        _draw_occluder(frames, spec)
    if spec.noise_std > 0:
        rng = np.random.default_rng([int(seed), _STREAM_NOISE])
        noisy = frames.astype(np.float32)
        noisy += rng.standard_normal(noisy.shape, dtype=np.float32) * np.float32(spec.noise_std)
        frames = _round_u8(np.clip(noisy, 0.0, 255.0, out=noisy))
    return frames


def _round_u8(x: np.ndarray) -> np.ndarray:
    """Round values already in ``[0, 255]`` half-up to uint8 (one pass, no clip needed)."""
    return (x + np.float32(0.5)).astype(np.uint8)


def _draw_object(frames: np.ndarray, centre_px: np.ndarray, size_px: float, shape: str,
                 colour: tuple[int, int, int]) -> None:
    """Blend one object into ``frames`` in place. ``centre_px``: ``(T, 2)``."""
    t, h, w, _ = frames.shape
    cx, cy = centre_px[:, 0], centre_px[:, 1]
    if shape == "ball":
        reach = size_px + 1.0  # alpha is zero beyond r + 0.5 from the centre
        nx, ny = (min(n, int(np.ceil(2 * reach)) + 1) for n in (w, h))
        x0 = _window_start(cx - reach, nx, w)
        y0 = _window_start(cy - reach, ny, h)
        alpha = disc_coverage(cx, cy, size_px, x0, y0, nx, ny)
    else:
        nx, ny = (min(n, int(np.ceil(2 * size_px)) + 1) for n in (w, h))
        x0 = _window_start(cx - size_px, nx, w)
        y0 = _window_start(cy - size_px, ny, h)
        alpha = (axis_coverage(cy, size_px, y0, ny)[:, :, None]
                 * axis_coverage(cx, size_px, x0, nx)[:, None, :])
    if not alpha.any():  # entirely out of view in every frame
        return
    windows = _window_view(frames, ny, nx)
    index = (np.arange(t), y0, x0)
    window = windows[index].astype(np.float32)  # (T, ny, nx, 3)
    window += alpha[..., None] * (np.asarray(colour, dtype=np.float32) - window)
    windows[index] = _round_u8(window)


def _window_view(frames: np.ndarray, ny: int, nx: int) -> np.ndarray:
    """Writable view ``(T, H - ny + 1, W - nx + 1, ny, nx, 3)``: element ``[t, y, x]`` is the
    ``ny x nx`` window of frame ``t`` whose top-left pixel is ``(y, x)``.

    Windows overlap in memory, but we only ever index one window per frame, so a write through
    the view touches each pixel once.
    """
    t, h, w, c = frames.shape
    st = frames.strides
    return as_strided(frames, (t, h - ny + 1, w - nx + 1, ny, nx, c),
                      (st[0], st[1], st[2], st[1], st[2], st[3]), writeable=True)


def _window_start(lo: np.ndarray, n: int, limit: int) -> np.ndarray:
    """First pixel of a length-``n`` window starting at or before ``lo``, kept inside the frame.

    Clamping keeps every index valid; the part of the object the window then misses lies outside
    the frame anyway.
    """
    return np.clip(np.floor(lo), 0, limit - n).astype(np.int64)


def _draw_occluder(frames: np.ndarray, spec: SceneSpec) -> None:
    """Blend the occluder bar (same in every frame) into ``frames`` in place."""
    occ = spec.occluder
    assert occ is not None
    _, h, w, _ = frames.shape
    ppm = spec.pixels_per_metre
    top, bottom = occ.span_m(spec.view_height_m)
    cx, half_w = occ.x_m * ppm, occ.width_m * ppm / 2
    cy, half_h = (top + bottom) * ppm / 2, (bottom - top) * ppm / 2
    c0, c1 = max(0, int(np.floor(cx - half_w))), min(w, int(np.ceil(cx + half_w)))
    r0, r1 = max(0, int(np.floor(cy - half_h))), min(h, int(np.ceil(cy + half_h)))
    if c1 <= c0 or r1 <= r0:
        return
    ax = axis_coverage(np.array([cx]), half_w, np.array([c0]), c1 - c0)[0]
    ay = axis_coverage(np.array([cy]), half_h, np.array([r0]), r1 - r0)[0]
    colour = np.asarray(OCCLUDER_PALETTE[occ.colour], dtype=np.float32)
    # Fully covered interior: plain assignment; partial border rows/columns: blend.
    ci0, ci1 = c0 + int(ax[0] < 1), c1 - int(ax[-1] < 1)
    ri0, ri1 = r0 + int(ay[0] < 1), r1 - int(ay[-1] < 1)
    if ci1 <= ci0 or ri1 <= ri0:  # thinner than a pixel somewhere: blend it all
        _blend(frames, (r0, r1), (c0, c1), ay, ax, colour)
        return
    # A contiguous block copies much faster than broadcasting a 3-vector over the frames.
    frames[:, ri0:ri1, ci0:ci1] = np.full((ri1 - ri0, ci1 - ci0, 3), colour, dtype=np.uint8)
    for rows, cols in (((r0, r1), (c0, ci0)), ((r0, r1), (ci1, c1)),
                       ((r0, ri0), (ci0, ci1)), ((ri1, r1), (ci0, ci1))):
        if rows[1] > rows[0] and cols[1] > cols[0]:
            _blend(frames, rows, cols, ay[rows[0] - r0: rows[1] - r0],
                   ax[cols[0] - c0: cols[1] - c0], colour)


def _blend(frames: np.ndarray, rows: tuple[int, int], cols: tuple[int, int], ay: np.ndarray,
           ax: np.ndarray, colour: np.ndarray) -> None:
    """Blend ``colour`` with separable alpha ``ay[:, None] * ax[None, :]`` into a static block."""
    alpha = (ay[:, None] * ax[None, :])[None, :, :, None]
    block = frames[:, rows[0]:rows[1], cols[0]:cols[1]].astype(np.float32)
    block += alpha * (colour - block)
    frames[:, rows[0]:rows[1], cols[0]:cols[1]] = _round_u8(block)
