"""One analysis of one video file, in the response shape that ``evalkit detect`` and the API share.

:func:`analyse_file` weighs three kinds of evidence and says which one decided the label:

1. **C2PA Content Credentials** (:mod:`evalkit.content_credentials`): a manifest that validates
   (``valid`` or ``trusted``) and declares ``digitalSourceType`` trainedAlgorithmicMedia (or a
   composite with it) decides ``ai_generated``. A manifest that claims a camera capture decides
   nothing: anyone can sign such a claim with their own certificate, so the classifier still
   looks at the pixels.
2. **The evalkit watermark** (:mod:`evalkit.provenance`), which survives re-encoding where C2PA
   does not: detected (p < 1e-3) decides ``ai_generated``.
3. **The classifier** (:class:`~detectors.probe.ProbeDetector` or
   :class:`~detectors.detector.Detector`): its calibrated probability and the two thresholds.

The response (``status`` ``completed``)::

    {"status": "completed", "reason": null, "model_version": ..., "label": ...,
     "decided_by": "c2pa" | "watermark" | "classifier",
     "ai_generated_probability": <classifier's calibrated probability>,
     "thresholds": {...}, "segments": [{"start_s", "end_s", "probability"}],
     "evidence": {"c2pa": {...}, "watermark": {...}, "classifier": {...}},
     "video": {"frames", "fps", "width", "height", "duration_s", "codec", "format"}}

A file that cannot be evaluated (not a video, corrupt, over a limit) gives
:func:`unable_to_evaluate`'s shape instead: ``{"status": "unable_to_evaluate", "reason": ...}``.

Work is bounded before any frame is decoded (:func:`check_video`): frame size, frame count,
duration, and decoded pixels (frames × width × height, the work a decoder must do whatever it
keeps), from the header alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Limits", "STATUSES", "analyse_file", "check_video", "unable_to_evaluate", "MARK_FRAMES"]

#: ``status`` values of a response.
STATUSES = ("completed", "unable_to_evaluate")
#: Frames read for the watermark test (the reference generator's clips are 16 frames).
MARK_FRAMES = 64


@dataclass(frozen=True)
class Limits:
    """What one analysis may cost; None = no limit. ``max_decoded_pixels`` bounds
    frames × width × height from the header (a 2880×2880 GIF of 1-pixel frames is cheap to
    send and expensive to decode)."""

    max_frames: int | None = None
    max_duration_s: float | None = None
    max_pixels: int | None = None
    max_decoded_pixels: float | None = None

    def decode_limits(self) -> dict[str, Any]:
        return {"max_frames": self.max_frames, "max_duration_s": self.max_duration_s,
                "max_pixels": self.max_pixels}


def check_video(path: str | Path, limits: Limits) -> Any:
    """The file's :class:`~evalkit.video.VideoInfo`, after refusing from the header alone
    whatever is over a limit.

    Raises:
        VideoReadError: not a video, no video stream, or over a limit (the reason says which).
    """
    from evalkit.video import VideoReadError, check_header_limits, probe_video

    info = probe_video(path)
    check_header_limits(info, max_frames=limits.max_frames, max_pixels=limits.max_pixels,
                        max_duration_s=limits.max_duration_s)
    pixels = info.width * info.height
    decoded = float(info.num_frames) * pixels
    if limits.max_decoded_pixels is not None and decoded > limits.max_decoded_pixels:
        raise VideoReadError(info.path, f"{info.num_frames} frames of {info.width}x{info.height} = "
                                        f"{decoded:.3g} decoded pixels, over the limit "
                                        f"max_decoded_pixels={limits.max_decoded_pixels:.3g}")
    return info


def unable_to_evaluate(reason: str, **extra: Any) -> dict[str, Any]:
    """The response for a file that cannot be evaluated."""
    return {**extra, "status": "unable_to_evaluate", "reason": reason}


def _decide(c2pa: dict[str, Any], watermark: dict[str, Any], classifier_label: str) -> tuple[str, str]:
    if c2pa.get("declares_ai"):
        return "ai_generated", "c2pa"
    if watermark.get("detected"):
        return "ai_generated", "watermark"
    return classifier_label, "classifier"


def analyse_file(path: str | Path, detector: Any, *, thresholds: dict[str, float] | None = None,
                 limits: Limits | None = None, info: Any = None,
                 trust_anchors: str | None = None) -> dict[str, Any]:
    """Analyse one video file (module docstring). ``info``: the :func:`check_video` result when
    the caller already has it; ``thresholds``: default the detector's own.

    Raises:
        VideoReadError: the file cannot be decoded or is over a limit.
    """
    from evalkit.content_credentials import read_content_credentials
    from evalkit.provenance import read_marks
    from evalkit.video import VideoReadError

    limits = limits or Limits()
    path = Path(path)
    t0 = time.perf_counter()
    info = info if info is not None else check_video(path, limits)
    thresholds = dict(thresholds or detector.thresholds)
    c2pa = read_content_credentials(path, container_format=info.format, trust_anchors=trust_anchors)
    t_c2pa = time.perf_counter()
    # The classifier streams windows over the whole duration, one decoded frame at a time.
    try:
        pred = detector.predict_file(path, **limits.decode_limits())
    except ValueError as exc:
        if "no frames" not in str(exc):
            raise
        # The header promised frames the windows never got (a stream that ends early).
        raise VideoReadError(path, "no decodable frames where the header says they are "
                                   "(truncated or corrupt?)") from exc
    t_det = time.perf_counter()
    # Frame and duration limits were checked by the classifier's pass over the whole clip.
    marks = read_marks(path, max_frames=MARK_FRAMES, max_pixels=limits.max_pixels)
    t_mark = time.perf_counter()
    wm = marks["watermark"]
    classifier_label = pred.label(thresholds)
    label, decided_by = _decide(c2pa, wm, classifier_label)
    return {
        "status": "completed",
        "reason": None,
        "model_version": detector.version,
        "label": label,
        "decided_by": decided_by,
        "ai_generated_probability": pred.probability,
        "thresholds": thresholds,
        "segments": [{"start_s": s.start_s, "end_s": s.end_s, "probability": s.probability}
                     for s in pred.segments],
        "evidence": {
            "c2pa": c2pa,
            "watermark": {"detected": wm["detected"], "p_value": wm["p_value"],
                          "payload": wm["payload_hex"] if wm["detected"] else None,
                          "score": wm["score"], "scheme": wm["scheme"]},
            "classifier": {"model_version": detector.version, "probability": pred.probability,
                           "label": classifier_label, "logits": dict(pred.logits)},
        },
        "video": {"frames": info.num_frames, "analysed_windows": len(pred.segments),
                  "fps": info.fps, "width": info.width, "height": info.height,
                  "duration_s": info.duration_s, "codec": info.codec, "format": info.format},
        "timing": {"c2pa_s": round(t_c2pa - t0, 4), "classifier_s": round(t_det - t_c2pa, 4),
                   "watermark_s": round(t_mark - t_det, 4), "total_s": round(t_mark - t0, 4)},
    }
