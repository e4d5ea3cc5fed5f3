"""Frame times from a container's time stamps, and whether the frame rate is variable
(:func:`evalkit.video.frame_times`, which the runner also uses, re-exported for the probes).

A fit of height against time needs each frame's real time. Constant-frame-rate files give
``i / fps``; a variable-frame-rate file (phones, screen recorders) does not, and fitting it as if
frames were evenly spaced bends a parabola. :func:`frame_times` reads the video packets' time
stamps (demuxing only, nothing is decoded), sorts them into display order and reports:

* ``times_s``: ``(T,)`` seconds from the first frame, or None when the stamps are unusable;
* ``vfr``: whether the frame intervals vary by more than :data:`VFR_SPREAD` of their median;
* ``note``: a sentence for the probe's output when something is off.
"""

from __future__ import annotations

from evalkit.video import VFR_SPREAD, frame_times

__all__ = ["frame_times", "VFR_SPREAD"]
