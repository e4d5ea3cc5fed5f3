"""A motion probe's trajectory drawn on the clip, as a PNG (``evalkit probe --plot-dir``).

Left: the frame in the middle of the measured flight with the measured object's box in every
frame it was seen (older boxes fainter) and the fitted curve. Right: height against time, the
measured points and the fitted parabola, with the verdict and g. Drawn with OpenCV only (no
plotting library). Boxes are in each frame's own pixels; points and curve are in the first
frame's view, which is the same thing for a still camera; on a moving camera the red line is
the path of the boxes' centres instead of the fitted curve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["draw_probe", "save_probe_plot"]

_PANEL_W = 360
_MARGIN = 36


def _panel(result: Any, height: int) -> np.ndarray:
    """The ``y(t)`` chart: ``(height, _PANEL_W, 3)`` uint8 RGB."""
    img = np.full((height, _PANEL_W, 3), 255, np.uint8)
    plot = result.plot
    t = np.asarray(plot.get("points_t_s", []), dtype=np.float64)
    y = np.asarray(plot.get("points_y_px", []), dtype=np.float64)
    ft = np.asarray(plot.get("fit_t_s", []), dtype=np.float64)
    fy = np.asarray(plot.get("fit_y_px", []), dtype=np.float64)
    m = result.measured
    lines = [f"{result.probe}: {result.status}"]
    if m.get("g_px_s2") is not None:
        lines.append(f"g = {m['g_px_s2']:.4g} px/s^2")
    if m.get("g_m_s2") is not None:
        lines.append(f"g = {m['g_m_s2']:.3g} m/s^2 ({m.get('scale_from', '')} scale)")
    elif "note" in m:
        lines.append("g in m/s^2 not measurable (no scale)")
    if m.get("max_restitution") is not None:
        lines.append(f"restitution {m['max_restitution']:.2f} at {m.get('n_contacts', 0)} "
                     "contact(s)")
    if m.get("chosen_by"):
        lines.append(f"object chosen by {m['chosen_by']} (green boxes)")
    top = 40 + 20 * len(lines)
    x0, x1, y0, y1 = _MARGIN + 10, _PANEL_W - 12, top, height - _MARGIN
    cv2.rectangle(img, (x0, y0), (x1, y1), (120, 120, 120), 1)
    if t.size and y1 - y0 > 20:
        tt, yy = np.concatenate([t, ft]), np.concatenate([y, fy])
        t_lo, t_hi = float(tt.min()), float(tt.max()) or 1.0
        y_lo, y_hi = float(yy.min()), float(yy.max())
        span_t, span_y = max(t_hi - t_lo, 1e-6), max(y_hi - y_lo, 1e-6)

        def to_px(ts: np.ndarray, ys: np.ndarray) -> np.ndarray:
            px = x0 + (ts - t_lo) / span_t * (x1 - x0)
            py = y0 + (ys - y_lo) / span_y * (y1 - y0)  # image y: down is down
            return np.stack([px, py], axis=1).round().astype(np.int32)

        if ft.size:
            cv2.polylines(img, [to_px(ft, fy)], False, (200, 30, 30), 2, cv2.LINE_AA)
        for px, py in to_px(t, y):
            cv2.circle(img, (int(px), int(py)), 3, (20, 20, 160), -1, cv2.LINE_AA)
        cv2.putText(img, f"t {t_lo:.2f}-{t_hi:.2f} s", (x0, y1 + 16), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (60, 60, 60), 1, cv2.LINE_AA)
        cv2.putText(img, f"y {y_lo:.0f}-{y_hi:.0f} px (down)", (x0, y0 - 6),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
    for i, line in enumerate(lines):
        cv2.putText(img, line, (10, 22 + 20 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return img


def draw_probe(frame: np.ndarray, result: Any, scale: float = 1.0) -> np.ndarray:
    """``frame`` (uint8 RGB, the clip's frame resized by ``scale``) with the measured object's
    boxes and the fitted curve, beside the ``y(t)`` chart; returns uint8 RGB."""
    img = frame.copy()
    plot = result.plot
    boxes = scale * np.asarray(plot.get("object_boxes_px", []), dtype=np.float64).reshape(-1, 4)
    n = len(boxes)
    for i, b in enumerate(boxes):
        shade = 0.35 + 0.65 * (i + 1) / max(n, 1)
        colour = tuple(int(v * shade) for v in (0, 255, 80))
        cv2.rectangle(img, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), colour, 1,
                      cv2.LINE_AA)
    t = np.asarray(plot.get("points_t_s", []), dtype=np.float64)
    x = np.asarray(plot.get("points_x_px", []), dtype=np.float64)
    ft = np.asarray(plot.get("fit_t_s", []), dtype=np.float64)
    fy = np.asarray(plot.get("fit_y_px", []), dtype=np.float64)
    moving = bool(result.measured.get("moving_camera"))
    if moving and len(boxes) >= 2:
        # The fit lives in the first frame's view; on a moving camera draw the path of the
        # boxes (each in its own frame's pixels) instead.
        centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)
        cv2.polylines(img, [centres.round().astype(np.int32)], False, (255, 40, 40), 2,
                      cv2.LINE_AA)
    elif ft.size and t.size >= 2 and x.size == t.size:
        fx = np.asarray(plot["fit_x_px"]) if "fit_x_px" in plot else np.interp(ft, t, x)
        pts = (scale * np.stack([fx, fy], axis=1)).round().astype(np.int32)
        cv2.polylines(img, [pts], False, (255, 40, 40), 2, cv2.LINE_AA)
    panel = _panel(result, img.shape[0])
    if panel.shape[0] != img.shape[0]:
        panel = cv2.resize(panel, (_PANEL_W, img.shape[0]))
    return np.concatenate([img, panel], axis=1)


def save_probe_plot(path: str | Path, result: Any, out_dir: str | Path,
                    start_frame: int = 0) -> Path:
    """Draw ``result`` on the middle frame of its measured object in video ``path`` and write
    ``out_dir/<stem>_<probe>.png``; returns the PNG's path."""
    from evalkit.video import iter_video_frames

    frames = np.asarray(result.plot.get("object_frames", [0]), dtype=np.int64)
    middle = int(frames[len(frames) // 2]) if frames.size else 0
    frame = next(iter_video_frames(path, start_frame=start_frame + middle, first_frames=1))
    scale = 1.0
    if max(frame.shape[:2]) > 720:  # keep the PNG small; boxes scale with it
        scale = 720 / max(frame.shape[:2])
        frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{Path(path).stem}_{result.probe}.png"
    cv2.imwrite(str(target), cv2.cvtColor(draw_probe(frame, result, scale), cv2.COLOR_RGB2BGR))
    return target
