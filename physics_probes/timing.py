"""Frame times from a container's time stamps, and whether the frame rate is variable.

A fit of height against time needs each frame's real time. Constant-frame-rate files give
``i / fps``; a variable-frame-rate file (phones, screen recorders) does not, and fitting it as if
frames were evenly spaced bends a parabola. :func:`frame_times` reads the video packets' time
stamps (demuxing only, nothing is decoded), sorts them into display order and reports:

* ``times_s``: ``(T,)`` seconds from the first frame, or None when the stamps are unusable;
* ``vfr``: whether the frame intervals vary by more than :data:`VFR_SPREAD` of their median;
* ``note``: a sentence for the probe's output when something is off.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["frame_times", "VFR_SPREAD"]

log = logging.getLogger(__name__)

#: Frame intervals differing from their median by more than this share mean a variable rate.
VFR_SPREAD = 0.1


def frame_times(path: str | Path) -> dict[str, Any]:
    """Display times of the video frames of ``path`` from the container's packet stamps."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            base = stream.time_base
            stamps = [p.pts for p in container.demux(stream) if p.pts is not None and p.size]
    except Exception as exc:  # noqa: BLE001 - timing is best effort; decoding reports errors
        log.debug("no time stamps in %s: %s", path, exc)
        return {"times_s": None, "vfr": False, "note": "no time stamps; frames taken as evenly "
                                                      "spaced at the header's rate"}
    if base is None or len(stamps) < 2:
        return {"times_s": None, "vfr": False, "note": "no usable time stamps; frames taken as "
                                                      "evenly spaced"}
    t = np.sort(np.asarray(stamps, dtype=np.float64)) * float(base)
    t -= t[0]
    dt = np.diff(t)
    if np.any(dt <= 0):
        return {"times_s": None, "vfr": False,
                "note": "repeated time stamps; frames taken as evenly spaced"}
    med = float(np.median(dt))
    spread = float(np.max(np.abs(dt - med)) / med)
    vfr = spread > VFR_SPREAD
    note = (f"variable frame rate (intervals {dt.min() * 1e3:.1f}-{dt.max() * 1e3:.1f} ms): "
            "fitted on the container's time stamps") if vfr else ""
    return {"times_s": t, "vfr": vfr, "note": note, "median_interval_s": med}
