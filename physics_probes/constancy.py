"""The ``constancy`` probe: an object keeps its size and colour.

For every significant object track, over the sightings where the object is wholly in view and
unoccluded, it measures the coefficient of variation of the area (``size_cv``: standard
deviation / mean) and of the colour (``colour_cv``: RMS distance from the mean colour / the mean
colour's norm), and the growth (last / first area of a straight-line fit through the areas).
The probe passes when every object's ``size_cv`` and ``colour_cv`` are within the tolerances.
On camera footage, size is the smaller side of the object's box (motion blur lengthens a mask
only along the motion) and colour its chromaticity (lighting changes scale all channels).
"""

from __future__ import annotations

import numpy as np

from physics_probes.analysis import ClipAnalysis
from physics_probes.result import FAIL, INCONCLUSIVE, NO_OBJECT, PASS, ProbeResult

__all__ = ["probe_constancy", "MIN_SIGHTINGS"]

#: Sightings needed to judge an object.
MIN_SIGHTINGS = 3


def probe_constancy(analysis: ClipAnalysis, max_size_cv: float = 0.1,
                    max_colour_cv: float = 0.1) -> ProbeResult:
    """Size and colour stability of each object."""
    per_object = []
    for tr in analysis.steady_objects():
        ok = analysis.clean(tr)
        if ok.sum() < MIN_SIGHTINGS:
            continue
        area, colour, frames = tr.area[ok], tr.colour[ok], tr.frames[ok]
        if analysis.source == "footage":
            # Motion blur lengthens a mask along the motion and lighting scales its colour:
            # judge size by the smaller box side (squared, to stay an area) and colour by its
            # chromaticity (RGB over its sum, scaled back to 0-255 levels).
            b = tr.bbox[ok]
            side = np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
            area = side * side
            colour = 255.0 * colour / np.maximum(colour.sum(axis=1, keepdims=True), 1e-6)
        mean_colour = colour.mean(axis=0)
        size_cv = float(area.std() / max(area.mean(), 1e-9))
        colour_cv = float(np.sqrt(((colour - mean_colour) ** 2).sum(axis=1).mean())
                          / max(np.linalg.norm(mean_colour), 1e-9))
        slope, icpt = np.polyfit(frames.astype(np.float64), area, 1)
        first, last = icpt + slope * frames[0], icpt + slope * frames[-1]
        growth = float(last / first) if first > 0 else float("inf")
        per_object.append((tr.track_id, size_cv, colour_cv, growth, float(area.mean())))
    if not per_object and analysis.source == "footage" and not analysis.named_ids:
        from physics_probes.permanence import FOOTAGE_UNNAMED

        return ProbeResult("constancy", INCONCLUSIVE, FOOTAGE_UNNAMED, error_key="size_cv")
    if not per_object:
        return ProbeResult("constancy", NO_OBJECT, "no object wholly in view in "
                           f"{MIN_SIGHTINGS} frames", error_key="size_cv")
    ids, size_cv, colour_cv, growth, mean_area = map(np.asarray, zip(*per_object))
    worst = int(np.argmax(size_cv / max_size_cv + colour_cv / max_colour_cv))
    measured = {"size_cv": float(size_cv.max()), "colour_cv": float(colour_cv.max()),
                "growth": float(growth[worst]), "n_objects": len(per_object),
                "per_object_size_cv": size_cv, "per_object_colour_cv": colour_cv,
                "per_object_area_px": mean_area, "track_ids": ids}
    problems = []
    if size_cv.max() > max_size_cv:
        k = int(np.argmax(size_cv))
        problems.append(f"object {ids[k]} changes size (CV {size_cv[k]:.2f}, area x{growth[k]:.2f})")
    if colour_cv.max() > max_colour_cv:
        k = int(np.argmax(colour_cv))
        problems.append(f"object {ids[k]} changes colour (CV {colour_cv[k]:.2f})")
    return ProbeResult("constancy", FAIL if problems else PASS, "; ".join(problems), measured,
                       {"size_cv": 0.0, "colour_cv": 0.0}, {}, error_key="size_cv")
