"""The moderation API (FastAPI): upload a video, get P(AI-generated), a label and provenance.

``create_app(settings)`` builds the app; ``evalkit serve`` / ``detectors serve`` run it with
uvicorn on 127.0.0.1. Endpoints:

- ``POST /v1/detect`` (multipart, field ``file``) → ``model_version``,
  ``ai_generated_probability``, ``label`` (``ai_generated`` / ``not_ai_generated`` /
  ``inconclusive`` from the two thresholds), ``thresholds``, ``segments`` (``start_s``,
  ``end_s``, ``probability`` per window), ``provenance`` (``metadata_label``; ``watermark``:
  ``detected``, ``p_value``, ``payload``), ``video`` (size, fps, frames) and ``timing``.
- ``GET /healthz``, ``GET /v1/models``.

Rules: only the uploaded bytes are read (never a path or URL from the request); uploads over
``max_upload_bytes`` get 413 (checked on ``Content-Length`` before the body is read, and again
while copying); a body that is not a video gets 415, a corrupt video or one over the frame,
duration or pixel limits 422, each with a ``detail`` message; with an ``api_key`` set, requests
without ``Authorization: Bearer <key>`` get 401. The model is loaded once at start-up; requests
run in the thread pool and the detector serialises its forward passes, so concurrent requests
are safe. Input errors are always 4xx; an unexpected error is logged and answered 500.
"""

from __future__ import annotations

import hmac
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

__all__ = ["Settings", "create_app"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


class Settings(BaseModel):
    """Server settings (all have safe defaults)."""

    model_path: str | None = Field(None, description="detector weights; default: shipped")
    api_key: str | None = Field(None, description="require 'Authorization: Bearer KEY'")
    max_upload_bytes: int = Field(64 << 20, gt=0)
    max_frames: int = Field(2000, gt=0)
    max_duration_s: float = Field(300.0, gt=0)
    max_pixels: int = Field(3840 * 2160, gt=0)
    detect_frames: int = Field(256, gt=0, description="frames analysed (from the start)")
    not_ai_generated_below: float = Field(0.3, ge=0, le=1)
    ai_generated_at_or_above: float = Field(0.7, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Settings:
        if self.not_ai_generated_below > self.ai_generated_at_or_above:
            raise ValueError("not_ai_generated_below must be <= ai_generated_at_or_above")
        return self

    def thresholds(self) -> dict[str, float]:
        return {"not_ai_generated_below": self.not_ai_generated_below,
                "ai_generated_at_or_above": self.ai_generated_at_or_above}


class _BodyLimit:
    """ASGI middleware counting request-body bytes as they arrive: a body over ``limit`` is cut
    off with 413 even when the client sends no ``Content-Length`` (chunked uploads), before
    the multipart parser spools it to disk."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, f"upload is over the limit of {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


def _status_for(reason: str) -> int:
    """HTTP status for a :class:`VideoReadError` reason: 415 not a video, else 422."""
    low = reason.lower()
    if "not a video" in low or "empty" in low or "no streams" in low:
        return 415
    return 422


def _check_limits(info: Any, limits: dict[str, Any]) -> None:
    """Refuse from the header what is over a limit, before decoding anything."""
    from evalkit.video import VideoReadError

    pixels = info.width * info.height
    if limits["max_pixels"] is not None and pixels > limits["max_pixels"]:
        raise VideoReadError(info.path, f"frame size {info.width}x{info.height} = {pixels} pixels, over "
                                        f"the limit max_pixels={limits['max_pixels']}")
    if limits["max_frames"] is not None and info.num_frames > limits["max_frames"] + 2:
        raise VideoReadError(info.path, f"about {info.num_frames} frames, over the limit "
                                        f"max_frames={limits['max_frames']}")
    if limits["max_duration_s"] is not None and info.duration_s > limits["max_duration_s"] + 0.1:
        raise VideoReadError(info.path, f"duration {info.duration_s:.3f} s, over the limit "
                                        f"max_duration_s={limits['max_duration_s']:g}")


def create_app(settings: Settings | None = None, detector: Any = None) -> FastAPI:
    """The FastAPI app. ``detector``: an already loaded :class:`~detectors.detector.Detector`
    (default: load ``settings.model_path`` once, here)."""
    from detectors.detector import Detector
    from evalkit.provenance import read_marks
    from evalkit.video import VideoReadError, probe_video

    settings = settings or Settings()
    model = detector if detector is not None else Detector.load(settings.model_path)
    thresholds = settings.thresholds()
    started = time.time()
    counter_lock = threading.Lock()
    counters = {"requests": 0, "errors_4xx": 0}

    app = FastAPI(title="evalkit moderation API", version="1",
                  description="Detect AI-generated video; read provenance marks.")
    app.state.settings = settings
    app.state.detector = model
    app.add_middleware(_BodyLimit, limit=settings.max_upload_bytes + 64 * 1024)

    def _authorised(request: Request) -> bool:
        if not settings.api_key:
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), settings.api_key.encode())

    @app.middleware("http")
    async def _auth_and_size(request: Request, call_next: Any) -> Any:
        # Both checks run before the body is read: a refused upload costs nothing.
        if request.url.path.startswith("/v1/") and not _authorised(request):
            return JSONResponse({"detail": "missing or wrong API key (Authorization: Bearer "
                                           "KEY)"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        length = request.headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > settings.max_upload_bytes + 64 * 1024
            except ValueError:
                return JSONResponse({"detail": "bad Content-Length header"}, status_code=400)
            if too_big:
                return JSONResponse({"detail": f"upload of {length} bytes is over the limit of "
                                               f"{settings.max_upload_bytes} bytes"},
                                    status_code=413)
        return await call_next(request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Any:
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "model_version": model.version,
                "uptime_s": round(time.time() - started, 1), **counters}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        if getattr(model, "kind", None) == "i3d-probe":
            return {"models": [{
                "model_version": model.version, "default": True, "thresholds": thresholds,
                "operating_points": model.operating_points,
                "families": ["linear probe on Kinetics-400 I3D features and noise-residual statistics"],
                "fusion": "Platt scaling on out-of-fold predictions",
                "working_resolution": 224, "window_frames": 16, "window_fps": 8,
                "training": {k: v for k, v in model.info.items() if k != "command"},
            }]}
        training = model.info.get("training", {})
        return {"models": [{
            "model_version": model.version, "default": True, "thresholds": thresholds,
            "families": ["spatial residual CNN", "temporal 3D CNN on motion residuals"],
            "fusion": "Platt scaling on a held-out calibration split",
            "working_resolution": 64, "window_frames": 8,
            "training_sources": training.get("sources", {}),
        }]}

    def _save_upload(upload: UploadFile, folder: str) -> Path:
        path = Path(folder) / "upload"
        size = 0
        with open(path, "wb") as out:
            while chunk := upload.file.read(_CHUNK):
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    raise HTTPException(413, f"upload is over the limit of "
                                             f"{settings.max_upload_bytes} bytes")
                out.write(chunk)
        if size == 0:
            raise HTTPException(415, "the upload is empty: not a video")
        return path

    @app.post("/v1/detect")
    def detect(file: UploadFile = File(...)) -> dict[str, Any]:
        t0 = time.perf_counter()
        with counter_lock:
            counters["requests"] += 1
        try:
            name = os.path.basename(file.filename or "upload")[:200]
            with tempfile.TemporaryDirectory(prefix="evalkit-upload-") as tmp:
                path = _save_upload(file, tmp)
                t_up = time.perf_counter()
                try:
                    info = probe_video(path)
                    limits = {"max_frames": settings.max_frames, "max_pixels": settings.max_pixels,
                              "max_duration_s": settings.max_duration_s}
                    _check_limits(info, limits)
                    t_dec = time.perf_counter()
                    # The same windows as `evalkit detect` and the metric, streamed from the file.
                    pred = model.predict_file(path, **limits)
                    t_det = time.perf_counter()
                    marks = read_marks(path, max_frames=min(settings.detect_frames, 64))
                    t_prov = time.perf_counter()
                except VideoReadError as exc:
                    raise HTTPException(_status_for(exc.reason),
                                        f"cannot read video '{name}': {exc.reason}") from None
        except HTTPException:
            with counter_lock:
                counters["errors_4xx"] += 1
            raise
        wm = marks["watermark"]
        return {
            "model_version": model.version,
            "ai_generated_probability": pred.probability,
            "label": pred.label(thresholds),
            "thresholds": thresholds,
            "segments": [{"start_s": s.start_s, "end_s": s.end_s, "probability": s.probability}
                         for s in pred.segments],
            "provenance": {
                "metadata_label": marks["metadata_label"],
                "watermark": {"detected": wm["detected"], "p_value": wm["p_value"],
                              "payload": wm["payload_hex"] if wm["detected"] else None,
                              "score": wm["score"], "scheme": wm["scheme"]},
            },
            "video": {"filename": name, "frames": info.num_frames,
                      "analysed_windows": len(pred.segments), "fps": info.fps, "width": info.width,
                      "height": info.height, "duration_s": info.duration_s},
            "timing": {"upload_s": round(t_up - t0, 4), "decode_s": round(t_dec - t_up, 4),
                       "detect_s": round(t_det - t_dec, 4),
                       "provenance_s": round(t_prov - t_det, 4),
                       "total_s": round(t_prov - t0, 4)},
        }

    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app with uvicorn (blocking)."""
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


