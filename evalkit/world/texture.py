"""Backgrounds: a plain colour, or smooth seeded value noise around it.

The texture is two octaves of value noise (Gaussian values on a coarse lattice, blended with
smoothstep weights) laid over the view in view fractions, so the same seed gives the same pattern
at any resolution. Each channel is a shared luminance field plus a weaker per-channel field
(a little colour variation), normalised to unit standard deviation, clipped at
``±TEXTURE_CLIP_SIGMA`` and scaled by ``texture_strength * 255``. A background pixel therefore
stays within ``2 * texture_strength * 255`` grey levels of the base colour on every channel.

Interpolation is separable and gathers just the two neighbouring lattice values per axis (cached
taps, float32, no BLAS), so a texture costs tens of microseconds at 64 x 64.
"""

from __future__ import annotations

import functools

import numpy as np

from evalkit.world.palette import BACKGROUND_PALETTE
from evalkit.world.scene import Background

__all__ = ["background_image", "TEXTURE_OCTAVES"]

#: (lattice cells across the view, relative amplitude) per octave.
TEXTURE_OCTAVES: tuple[tuple[int, float], ...] = ((4, 1.0), (9, 0.5))
#: Share of variance that differs per channel (the rest is shared luminance).
CHROMA_VARIANCE = 0.2
TEXTURE_CLIP_SIGMA = 2.0


@functools.lru_cache(maxsize=64)
def _smoothstep_taps(n: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Lattice index ``i`` (``(n,)`` int) and weight ``w`` (``(n,)`` float32) per pixel centre.

    Pixel value = ``(1 - w) * lattice[i] + w * lattice[i + 1]``. Cached (read-only): the same
    few sizes recur for every clip.
    """
    u = (np.arange(n) + 0.5) / n * cells
    i = np.minimum(np.floor(u).astype(np.int64), cells - 1)
    f = u - i
    w = (f * f * (3.0 - 2.0 * f)).astype(np.float32)
    i.flags.writeable = False
    w.flags.writeable = False
    return i, w


def _axis_variance() -> float:
    """Mean over a cell of ``(1 - w)^2 + w^2``: the variance factor one axis of blending gives."""
    f = (np.arange(4096) + 0.5) / 4096
    w = f * f * (3.0 - 2.0 * f)
    return float(np.mean((1.0 - w) ** 2 + w**2))


# Expected variance of the summed octaves, to normalise the field to unit standard deviation.
_FIELD_STD = float(np.sqrt(_axis_variance() ** 2 * sum(a * a for _, a in TEXTURE_OCTAVES)))


def background_image(background: Background, height: int, width: int,
                     rng: np.random.Generator) -> np.ndarray:
    """The background as ``(H, W, 3)`` float32 in ``[0, 255]``.

    ``rng`` is only drawn from for a textured background.
    """
    base = np.asarray(BACKGROUND_PALETTE[background.colour], dtype=np.float32)
    if background.kind == "plain" or background.texture_strength == 0:
        return np.broadcast_to(base, (height, width, 3)).copy()
    field = np.zeros((4, height, width), dtype=np.float32)  # luminance + 3 chroma fields
    for cells, amplitude in TEXTURE_OCTAVES:
        lattice = rng.standard_normal((4, cells + 1, cells + 1), dtype=np.float32)
        iy, wy = _smoothstep_taps(height, cells)
        ix, wx = _smoothstep_taps(width, cells)
        # Separable blend that gathers the two neighbouring lattice taps (no BLAS, O(H * W)):
        # along x on the small lattice first, then along y, which copies whole rows.
        cols = lattice[:, :, ix] + wx * (lattice[:, :, ix + 1] - lattice[:, :, ix])  # (4, L, W)
        top, below = cols[:, iy], cols[:, iy + 1]  # (4, H, W) each
        below -= top
        below *= wy[None, :, None]
        top += below
        field += np.float32(amplitude) * top
    field /= np.float32(_FIELD_STD)
    rgb = (np.float32(np.sqrt(1.0 - CHROMA_VARIANCE)) * field[:1]
           + np.float32(np.sqrt(CHROMA_VARIANCE)) * field[1:]).transpose(1, 2, 0)
    rgb = np.clip(rgb, -TEXTURE_CLIP_SIGMA, TEXTURE_CLIP_SIGMA)
    img = base + np.float32(background.texture_strength * 255.0) * rgb
    return np.ascontiguousarray(np.clip(img, 0.0, 255.0), dtype=np.float32)
