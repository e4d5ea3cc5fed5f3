"""Named colours of the physics world: objects, backgrounds and occluders.

Three disjoint name sets, so that a colour word in a prompt says by itself which kind of thing it
names (``red`` is always an object, ``beige`` always a background, ``brown`` always a wall). The
object colours are saturated or bright; the background colours are muted, so every object colour
lies at least :data:`MIN_OBJECT_BACKGROUND_DISTANCE` (Euclidean, 0..255 RGB) from every background
colour. A colour-based tracker can therefore segment objects from any background, textured ones
included (the texture moves a pixel by at most ``2 * texture_strength * 255`` per channel, see
:mod:`evalkit.world.texture`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "PALETTE",
    "BACKGROUND_PALETTE",
    "OCCLUDER_PALETTE",
    "MIN_OBJECT_BACKGROUND_DISTANCE",
    "colour_distance",
]

RGB = tuple[int, int, int]

#: Object colours (RGB, 0..255). Pairwise distance >= 80, so objects are told apart by colour.
PALETTE: dict[str, RGB] = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 80, 230),
    "yellow": (240, 220, 40),
    "orange": (250, 140, 20),
    "purple": (140, 50, 200),
    "cyan": (30, 220, 230),
    "white": (250, 250, 250),
    "magenta": (235, 50, 170),
}

#: Background base colours: muted, far from every object colour.
BACKGROUND_PALETTE: dict[str, RGB] = {
    "gray": (120, 120, 120),
    "dark": (35, 35, 45),
    "beige": (190, 175, 150),
    "sky": (125, 150, 180),
}

#: Occluder (wall) colours: dull, far from every object colour.
OCCLUDER_PALETTE: dict[str, RGB] = {
    "gray": (165, 165, 165),
    "brown": (110, 70, 40),
    "black": (15, 15, 15),
}

#: Guaranteed minimum RGB distance between any object and any background base colour (tested).
MIN_OBJECT_BACKGROUND_DISTANCE = 100.0


def colour_distance(a: RGB, b: RGB) -> float:
    """Euclidean distance between two RGB triples in 0..255 units."""
    return float(np.linalg.norm(np.subtract(a, b, dtype=np.float64)))
