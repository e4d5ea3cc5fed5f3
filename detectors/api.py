"""The moderation API (FastAPI): upload a video, get a label, the evidence that decided it, and
per-segment probabilities.

``create_app(settings)`` builds the app; ``evalkit serve`` / ``detectors serve`` run it with
uvicorn on 127.0.0.1. Endpoints (OpenAPI at ``/docs`` and ``/openapi.json``):

- ``POST /v1/detect`` (multipart, exactly one field ``file``) → the response of
  :func:`detectors.analysis.analyse_file` plus ``request_id``: ``status`` (``completed``),
  ``model_version``, ``label`` (``ai_generated`` / ``not_ai_generated`` / ``inconclusive``),
  ``decided_by`` (``c2pa`` / ``watermark`` / ``classifier``), ``ai_generated_probability`` (the
  classifier's, calibrated), ``thresholds``, ``segments`` (``start_s``, ``end_s``,
  ``probability``), ``evidence`` (``c2pa``, ``watermark``, ``classifier``), ``video``, ``timing``.
  A file that cannot be evaluated gets a 4xx whose body is
  ``{"request_id", "status": "unable_to_evaluate", "reason", "detail"}``.
- ``GET /healthz``: ``{"status": "ok"}``; with the API key (or when none is configured) also the
  model version, uptime and request counters.
- ``GET /v1/models``: the model, its thresholds and limits.

Rules (nothing in a request is trusted):

- Only the uploaded bytes are read: never a path or URL from the request; C2PA remote manifests
  and OCSP are not fetched.
- Size: over ``max_upload_bytes`` gets 413 (``Content-Length`` checked before the body is read,
  the bytes counted again as they arrive). Time: a body that stalls for
  ``upload_idle_timeout_s``, or takes longer than ``upload_timeout_s`` in all, gets 408.
- Work: frame size, frame count, duration and decoded pixels (frames × width × height) are
  checked from the header before anything is decoded (422 with the limit named); decoding is a
  stream that keeps only the sampled windows at 224×224 and one decoded frame, so memory does not
  grow with the resolution or the length of the upload. At most ``max_concurrent_analyses``
  uploads are analysed at once; a request that waits longer than ``queue_timeout_s`` for a slot
  gets 503 with ``Retry-After``.
- Form: exactly one file, in the field ``file`` (400 otherwise); error bodies never echo the
  upload.
- Not a video: 415; corrupt or over a limit: 422; an unexpected error: 500 with the request id
  (logged with its traceback).
- With ``api_key`` set, ``/v1/*`` needs ``Authorization: Bearer <key>`` (401 otherwise).
- Temporary files live in one folder per request under ``<tmp>/evalkit-serve`` and are removed
  on every path; folders left by a server that was killed are removed when the next one starts.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["Settings", "create_app", "RESPONSE_EXAMPLE"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_FORM_SLACK = 64 * 1024  # multipart boundaries and headers around the file
_TEMP_FOLDER = "evalkit-serve"


class Settings(BaseModel):
    """Server settings (all have safe defaults)."""

    model_path: str | None = Field(None, description="detector weights; default: shipped")
    api_key: str | None = Field(None, description="require 'Authorization: Bearer KEY'")
    max_upload_bytes: int = Field(64 << 20, gt=0)
    max_frames: int = Field(2000, gt=0)
    max_duration_s: float = Field(300.0, gt=0)
    max_pixels: int = Field(3840 * 2160, gt=0, description="pixels of one frame")
    max_decoded_pixels: float = Field(
        6e9, gt=0, description="frames x width x height from the header (10 s of 4K at 60 fps "
                               "is 5e9; 2000 frames of 1080p 4.1e9)")
    max_concurrent_analyses: int = Field(2, gt=0, description="uploads decoded and scored at once")
    queue_timeout_s: float = Field(300.0, gt=0, description="wait for a slot before 503")
    upload_idle_timeout_s: float = Field(30.0, gt=0, description="408 after this long without data")
    upload_timeout_s: float = Field(300.0, gt=0, description="408 when the body takes longer")
    not_ai_generated_below: float | None = Field(None, ge=0, le=1, description="default: the model's")
    ai_generated_at_or_above: float | None = Field(None, ge=0, le=1, description="default: the model's")
    c2pa_trust_anchors: str | None = Field(
        None, description="PEM file of trusted C2PA roots (default EVALKIT_C2PA_TRUST_ANCHORS)")
    temp_dir: str | None = Field(None, description="parent of the upload folder (default: system temp)")

    @model_validator(mode="after")
    def _ordered(self) -> Settings:
        low, high = self.not_ai_generated_below, self.ai_generated_at_or_above
        if (low is None) != (high is None):
            raise ValueError("set both thresholds or neither (neither: the model's own)")
        if low is not None and high is not None and low > high:
            raise ValueError("not_ai_generated_below must be <= ai_generated_at_or_above")
        return self

    def thresholds(self, model: Any = None) -> dict[str, float]:
        """The thresholds in force: these settings', else the model's own."""
        if self.not_ai_generated_below is not None and self.ai_generated_at_or_above is not None:
            return {"not_ai_generated_below": self.not_ai_generated_below,
                    "ai_generated_at_or_above": self.ai_generated_at_or_above}
        from detectors.detector import DEFAULT_THRESHOLDS

        return dict(getattr(model, "thresholds", None) or DEFAULT_THRESHOLDS)

    def limits(self) -> Any:
        from detectors.analysis import Limits

        return Limits(max_frames=self.max_frames, max_duration_s=self.max_duration_s,
                      max_pixels=self.max_pixels, max_decoded_pixels=self.max_decoded_pixels)


#: What ``POST /v1/detect`` returned for the README's ``red.mp4`` (the reference generator's clip:
#: the classifier alone says not_ai_generated, its C2PA manifest decides).
RESPONSE_EXAMPLE: dict[str, Any] = {
    "request_id": "f19c376421e74288a8bc1f272c4834a8",
    "status": "completed", "reason": None,
    "model_version": "evalkit-detector-3+fec27d0f",
    "label": "ai_generated", "decided_by": "c2pa",
    "ai_generated_probability": 0.15089383730155984,
    "thresholds": {"not_ai_generated_below": 0.5314477913172616,
                   "ai_generated_at_or_above": 0.759129092416097},
    "segments": [{"start_s": 0.0, "end_s": 2.0, "probability": 0.15089383730155984}],
    "evidence": {
        "c2pa": {"present": True, "validation_state": "valid", "trusted": False,
                 "validation_status": ["signingCredential.untrusted"],
                 "claim_generator": "evalkit 0.1.0", "title": "red.mp4",
                 "signer": {"issuer": "evalkit UNTRUSTED test chain",
                            "common_name": "evalkit reference generator (UNTRUSTED test signer)",
                            "alg": "Es256", "time": None},
                 "actions": [{"action": "c2pa.created", "digital_source_type": "trainedAlgorithmicMedia",
                              "software_agent": "reference 3"}],
                 "digital_source_type": "trainedAlgorithmicMedia", "declares_ai": True, "error": None},
        "watermark": {"detected": True, "p_value": 2.255534969612769e-34, "payload": "0x0687e6df",
                      "score": 61.9907683401818, "scheme": "evalkit-ss-v1"},
        "classifier": {"model_version": "evalkit-detector-3+fec27d0f",
                       "probability": 0.15089383730155984, "label": "not_ai_generated",
                       "logits": {"probe": -1.4749352385619798}},
    },
    "video": {"frames": 16, "analysed_windows": 1, "fps": 8.0, "width": 64, "height": 64,
              "duration_s": 2.0, "codec": "h264", "format": "mov,mp4,m4a,3gp,3g2,mj2",
              "filename": "red.mp4"},
    "timing": {"upload_s": 0.0019, "queue_s": 0.0003, "c2pa_s": 0.0213, "classifier_s": 1.3516,
               "watermark_s": 0.8903, "total_s": 2.2632},
}

_REASON_EXAMPLE = ("cannot read video 'notes.txt': not a video file (FFmpeg does not recognise the "
                   "format: InvalidDataError: Invalid data found when processing input)")
_ERROR_EXAMPLE = {"request_id": "0ae573447f9b4f92a53eb17456000c90", "detail": _REASON_EXAMPLE,
                  "status": "unable_to_evaluate", "reason": _REASON_EXAMPLE}


class _BodyGuard:
    """ASGI middleware on the request body as it arrives: over ``limit`` bytes → 413 (also for
    chunked uploads without ``Content-Length``); no data for ``idle_s`` or a body still arriving
    after ``total_s`` → 408. Only while the body is being read: later ``receive`` calls wait for
    the client's disconnect and must not time out."""

    def __init__(self, app: Any, limit: int, idle_s: float, total_s: float) -> None:
        self.app, self.limit, self.idle_s, self.total_s = app, limit, idle_s, total_s

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = 0
        done = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.total_s

        async def guarded() -> Any:
            nonlocal seen, done
            if done:
                return await receive()
            left = deadline - loop.time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, min(self.idle_s, left)))
            except asyncio.TimeoutError:
                stalled = left > self.idle_s
                raise HTTPException(408, f"upload stalled: no data for {self.idle_s:g} s" if stalled
                                    else f"upload took longer than {self.total_s:g} s") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, f"upload is over the limit of {self.limit - _FORM_SLACK} bytes")
                done = not message.get("more_body", False)
            else:
                done = True
            return message

        await self.app(scope, guarded, send)


def _status_for(reason: str) -> int:
    """HTTP status for a :class:`VideoReadError` reason: 415 not a video, else 422."""
    low = reason.lower()
    if "not a video" in low or "empty" in low or "no streams" in low or "no video stream" in low:
        return 415
    return 422


def _upload_root(settings: Settings) -> Path:
    """The folder of per-request upload folders; folders of servers that died are removed."""
    from evalkit.runlock import pid_alive

    root = Path(settings.temp_dir or tempfile.gettempdir()) / _TEMP_FOLDER
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob("req-*"):
        try:
            pid = int(stale.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not pid_alive(pid):
            shutil.rmtree(stale, ignore_errors=True)
            log.info("removed %s, left by server process %d that is gone", stale, pid)
    return root


@functools.lru_cache(maxsize=1)
def _glibc() -> Any:
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _tune_malloc(arenas: int = 2, mmap_threshold: int = 1 << 20) -> None:
    """glibc malloc settings for a server that decodes large frames in several threads: fewer
    arenas (each thread otherwise gets its own, which keeps the pages of a finished decode), and
    a fixed mmap threshold, so that every frame-sized buffer is mapped and unmapped instead of
    being carved from a heap that then stays fragmented (glibc raises the threshold to 32 MB
    after the first large free). Measured reading the windows of a 700-frame 2880x2880 GIF in
    one process: peak 944 MB without, 481 MB with. Must run before the worker threads start;
    no-op off glibc."""
    libc = _glibc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
        libc.mallopt(-3, mmap_threshold)  # M_MMAP_THRESHOLD


def _release_free_memory() -> None:
    """Give freed heap pages back to the system after an analysis (glibc's malloc_trim)."""
    libc = _glibc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def create_app(settings: Settings | None = None, detector: Any = None) -> FastAPI:
    """The FastAPI app. ``detector``: an already loaded detector (default: load
    ``settings.model_path`` once, here)."""
    from detectors.analysis import analyse_file, check_video
    from detectors.detector import Detector
    from evalkit.video import VideoReadError

    settings = settings or Settings()
    model = detector if detector is not None else Detector.load(settings.model_path)
    thresholds = settings.thresholds(model)
    limits = settings.limits()
    upload_root = _upload_root(settings)
    started = time.time()
    counter_lock = threading.Lock()
    counters = {"requests": 0, "completed": 0, "errors_4xx": 0, "busy_503": 0, "errors_5xx": 0}
    slots = threading.BoundedSemaphore(settings.max_concurrent_analyses)

    def _count(name: str) -> None:
        with counter_lock:
            counters[name] += 1

    app = FastAPI(title="evalkit moderation API", version="2",
                  description="Detect AI-generated video from C2PA Content Credentials, the evalkit "
                              "watermark and a classifier; every response names the evidence that "
                              "decided its label.")
    app.state.settings = settings
    app.state.detector = model
    app.add_middleware(_BodyGuard, limit=settings.max_upload_bytes + _FORM_SLACK,
                       idle_s=settings.upload_idle_timeout_s, total_s=settings.upload_timeout_s)

    def _authorised(request: Request) -> bool:
        if not settings.api_key:
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), settings.api_key.encode())

    def _error(request: Request, status: int, message: str, headers: dict[str, str] | None = None
               ) -> JSONResponse:
        rid = getattr(request.state, "request_id", None)
        body: dict[str, Any] = {"request_id": rid, "detail": message}
        if request.url.path == "/v1/detect":
            body.update(status="unable_to_evaluate", reason=message)
        return JSONResponse(body, status_code=status, headers={**(headers or {}), "X-Request-ID": rid or ""})

    @app.middleware("http")
    async def _guard(request: Request, call_next: Any) -> Any:
        # Everything here runs before the body is read: a refused upload costs nothing.
        request.state.request_id = uuid.uuid4().hex
        if request.url.path.startswith("/v1/") and not _authorised(request):
            return _error(request, 401, "missing or wrong API key (Authorization: Bearer KEY)",
                          {"WWW-Authenticate": "Bearer"})
        length = request.headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > settings.max_upload_bytes + _FORM_SLACK
            except ValueError:
                return _error(request, 400, "bad Content-Length header")
            if too_big:
                return _error(request, 413, f"upload of {length} bytes is over the limit of "
                                            f"{settings.max_upload_bytes} bytes")
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if 400 <= exc.status_code < 500:
            _count("errors_4xx")
        return _error(request, exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Any:
        # FastAPI's default body echoes the offending input (here: uploaded bytes).
        _count("errors_4xx")
        where = "; ".join(".".join(str(p) for p in e.get("loc", ())) + ": " + str(e.get("msg", ""))
                          for e in exc.errors()[:5])
        return _error(request, 422, f"invalid request ({where})")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Any:
        _count("errors_5xx")
        log.error("request %s on %s failed", getattr(request.state, "request_id", "?"),
                  request.url.path, exc_info=exc)
        return _error(request, 500, "internal error (logged with this request id)")

    @app.get("/healthz")
    def healthz(request: Request) -> dict[str, Any]:
        if settings.api_key and not _authorised(request):
            return {"status": "ok"}
        with counter_lock:
            counts = dict(counters)
        return {"status": "ok", "model_version": model.version,
                "uptime_s": round(time.time() - started, 1), **counts}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        entry: dict[str, Any] = {"model_version": model.version, "default": True,
                                 "thresholds": thresholds,
                                 "limits": {k: getattr(settings, k) for k in (
                                     "max_upload_bytes", "max_frames", "max_duration_s", "max_pixels",
                                     "max_decoded_pixels")},
                                 "evidence_order": ["c2pa", "watermark", "classifier"]}
        if getattr(model, "kind", None) == "i3d-probe":
            entry.update({
                "operating_points": model.operating_points,
                "families": ["linear probe on Kinetics-400 I3D features and noise-residual statistics"],
                "fusion": "Platt scaling on out-of-fold predictions",
                "working_resolution": 224, "window_frames": 16, "window_fps": 8,
                "training": {k: v for k, v in model.info.items() if k != "command"},
            })
        else:
            entry.update({
                "families": ["spatial residual CNN", "temporal 3D CNN on motion residuals"],
                "fusion": "Platt scaling on a held-out calibration split",
                "working_resolution": 64, "window_frames": 8,
                "training_sources": model.info.get("training", {}).get("sources", {}),
            })
        return {"models": [entry]}

    def _analyse(upload: UploadFile, name: str, t0: float) -> dict[str, Any]:
        """Copy the spooled upload into this request's folder and analyse it (a worker thread)."""
        waited = time.perf_counter()
        if not slots.acquire(timeout=settings.queue_timeout_s):
            _count("busy_503")
            raise HTTPException(503, f"busy: {settings.max_concurrent_analyses} uploads are being "
                                     f"analysed; try again", headers={"Retry-After": "5"})
        folder = Path(tempfile.mkdtemp(prefix=f"req-{os.getpid()}-", dir=upload_root))
        try:
            t_queue = time.perf_counter()
            path = folder / "upload"
            size = 0
            with open(path, "wb") as out:
                upload.file.seek(0)
                while chunk := upload.file.read(_CHUNK):
                    size += len(chunk)
                    if size > settings.max_upload_bytes:
                        raise HTTPException(413, f"upload is over the limit of "
                                                 f"{settings.max_upload_bytes} bytes")
                    out.write(chunk)
            if size == 0:
                raise HTTPException(415, "the upload is empty: not a video")
            t_copy = time.perf_counter()
            try:
                info = check_video(path, limits)
                result = analyse_file(path, model, thresholds=thresholds, limits=limits, info=info,
                                      trust_anchors=settings.c2pa_trust_anchors)
            except VideoReadError as exc:
                raise HTTPException(_status_for(exc.reason),
                                    f"cannot read video '{name}': {exc.reason}") from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            slots.release()
            _release_free_memory()
        result["video"]["filename"] = name
        result["timing"] = {"upload_s": round(waited - t0 + (t_copy - t_queue), 4),
                            "queue_s": round(t_queue - waited, 4), **result["timing"]}
        return result

    @app.post("/v1/detect", responses={
        200: {"description": "analysed", "content": {"application/json": {"example": RESPONSE_EXAMPLE}}},
        400: {"description": "not one file in the field 'file'"},
        401: {"description": "missing or wrong API key"},
        408: {"description": "upload stalled or too slow"},
        413: {"description": "upload over max_upload_bytes"},
        415: {"description": "not a video", "content": {"application/json": {"example": _ERROR_EXAMPLE}}},
        422: {"description": "corrupt video or over a limit (frames, duration, pixels, decoded pixels)"},
        503: {"description": "all analysis slots busy for queue_timeout_s"},
    }, openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary",
                                "description": "the video (mp4, mov, webm, mkv, avi, gif, ...)"}}}}}}})
    async def detect(request: Request) -> dict[str, Any]:
        """Analyse one uploaded video (multipart field ``file``)."""
        t0 = time.perf_counter()
        _count("requests")
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            raise HTTPException(400, "send the video as multipart/form-data in the field 'file'")
        try:
            form = await request.form(max_files=1, max_fields=8)
        except StarletteHTTPException as exc:
            if exc.status_code != 400:
                raise
            raise HTTPException(400, f"send exactly one video, in the multipart field 'file' "
                                     f"({exc.detail})") from None
        try:
            files = [(key, value) for key, value in form.multi_items() if isinstance(value, UploadFile)]
            if len(files) != 1 or files[0][0] != "file":
                raise HTTPException(400, "send exactly one video, in the multipart field 'file' "
                                         f"(got {len(files)} file field(s))")
            upload = files[0][1]
            name = os.path.basename(upload.filename or "upload")[:200]
            result = await run_in_threadpool(_analyse, upload, name, t0)
        finally:
            await form.close()
        _count("completed")
        return {"request_id": request.state.request_id, **result}

    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app with uvicorn (blocking)."""
    import uvicorn

    _tune_malloc()
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info",
                timeout_keep_alive=5, limit_concurrency=64)
