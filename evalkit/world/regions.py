"""The 3x3 grid of named view regions used by prompts ("falls from the upper left").

A region is one cell of the view cut into thirds both ways, named row-major from the top-left:
``upper left, top, upper right, left, center, right, lower left, bottom, lower right``. Regions
are defined in view fractions, so they mean the same thing at every resolution.
"""

from __future__ import annotations

__all__ = ["REGIONS", "region_of", "region_cell", "region_bounds"]

#: Region names, row-major (row 0 is the top of the view, column 0 the left).
REGIONS: tuple[str, ...] = (
    "upper left", "top", "upper right",
    "left", "center", "right",
    "lower left", "bottom", "lower right",
)  # fmt: skip

GRID = 3


def region_cell(region: str) -> tuple[int, int]:
    """``(row, col)`` of a region name; raises ``ValueError`` for an unknown name."""
    try:
        index = REGIONS.index(region)
    except ValueError:
        raise ValueError(f"unknown region {region!r}; choose from {REGIONS}") from None
    return divmod(index, GRID)


def region_of(x: float, y: float, width: float, height: float) -> str:
    """Name of the region holding point ``(x, y)`` in a ``width x height`` view (any one unit).

    Points outside the view count in the nearest edge cell.
    """
    col = min(GRID - 1, max(0, int(x / width * GRID)))
    row = min(GRID - 1, max(0, int(y / height * GRID)))
    return REGIONS[row * GRID + col]


def region_bounds(region: str, width: float, height: float) -> tuple[float, float, float, float]:
    """``(x_min, x_max, y_min, y_max)`` of a region's cell in a ``width x height`` view."""
    row, col = region_cell(region)
    return (col * width / GRID, (col + 1) * width / GRID,
            row * height / GRID, (row + 1) * height / GRID)  # fmt: skip
