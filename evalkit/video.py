"""Video file I/O: decode files to :class:`~evalkit.clip.Clip` and encode clips to H.264 mp4.

Everything goes through PyAV (FFmpeg). The rules this module keeps:

- **One error type for reading.** Whatever goes wrong while reading a file (missing, empty, not a
  video, truncated, corrupt, over a size limit, FFmpeg or OS errors) surfaces as
  :class:`VideoReadError`, whose message names the file and says what is wrong. Callers such as
  an upload API can catch one type and show the message as it is.
- **Strict about damage.** A file that decodes only in part is an error, not a shorter clip: a
  quietly shortened clip would bias every metric computed on it. Damage is detected when FFmpeg
  fails mid-stream, when fewer frames decode than the container (or our own metadata tag)
  declares, when far less time decodes than the stream's declared duration (containers such as
  mkv/webm that carry no frame count), and when a gif lacks its trailer byte.
- **Round trips are exact where it matters.** :func:`write_video` stores the clip's fps and
  metadata as JSON in the container's standard ``comment`` tag, so :func:`read_video` returns the
  same shape, fps and metadata (pixels differ only by the codec's loss). Odd frame sizes are
  encoded as ``yuv444p`` (4:2:0 chroma needs even sizes), so the shape is kept without padding.
- **Atomic writes.** A clip is encoded to a hidden temp file beside the target and moved into
  place with :func:`os.replace`, so ``path`` never holds half a file.
"""

from __future__ import annotations

import dataclasses
import fractions
import json
import logging
import math
import os
import uuid
from collections.abc import Container, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.clip import Clip
from evalkit.jsonutil import json_default
from evalkit.errors import EvalkitError

__all__ = [
    "VIDEO_EXTENSIONS",
    "WRITE_EXTENSIONS",
    "VideoFile",
    "VideoInfo",
    "VideoReadError",
    "count_video_frames",
    "find_videos",
    "iter_video_frames",
    "probe_video",
    "read_video",
    "write_video",
    "check_header_limits",
]

logger = logging.getLogger(__name__)

#: Extensions :func:`find_videos` collects and :func:`read_video` is tested on.
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mkv", ".webm", ".avi", ".gif", ".mov")

#: Extensions :func:`write_video` accepts, with the FFmpeg muxer each one uses. Only containers
#: that hold H.264 well and keep a free-text ``comment`` tag (our metadata) are offered.
WRITE_EXTENSIONS: tuple[str, ...] = (".mp4", ".mov", ".mkv")
_MUXERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}

# Key of our JSON payload inside the container's ``comment`` tag. A versioned wrapper (instead
# of the bare metadata dict) lets read_video tell our tag from a comment some other tool wrote.
_TAG_KEY = "evalkit"
_TAG_VERSION = 1

# Header numbers are not exact on every file (rounded durations, edit lists, B-frame delay), so
# checks made on them before decoding allow this many frames of slack; the count of decoded
# frames is the exact check.
_HEADER_SLACK_FRAMES = 2

# Frame rates a gif is snapped to. Gif delays are whole centiseconds, so 8 fps is stored as
# delays 13, 12, 13, ... cs; the mean frame duration comes within a millisecond of 1/8 s.
_COMMON_RATES = (1, 2, 4, 5, 6, 8, 10, 12, 12.5, 15, 16, 20, 24, 25, 30, 48, 50, 60)
_GIF_SNAP_S = 1e-3

# Most address space read_video reserves up front from a header's frame count (see _decode).
_PREALLOC_BYTES = 8 << 30

_X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow", "placebo",
)

# AVColorSpace / AVColorPrimaries / AVColorTransferCharacteristic value 6 is SMPTE 170M
# (BT.601), AVColorRange 1 is limited ("MPEG", 16-235).
_AVCOL_SMPTE170M = 6
_AVCOL_RANGE_MPEG = 1


# ----------------------------------------------------------------------------------------------
# Errors and probe result
# ----------------------------------------------------------------------------------------------


class VideoReadError(EvalkitError, ValueError):
    """A video file cannot be read; the message names the file and says why.

    It is a ``ValueError`` (bad input, not a bug) and an :class:`~evalkit.errors.EvalkitError`
    (the CLI prints the message as one line).

    Attributes:
        path: the file that failed, as given.
        reason: what is wrong, without the file name.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read video '{self.path}': {reason}")

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        # Exceptions pickle as cls(*self.args); ours takes (path, reason), not the message,
        # so say so explicitly (DataLoader workers and process pools pickle errors).
        return (type(self), (self.path, self.reason))


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What a file's headers say about its video stream (nothing is decoded).

    Attributes:
        path: the file.
        width: frame width in pixels.
        height: frame height in pixels.
        fps: frames per second (same rule as :func:`read_video`).
        num_frames: number of frames; exact when ``num_frames_exact`` (the container declares a
            count: mp4/mov/avi/gif, or our metadata tag), else estimated as ``duration * fps``
            (mkv/webm), which can be off by a frame or two.
        num_frames_exact: whether ``num_frames`` comes from a declared count.
        duration_s: duration in seconds (stream duration when declared, else the container's,
            else ``num_frames / fps``).
        codec: FFmpeg codec name of the stream, e.g. ``"h264"``, ``"vp9"``, ``"gif"``.
        format: FFmpeg container format name, e.g. ``"mov,mp4,m4a,3gp,3g2,mj2"``.
        metadata: the evalkit metadata stored by :func:`write_video` (empty if none).
    """

    path: Path
    width: int
    height: int
    fps: float
    num_frames: int
    duration_s: float
    codec: str
    format: str
    num_frames_exact: bool = False
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _Header:
    """Facts read from the container before decoding (internal)."""

    width: int
    height: int
    fps: float
    declared_frames: int | None  # a count the container or our tag declares (exact-ish)
    duration_s: float | None  # this stream's declared duration, if any
    codec: str
    format: str
    is_gif: bool
    tag: dict[str, Any] | None  # our JSON payload, if present


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------


def read_video(
    path: str | os.PathLike[str],
    *,
    max_frames: int | None = None,
    max_pixels: int | None = None,
    max_duration_s: float | None = None,
    first_frames: int | None = None,
) -> Clip:
    """Decode a video file into a :class:`Clip` of RGB ``uint8`` frames ``(T, H, W, 3)``.

    Reads mp4, mov, mkv, webm, avi and gif (anything FFmpeg decodes). The limits are for
    untrusted uploads: each is checked on the container's header before decoding (with a
    two-frame slack, as headers can be off by a frame) and exactly on what is decoded; decoding
    stops as soon as a limit is passed, so a huge upload costs little.

    Args:
        path: the video file.
        max_frames: raise if the video has more than this many frames.
        max_pixels: raise if one frame has more than this many pixels (``H * W``).
        max_duration_s: raise if the video lasts longer than this (``T / fps``) in seconds.
        first_frames: decode only the first this-many frames (no error when the file has more).
            Useful to peek at long files; the truncation check is then skipped, since the end
            of the stream is never reached.

    Returns:
        the clip; ``clip.frames`` is ``(T, H, W, 3)`` uint8 RGB, ``clip.fps`` the file's frame
        rate, ``clip.metadata`` the metadata :func:`write_video` stored (if any) plus
        ``source_file`` (this path as a string, replacing any stored one).

    Raises:
        VideoReadError: the file is missing, empty, not a video, has no video stream, is
            truncated or corrupt, has no decodable frame, or exceeds a limit.
        ValueError: a limit argument is not positive.
    """
    path = Path(path)
    _check_limit_args(max_frames=max_frames, max_pixels=max_pixels,
                      max_duration_s=max_duration_s, first_frames=first_frames)
    _check_file(path)
    try:
        with _open_input(path) as container:
            stream = _video_stream(container, path)
            header = _read_header(container, stream, path)
            _check_header_limits(path, header, max_frames, max_pixels, max_duration_s)
            frames, fps, rotation = _decode(container, stream, header, path,
                                            max_frames=max_frames, max_duration_s=max_duration_s,
                                            first_frames=first_frames)
        metadata = dict(header.tag.get("metadata", {})) if header.tag else {}
        metadata["source_file"] = str(path)
        frames = _apply_display_rotation(frames, rotation, path, metadata)
        clip = Clip(frames, fps, metadata)
    except VideoReadError:
        raise
    except MemoryError as exc:
        raise VideoReadError(path, "video is too large to decode into memory") from exc
    except Exception as exc:  # noqa: BLE001 - the contract: every read failure is a VideoReadError
        raise VideoReadError(path, _unexpected(exc)) from exc
    logger.debug("read %s: %s at %.4g fps", path, frames.shape, fps)
    return clip


def iter_video_frames(
    path: str | os.PathLike[str],
    *,
    max_frames: int | None = None,
    max_pixels: int | None = None,
    max_duration_s: float | None = None,
    first_frames: int | None = None,
    start_frame: int = 0,
    only: Container[int] | None = None,
) -> Iterator[np.ndarray]:
    """Decode a video one frame at a time: uint8 ``(H, W, 3)`` RGB frames, turned upright.

    The streaming form of :func:`read_video`, for work that needs only some frames or a small
    version of each (FVD features, probes on long clips): memory holds one decoded frame, not
    the clip. Limits are checked as in :func:`read_video`. When the consumer takes every frame,
    the end-of-stream checks run too (a truncated file raises after its last good frame); a
    consumer that stops early (``break``, ``first_frames``) skips them, as ``first_frames`` does
    in :func:`read_video`.

    Args:
        start_frame: begin at this frame (0-based, in display order). The decoder seeks to the
            key frame before it (as torchvision's reader does) and drops the frames before it
            undecoded into RGB; where seeking is not possible (no time stamps, a gif) it decodes
            from the start and skips. The end-of-stream checks are skipped for such a stream.
            ``first_frames`` and ``max_frames`` count from ``start_frame``.
        only: give only the frames with these indices (counted from ``start_frame``); the others
            are decoded (a decoder cannot skip them) but not converted to RGB, which is most of
            the cost of a frame that is not needed. Limits still count every frame.

    Raises:
        VideoReadError: as :func:`read_video`, at the frame where the problem shows.
    """
    path = Path(path)
    _check_limit_args(max_frames=max_frames, max_pixels=max_pixels,
                      max_duration_s=max_duration_s, first_frames=first_frames)
    if start_frame < 0:
        raise ValueError(f"start_frame must be >= 0, got {start_frame}")
    _check_file(path)
    limits = {"max_frames": max_frames, "max_pixels": max_pixels, "max_duration_s": max_duration_s,
              "first_frames": first_frames}
    try:
        target = _start_pts(path, start_frame) if start_frame else None
        if target is not None:
            try:
                yield from _stream_frames(path, limits, seek_pts=target, only=only)
                return
            except _SeekFailed:
                logger.debug("%s: seeking to frame %d failed; decoding from the start", path, start_frame)
        yield from _stream_frames(path, limits, skip_frames=start_frame, only=only)
    except (VideoReadError, GeneratorExit):
        raise
    except MemoryError as exc:
        raise VideoReadError(path, "video is too large to decode into memory") from exc
    except Exception as exc:  # noqa: BLE001 - the contract: every read failure is a VideoReadError
        raise VideoReadError(path, _unexpected(exc)) from exc


class _SeekFailed(Exception):
    """A seek did not land at or before the wanted frame (raised before any frame is given)."""


def _start_pts(path: Path, start_frame: int) -> int | None:
    """Presentation time stamp of frame ``start_frame``, from the packets (None: cannot seek)."""
    with _open_input(path) as container:
        stream = _video_stream(container, path)
        if _read_header(container, stream, path).is_gif:
            return None
        pts = [packet.pts for packet in container.demux(stream) if packet.size]
    if not pts or any(p is None for p in pts) or start_frame >= len(pts):
        return None
    return sorted(pts)[start_frame]


def _stream_frames(path: Path, limits: dict[str, Any], *, seek_pts: int | None = None,
                   skip_frames: int = 0, only: Container[int] | None = None) -> Iterator[np.ndarray]:
    with _open_input(path) as container:
        stream = _video_stream(container, path)
        header = _read_header(container, stream, path)
        _check_header_limits(path, header, limits["max_frames"], limits["max_pixels"],
                             limits["max_duration_s"])
        if seek_pts is not None:
            container.seek(seek_pts, backward=True, any_frame=False, stream=stream)
        state = _DecodeState()
        quarter: int | None = None
        for rgb in _iter_rgb(container, stream, header, path, state, max_frames=limits["max_frames"],
                             max_duration_s=limits["max_duration_s"], first_frames=limits["first_frames"],
                             seek_pts=seek_pts, skip_frames=skip_frames, only=only):
            if quarter is None:
                quarter = _upright_quarter_turns(state.rotation, path)
            yield np.ascontiguousarray(np.rot90(rgb, k=quarter)) if quarter else rgb
        if seek_pts is not None or skip_frames:
            return  # a stream that began mid-file: its end is not compared with the header's
        _finish(path, header, stream, state, limits["max_duration_s"])


def count_video_frames(path: str | os.PathLike[str]) -> int:
    """Frames in a video, counted from its packets (demuxed, not decoded: fast).

    Exact for the usual codecs (one frame per packet); :func:`iter_video_frames` may still
    find fewer frames in a damaged file.
    """
    path = Path(path)
    _check_file(path)
    try:
        with _open_input(path) as container:
            stream = _video_stream(container, path)
            count = sum(1 for packet in container.demux(stream) if packet.size)
    except VideoReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - every read failure is a VideoReadError
        raise VideoReadError(path, _unexpected(exc)) from exc
    if count == 0:
        raise VideoReadError(path, "no video packets (empty or corrupt?)")
    return count


@dataclasses.dataclass(frozen=True)
class VideoFile:
    """A video on disk, decoded only when its frames are asked for.

    What the runner and the CLI hand to work that streams (FVD features): the frames come one
    at a time from :func:`iter_video_frames`, so memory never holds the whole clip.
    """

    path: Path

    def iter_frames(self, start_frame: int = 0, **options: Any) -> Iterator[np.ndarray]:
        """uint8 ``(H, W, 3)`` frames, one at a time, from ``start_frame``
        (:func:`iter_video_frames`; ``options``: its limits and ``only``)."""
        return iter_video_frames(self.path, start_frame=start_frame, **options)

    def count_frames(self) -> int:
        """The frame count from the packets (:func:`count_video_frames`)."""
        return count_video_frames(self.path)

    def read(self, **limits: Any) -> Clip:
        """The whole clip (:func:`read_video`)."""
        return read_video(self.path, **limits)


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Size, frame rate, frame count and duration of a video from its headers alone.

    Args:
        path: the video file.

    Returns:
        a :class:`VideoInfo`. Nothing is decoded, so a file that is damaged past its header
        can probe fine and still fail in :func:`read_video`.

    Raises:
        VideoReadError: the file is missing, empty, not a video or has no video stream.
    """
    path = Path(path)
    _check_file(path)
    try:
        with _open_input(path) as container:
            stream = _video_stream(container, path)
            header = _read_header(container, stream, path)
            container_s = container.duration / 1e6 if container.duration else None
    except VideoReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - every probe failure is a VideoReadError
        raise VideoReadError(path, _unexpected(exc)) from exc

    duration = header.duration_s or container_s
    if header.declared_frames is not None:
        num_frames, exact = header.declared_frames, True
    else:
        num_frames, exact = (round(duration * header.fps) if duration else 0), False
    if not duration:
        duration = num_frames / header.fps
    return VideoInfo(
        path=path, width=header.width, height=header.height, fps=header.fps,
        num_frames=num_frames, duration_s=float(duration), codec=header.codec,
        format=header.format, num_frames_exact=exact,
        metadata=dict(header.tag.get("metadata", {})) if header.tag else {},
    )


def _check_limit_args(**limits: float | None) -> None:
    for name, value in limits.items():
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive number or None, got {value!r}")


def _check_file(path: Path) -> None:
    """Cheap checks with clear words before FFmpeg sees the file."""
    try:
        if not path.exists():
            raise VideoReadError(path, "file not found")
        if path.is_dir():
            raise VideoReadError(path, "is a directory, not a video file")
        if path.stat().st_size == 0:
            raise VideoReadError(path, "file is empty (0 bytes)")
    except OSError as exc:  # e.g. permission denied on a parent folder
        raise VideoReadError(path, f"cannot access file ({exc.strerror or exc})") from exc


def _open_input(path: Path) -> Any:
    """``av.open`` for reading, with FFmpeg's failures turned into VideoReadError."""
    import av

    try:
        # metadata_errors="replace": a tag in a foreign encoding must not make the file unreadable.
        return av.open(str(path), "r", metadata_errors="replace")
    except PermissionError as exc:
        raise VideoReadError(path, "permission denied") from exc
    except FileNotFoundError as exc:  # removed between _check_file and here
        raise VideoReadError(path, "file not found") from exc
    except Exception as exc:  # noqa: BLE001 - av.InvalidDataError, EOFError, OSError(EIO), ...
        kind = _sniff_container(path)
        if kind is None:
            reason = "not a video file (FFmpeg does not recognise the format"
        else:
            reason = f"truncated or corrupt {kind} file (FFmpeg cannot parse the container"
        raise VideoReadError(path, f"{reason}: {_describe(exc)})") from exc


def _sniff_container(path: Path) -> str | None:
    """The container a file's magic bytes announce, or None. Only used to word errors."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"):
        return "mp4/mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "mkv/webm"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    return None


def _video_stream(container: Any, path: Path) -> Any:
    """The container's main video stream (FFmpeg's pick when there are several)."""
    if not container.streams.video:
        present = ", ".join(sorted({s.type for s in container.streams}))
        if present:
            raise VideoReadError(path, f"no video stream (only {present}): not a video")
        # A known container with no stream at all is usually one cut before its stream table.
        hint = "; the file may be truncated" if _sniff_container(path) else ""
        raise VideoReadError(path, f"no streams at all: not a video{hint}")
    try:
        stream = container.streams.best("video") or container.streams.video[0]
    except Exception:  # noqa: BLE001 - best() needs a decoder; fall back to the first stream
        stream = container.streams.video[0]
    if stream.codec_context is None:
        raise VideoReadError(path, "no decoder for the video stream's codec in this FFmpeg")
    return stream


def _read_header(container: Any, stream: Any, path: Path) -> _Header:
    ctx = stream.codec_context
    width, height = int(ctx.width), int(ctx.height)
    if width < 1 or height < 1:
        raise VideoReadError(path, f"video stream has no frame size ({width}x{height})")
    is_gif = ctx.name == "gif"
    tag = _read_tag(container, path)
    duration_s = _stream_duration(container, stream)
    declared: int | None = int(stream.frames) if stream.frames and stream.frames > 0 else None
    fps = _header_fps(stream, tag, declared, duration_s, is_gif, path)
    tag_frames = tag.get("num_frames") if tag else None
    if isinstance(tag_frames, int) and not isinstance(tag_frames, bool) and tag_frames > 0:
        # Our count is exact (and the only one an mkv has), but a file cut or re-timed by
        # another tool after we wrote it keeps the old tag: trust the count only while it
        # agrees with what the container says.
        if declared is not None:
            agrees = abs(declared - tag_frames) <= _HEADER_SLACK_FRAMES
        elif duration_s:
            agrees = abs(duration_s * fps - tag_frames) <= _HEADER_SLACK_FRAMES + 0.01 * tag_frames
        else:
            agrees = True
        if agrees:
            declared = tag_frames
        else:
            logger.warning("%s: stored frame count %d disagrees with the container; the file "
                           "was edited after writing, ignoring the stored count", path, tag_frames)
            tag = {k: v for k, v in tag.items() if k != "num_frames"}  # type: ignore[union-attr]
    return _Header(width=width, height=height, fps=fps, declared_frames=declared,
                   duration_s=duration_s, codec=ctx.name, format=container.format.name,
                   is_gif=is_gif, tag=tag)


def _read_tag(container: Any, path: Path) -> dict[str, Any] | None:
    """Our JSON payload from the ``comment`` tag (mkv spells it ``COMMENT``), or None."""
    text = next((v for k, v in container.metadata.items() if k.lower() == "comment"), None)
    if not text or _TAG_KEY not in text:
        return None
    try:
        payload = json.loads(text)[_TAG_KEY]
        if not isinstance(payload, dict) or not isinstance(payload.get("metadata", {}), dict):
            raise TypeError("payload is not a dict")
    except (ValueError, TypeError, KeyError) as exc:
        # A foreign comment that merely mentions our key: not ours, not an error.
        logger.debug("%s: ignoring comment tag that is not evalkit metadata (%s)", path, exc)
        return None
    return payload


def _stream_duration(container: Any, stream: Any) -> float | None:
    """The video stream's own declared duration in seconds, if any.

    The container's duration is used only when the video is its sole stream: with audio it may
    be the audio's length, which would fake (or hide) truncation of the video.
    """
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:  # matroska writes "HH:MM:SS.nnnnnnnnn" per stream
        try:
            h, m, s = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(s)
        except ValueError:
            pass
    if container.duration and len(container.streams) == 1:
        return container.duration / 1e6
    return None


def _header_fps(stream: Any, tag: dict[str, Any] | None, declared: int | None,
                duration_s: float | None, is_gif: bool, path: Path) -> float:
    """Frame rate from the headers. Order of trust, and why:

    1. our tag's fps, when it agrees with the stream (within 1%) - exact, where the container's
       rational rate may be rounded (mkv's millisecond time base);
    2. for gif, frames / duration snapped to a common rate - FFmpeg's gif ``average_rate`` is
       unreliable because delays are whole centiseconds;
    3. the stream's ``average_rate``, then ``guessed_rate``;
    4. ``1 / time_base`` if it is a plausible frame rate (mkv's 1/1000 is not);
    5. frames / duration; then 25 fps with a warning.
    """
    rate = stream.average_rate or stream.guessed_rate
    rate_f = float(rate) if rate else None
    tag_fps = tag.get("fps") if tag else None
    if isinstance(tag_fps, (int, float)) and math.isfinite(tag_fps) and tag_fps > 0:
        # Any of FFmpeg's estimates may agree: a remuxed file's average_rate can be skewed by
        # its first decode time stamp while base_rate (smallest frame step) is still exact.
        estimates = [float(r) for r in (stream.average_rate, stream.base_rate,
                                        stream.guessed_rate) if r]
        if not estimates or any(abs(r - tag_fps) <= 0.01 * tag_fps for r in estimates):
            return float(tag_fps)
        logger.warning("%s: stored fps %s disagrees with the stream's %s; the file was "
                       "re-timed after writing, using the stream's", path, tag_fps, rate_f)
    if is_gif and declared and duration_s:
        return _snap_gif_fps(declared / duration_s)
    if rate_f and math.isfinite(rate_f) and rate_f > 0:
        return rate_f
    if stream.time_base and 1 <= 1 / stream.time_base <= 240:
        return float(1 / stream.time_base)
    if declared and duration_s:
        return declared / duration_s
    logger.warning("%s: no frame rate in the file; assuming 25 fps", path)
    return 25.0


def _snap_gif_fps(fps: float) -> float:
    """Snap a gif's measured rate to a common one when centisecond rounding explains the gap."""
    for rate in _COMMON_RATES:
        if abs(1 / fps - 1 / rate) <= _GIF_SNAP_S:
            return float(rate)
    return float(fps)


def _check_header_limits(path: Path, header: _Header, max_frames: int | None,
                         max_pixels: int | None, max_duration_s: float | None) -> None:
    """Refuse over-limit files from their header, before any decoding work."""
    est_frames = header.declared_frames
    if est_frames is None and header.duration_s:
        est_frames = round(header.duration_s * header.fps)
    est_s = header.duration_s or (est_frames / header.fps if est_frames else None)
    _refuse_over_limits(path, header.width, header.height, header.fps, est_frames, est_s,
                        max_frames=max_frames, max_pixels=max_pixels, max_duration_s=max_duration_s)


def check_header_limits(info: VideoInfo, *, max_frames: int | None = None,
                        max_pixels: int | None = None, max_duration_s: float | None = None) -> None:
    """Refuse a file that its :func:`probe_video` info shows to be over a limit, with the same
    rule and messages as the decoders' own check (``_HEADER_SLACK_FRAMES`` of slack; the exact
    checks run frame by frame while decoding).

    Raises:
        VideoReadError: naming the limit.
    """
    _refuse_over_limits(info.path, info.width, info.height, info.fps, info.num_frames or None,
                        info.duration_s or None, max_frames=max_frames, max_pixels=max_pixels,
                        max_duration_s=max_duration_s)


def _refuse_over_limits(path: Path, width: int, height: int, fps: float, est_frames: int | None,
                        est_s: float | None, *, max_frames: int | None, max_pixels: int | None,
                        max_duration_s: float | None) -> None:
    pixels = width * height
    if max_pixels is not None and pixels > max_pixels:
        raise VideoReadError(
            path, f"frame size {width}x{height} = {pixels} pixels, over the "
                  f"limit max_pixels={max_pixels}")
    if max_frames is not None and est_frames is not None \
            and est_frames > max_frames + _HEADER_SLACK_FRAMES:
        raise VideoReadError(
            path, f"about {est_frames} frames, over the limit max_frames={max_frames}")
    if max_duration_s is not None and est_s is not None \
            and est_s > max_duration_s + _HEADER_SLACK_FRAMES / fps:
        raise VideoReadError(
            path, f"duration {est_s:.3f} s, over the limit max_duration_s={max_duration_s:g}")


def _upright_quarter_turns(degrees: float, path: Path) -> int:
    """Counter-clockwise quarter turns that show frames upright (0 when not a multiple of 90)."""
    quarter = round(degrees / 90)
    if abs(degrees - 90 * quarter) > 1e-3:
        logger.warning("%s: display rotation of %.1f degrees is not a multiple of 90; frames "
                       "are left as stored", path, degrees)
        return 0
    return quarter % 4


def _apply_display_rotation(frames: np.ndarray, degrees: float, path: Path,
                            metadata: dict[str, Any]) -> np.ndarray:
    """Turn frames upright as a player shows them (phones store portrait video as landscape
    frames plus a display-matrix rotation). ``degrees`` is counter-clockwise, as PyAV reports
    it; the turn applied is recorded in ``metadata["display_rotation_deg"]``."""
    quarter = _upright_quarter_turns(degrees, path)
    if quarter == 0:
        return frames
    metadata["display_rotation_deg"] = int(90 * quarter) % 360
    return np.ascontiguousarray(np.rot90(frames, k=quarter, axes=(1, 2)))


@dataclasses.dataclass
class _DecodeState:
    """What the frame loop learns on the way (internal): count, time stamps, rotation."""

    n: int = 0
    rotation: float = 0.0
    first_pts: int | None = None
    last_pts: int | None = None
    stopped_early: bool = False


def _iter_rgb(container: Any, stream: Any, header: _Header, path: Path, state: _DecodeState, *,
              max_frames: int | None, max_duration_s: float | None,
              first_frames: int | None, seek_pts: int | None = None,
              skip_frames: int = 0, only: Container[int] | None = None) -> Iterator[np.ndarray]:
    """Decoded frames one at a time, uint8 ``(H, W, 3)`` RGB as stored (not yet rotated).

    Limits are checked frame by frame; FFmpeg failing mid-stream raises VideoReadError. The
    checks that need the end of the stream are :func:`_finish`'s. Frames before ``seek_pts``
    (after a seek), or the first ``skip_frames``, are decoded but neither converted nor counted;
    frames whose index is not in ``only`` (when given) are counted but not converted or given.
    """
    from av.video.reformatter import VideoReformatter

    h, w = header.height, header.width
    # Frame threading decodes several frames at once; worth it on anything but tiny clips,
    # and harmless there.
    stream.thread_type = "AUTO"
    # One swscale context for the whole clip, single-threaded: frame.to_ndarray(format=...)
    # builds a new context (and thread pool) per frame, which costs ~10x the conversion
    # itself on small frames.
    sws = VideoReformatter()
    resized_warned = False
    skipped = 0
    try:
        for frame in container.decode(stream):
            if seek_pts is not None:
                if frame.pts is None or (state.n == 0 and frame.pts > seek_pts):
                    raise _SeekFailed  # landed past the wanted frame: the caller starts over
                if frame.pts < seek_pts:
                    continue
            elif skipped < skip_frames:
                skipped += 1
                continue
            n = state.n
            if max_frames is not None and n >= max_frames:
                raise VideoReadError(
                    path, f"more than {max_frames} frames, over the limit max_frames={max_frames}")
            if max_duration_s is not None and (n + 1) / header.fps > max_duration_s + 1e-9:
                raise VideoReadError(
                    path, f"longer than {max_duration_s:g} s, over the limit "
                          f"max_duration_s={max_duration_s:g}")
            if (frame.width != w or frame.height != h) and not resized_warned:
                # Size changes mid-stream are legal in some codecs; a Clip has one size, so
                # scale to the first frame's size rather than fail.
                logger.warning("%s: frame size changes mid-stream (%dx%d -> %dx%d); "
                               "rescaling to the first size", path, w, h,
                               frame.width, frame.height)
                resized_warned = True
            if n == 0:
                state.rotation = float(getattr(frame, "rotation", 0) or 0)
            state.n = n + 1
            if frame.pts is not None:
                state.first_pts = frame.pts if state.first_pts is None else state.first_pts
                state.last_pts = frame.pts
            if only is None or n in only:
                yield sws.reformat(frame, width=w, height=h, format="rgb24", threads=1).to_ndarray()
            if first_frames is not None and state.n >= first_frames:
                state.stopped_early = True  # the end is never seen: no truncation check
                return
    except (VideoReadError, GeneratorExit, _SeekFailed):
        raise
    except Exception as exc:  # noqa: BLE001 - FFmpeg failing mid-stream means damage
        raise VideoReadError(
            path, f"truncated or corrupt: decoding failed after {state.n} frame(s) "
                  f"({_describe(exc)})") from exc


def _finish(path: Path, header: _Header, stream: Any, state: _DecodeState,
            max_duration_s: float | None) -> float:
    """Checks that need the whole stream decoded; returns the clip's fps."""
    n = state.n
    if n == 0:
        raise VideoReadError(path, "no decodable frames (truncated or corrupt?)")
    fps = header.fps
    if header.is_gif and n >= 2 and state.first_pts is not None and state.last_pts is not None \
            and state.last_pts > state.first_pts and not (header.tag and "fps" in header.tag):
        # Measured from the decoded time stamps rather than the demuxer's estimate.
        fps = _snap_gif_fps((n - 1) / float((state.last_pts - state.first_pts) * stream.time_base))
    if not state.stopped_early:
        _check_complete(path, header, stream, n, fps, state.first_pts, state.last_pts)
    if max_duration_s is not None and n / fps > max_duration_s + 1e-9:
        raise VideoReadError(path, f"duration {n / fps:.3f} s, over the limit "
                                   f"max_duration_s={max_duration_s:g}")
    return fps


def _decode(container: Any, stream: Any, header: _Header, path: Path, *,
            max_frames: int | None, max_duration_s: float | None,
            first_frames: int | None) -> tuple[np.ndarray, float, float]:
    """Decode the stream into a preallocated ``(T, H, W, 3)`` uint8 buffer.

    Returns:
        ``(frames, fps, rotation)``; fps is re-measured from the decoded time stamps for gif;
        rotation is the first frame's display rotation (counter-clockwise degrees, 0 if none).
    """
    h, w = header.height, header.width
    frame_bytes = h * w * 3
    # Preallocate from the header's count so each frame is copied once (a list + np.stack
    # holds every frame twice at the end). Pages of np.empty are only committed when written,
    # so an overestimate costs address space, not memory; a header that lies upward is capped,
    # and the buffer grows if the header undercounted.
    expected = header.declared_frames
    if expected is None and header.duration_s:
        expected = round(header.duration_s * header.fps)
    want = (expected or 64) + _HEADER_SLACK_FRAMES
    for cap in (first_frames, None if max_frames is None else max_frames + 1):
        if cap is not None:
            want = min(want, cap)
    want = max(1, min(want, _PREALLOC_BYTES // frame_bytes))
    buf = np.empty((want, h, w, 3), dtype=np.uint8)
    state = _DecodeState()
    for rgb in _iter_rgb(container, stream, header, path, state, max_frames=max_frames,
                         max_duration_s=max_duration_s, first_frames=first_frames):
        if state.n > buf.shape[0]:
            buf = _grow(buf)
        buf[state.n - 1] = rgb
    fps = _finish(path, header, stream, state, max_duration_s)
    # A view, not a copy: the unused tail was never written, so it holds no memory.
    return buf[: state.n], fps, state.rotation


def _grow(buf: np.ndarray) -> np.ndarray:
    new = np.empty((max(buf.shape[0] * 3 // 2, 8),) + buf.shape[1:], dtype=buf.dtype)
    new[: buf.shape[0]] = buf
    return new


def _check_complete(path: Path, header: _Header, stream: Any, n: int, fps: float,
                    first_pts: int | None, last_pts: int | None) -> None:
    """Raise if the stream ended before the container said it would (a cut or damaged file)."""
    if header.is_gif:
        # A complete gif ends with the trailer byte ';' (0x3B). FFmpeg's gif demuxer counts
        # only the frames present, so a cut gif looks whole to every other check.
        try:
            with open(path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                last = f.read(1)
        except OSError:
            last = b";"
        if last != b";":
            raise VideoReadError(path, f"truncated or corrupt: gif has no trailer byte "
                                       f"({n} frame(s) decode)")
    if header.declared_frames is not None:
        exact = bool(header.tag and "num_frames" in header.tag)  # ours: no slack needed
        slack = 0 if exact else _HEADER_SLACK_FRAMES
        if n < header.declared_frames - slack:
            raise VideoReadError(
                path, f"truncated or corrupt: only {n} of the {header.declared_frames} "
                      "declared frames decode")
        return
    if header.duration_s and first_pts is not None and last_pts is not None and stream.time_base:
        # No declared count (mkv/webm): compare the decoded time span with the declared
        # duration. Durations are rounded and may or may not include the last frame, so the
        # gap must exceed two frames plus 1% to count.
        decoded_s = float((last_pts - first_pts) * stream.time_base) + 1 / fps
        if decoded_s < header.duration_s - _HEADER_SLACK_FRAMES / fps - 0.01 * header.duration_s:
            raise VideoReadError(
                path, f"truncated or corrupt: {n} frame(s) cover {decoded_s:.2f} s of the "
                      f"declared {header.duration_s:.2f} s")


def _unexpected(exc: BaseException) -> str:
    """Reason for a failure no specific check caught: FFmpeg and OS errors mean a damaged
    file; anything else is named as what it is rather than blamed on the file."""
    import av

    if isinstance(exc, (av.FFmpegError, OSError, EOFError)):
        return f"truncated or corrupt ({_describe(exc)})"
    return f"unexpected error while reading ({_describe(exc)})"


def _describe(exc: BaseException) -> str:
    """One line for an underlying exception: its type and message.

    FFmpeg errors carry the file name (already in our message) or an internal function name;
    their ``strerror`` alone is the useful part.
    """
    msg = getattr(exc, "strerror", None) or str(exc).strip() or "no message"
    return f"{type(exc).__name__}: {msg}"


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------


def write_video(
    path: str | os.PathLike[str],
    clip: Clip,
    *,
    crf: int = 18,
    preset: str = "medium",
    codec: str = "libx264",
    content_credentials: bool | None = None,
) -> Path:
    """Encode a clip to an H.264 video file (mp4 by default), atomically.

    Frames ``(T, H, W, 3)`` are converted to BT.601 limited-range YUV (tagged as such, so
    players agree on the colours): ``yuv420p`` when H and W are even, else ``yuv444p``, which
    keeps odd sizes exactly instead of padding them (at the cost of playback in some browsers,
    which lack H.264 4:4:4). mp4/mov files get ``+faststart`` (index first) for streaming.

    The clip's fps (exact float) and frame count and ``clip.metadata`` are stored as JSON in the
    container's ``comment`` tag, ``{"evalkit": {"version", "fps", "num_frames", "metadata"}}``,
    which :func:`read_video` returns.

    Args:
        path: target file; ``.mp4``, ``.mov`` or ``.mkv``. Parent folders are created.
        clip: the clip to write. Metadata values must be JSON-serialisable (numpy scalars and
            arrays and paths are converted).
        crf: x264/x265 constant rate factor, 0 (lossless) .. 51; 18 is visually lossless.
        preset: x264/x265 speed preset, ``"ultrafast"`` .. ``"placebo"``.
        codec: FFmpeg encoder name; crf and preset apply to ``libx264`` and ``libx265`` only.
        content_credentials: embed a signed C2PA manifest
            (:mod:`evalkit.content_credentials`). Default (None): when the clip carries the
            generator's provenance label (:func:`evalkit.provenance.mark_clip`), so every clip a
            generator marks is written with Content Credentials; ``.mkv`` cannot carry them (a
            warning says so).

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        ValueError: unsupported extension, codec or pixel format, bad crf/preset, or metadata
            that is not JSON-serialisable.
    """
    import av

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in _MUXERS:
        raise ValueError(
            f"cannot write '{path}': extension {ext or '(none)'!r} is not supported; "
            f"use one of {', '.join(WRITE_EXTENSIONS)}")
    if not isinstance(clip, Clip):
        raise TypeError(f"write_video needs a Clip, got {type(clip).__name__}")
    try:
        encoder = av.codec.Codec(codec, "w")
    except Exception as exc:  # noqa: BLE001 - av raises UnknownCodecError (a ValueError)
        raise ValueError(f"no video encoder named {codec!r} in this FFmpeg build") from exc
    if encoder.type != "video":
        raise ValueError(f"{codec!r} is not a video encoder")

    pix_fmt = "yuv420p" if clip.height % 2 == 0 and clip.width % 2 == 0 else "yuv444p"
    supported = {f.name for f in (encoder.video_formats or ())}
    if supported and pix_fmt not in supported:
        raise ValueError(
            f"encoder {codec!r} cannot take {pix_fmt} (needed for a {clip.height}x{clip.width} "
            f"clip); use libx264")
    options: dict[str, str] = {}
    if encoder.name in ("libx264", "libx265"):
        if not (isinstance(crf, (int, np.integer)) and 0 <= crf <= 51):
            raise ValueError(f"crf must be an integer in 0..51, got {crf!r}")
        if preset not in _X264_PRESETS:
            raise ValueError(f"preset must be one of {', '.join(_X264_PRESETS)}, got {preset!r}")
        # x264 does not promise identical bytes for identical frames (seen here: a 64x64 clip
        # encoded to one of two bitstreams that decode to the same pixels, even single-
        # threaded), so reproducibility is checked on decoded frames, not on file bytes.
        options = {"crf": str(int(crf)), "preset": preset}
    else:
        logger.debug("write_video: crf/preset are ignored for encoder %s", encoder.name)

    payload = {_TAG_KEY: {"version": _TAG_VERSION, "fps": clip.fps,
                          "num_frames": clip.num_frames, "metadata": clip.metadata}}
    try:
        comment = json.dumps(payload, default=json_default, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"clip.metadata is not JSON-serialisable: {exc}") from exc

    path.parent.mkdir(parents=True, exist_ok=True)
    # Hidden temp name in the same folder: os.replace is atomic only within one file system,
    # and a dot-name keeps find_videos (and humans) from picking up a half-written file.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        _encode(tmp, clip, muxer=_MUXERS[ext], codec=encoder.name, pix_fmt=pix_fmt,
                options=options, comment=comment)
        _sign_if_asked(tmp, path, clip, content_credentials)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    logger.debug("wrote %s: %s at %.4g fps (%s, %s)", path, clip.frames.shape, clip.fps,
                 encoder.name, pix_fmt)
    return path


def _sign_if_asked(tmp: Path, path: Path, clip: Clip, content_credentials: bool | None) -> None:
    """Replace the encoded ``tmp`` by a copy with a signed C2PA manifest, when asked."""
    if content_credentials is False:
        return
    from evalkit.content_credentials import (content_credentials_for_clip, generator_manifest,
                                             mime_type_for, sign_video)

    manifest = content_credentials_for_clip(clip.metadata)
    if manifest is None:
        if not content_credentials:
            return
        manifest = generator_manifest(generator=str(clip.metadata.get("generator", "unknown")),
                                      version=str(clip.metadata.get("generator_version", "")))
    mime = mime_type_for(path)
    if mime is None:
        logger.warning("%s: %s files cannot carry C2PA Content Credentials; written without "
                       "them (the watermark is still in the pixels)", path, path.suffix)
        return
    signed = tmp.with_name(tmp.name + ".c2pa" + path.suffix)
    try:
        sign_video(tmp, signed, {**manifest, "title": path.name}, mime_type=mime)
        os.replace(signed, tmp)
    finally:
        signed.unlink(missing_ok=True)


def _encode(tmp: Path, clip: Clip, *, muxer: str, codec: str, pix_fmt: str,
            options: dict[str, str], comment: str) -> None:
    import av
    from av.video.reformatter import ColorRange, Colorspace, VideoReformatter

    rate = _fps_to_fraction(clip.fps)
    container_options = {"movflags": "+faststart"} if muxer in ("mp4", "mov") else {}
    with av.open(str(tmp), "w", format=muxer, options=container_options) as container:
        container.metadata["comment"] = comment
        stream = container.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height, stream.pix_fmt = clip.width, clip.height, pix_fmt
        ctx = stream.codec_context
        ctx.time_base = 1 / rate
        # Tag what the conversion below does (BT.601, limited range), so any player decodes
        # the colours the way read_video does.
        ctx.colorspace = ctx.color_primaries = ctx.color_trc = _AVCOL_SMPTE170M
        ctx.color_range = _AVCOL_RANGE_MPEG
        sws = VideoReformatter()  # one swscale context, single-threaded: see _decode
        for i, rgb in enumerate(clip.frames):
            frame = sws.reformat(
                av.VideoFrame.from_ndarray(rgb, format="rgb24"), format=pix_fmt,
                dst_colorspace=Colorspace.ITU601, dst_color_range=ColorRange.MPEG, threads=1)
            frame.pts = i
            frame.time_base = ctx.time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))  # flush the encoder's delayed frames


def _fps_to_fraction(fps: float) -> fractions.Fraction:
    """A small rational for the container's frame rate: 8 -> 8/1, 29.97 -> 2997/100,
    30000/1001 (as a float) -> 30000/1001. The exact float also goes in our tag."""
    return fractions.Fraction(fps).limit_denominator(1001)


# ----------------------------------------------------------------------------------------------
# Folders
# ----------------------------------------------------------------------------------------------


def find_videos(folder: str | os.PathLike[str], *, recursive: bool = False) -> list[Path]:
    """Video files in a folder, sorted by path.

    Matches :data:`VIDEO_EXTENSIONS` case-insensitively and skips hidden files (names starting
    with ``.``: temp files of in-progress writes, macOS ``._*`` resource forks) and, when
    recursive, hidden folders.

    Args:
        folder: the folder to search.
        recursive: also search sub-folders.

    Returns:
        the files, sorted by their path relative to ``folder``.

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        NotADirectoryError: ``folder`` is not a folder.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"video folder not found: '{folder}'")
    if not folder.is_dir():
        raise NotADirectoryError(f"not a folder: '{folder}'")
    found = [p for p in _walk(folder, recursive) if p.suffix.lower() in VIDEO_EXTENSIONS]
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def _walk(folder: Path, recursive: bool) -> Iterator[Path]:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_file():
                yield Path(entry.path)
            # Symlinked folders are not followed: a link loop would recurse forever.
            elif recursive and entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path), recursive)


# ----------------------------------------------------------------------------------------------
# Frame times (variable frame rate)
# ----------------------------------------------------------------------------------------------

#: Frame intervals differing from their median by more than this share mean a variable rate.
VFR_SPREAD = 0.1


def frame_times(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Display times of the video frames of ``path`` from the container's packet stamps
    (demuxing only, nothing is decoded).

    Returns ``times_s``: ``(T,)`` seconds from the first frame, or None when the stamps are
    unusable; ``vfr``: whether the frame intervals vary by more than :data:`VFR_SPREAD` of their
    median; ``note``: a sentence for a result when something is off.
    """
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            base = stream.time_base
            stamps = [p.pts for p in container.demux(stream) if p.pts is not None and p.size]
    except Exception as exc:  # noqa: BLE001 - timing is best effort; decoding reports errors
        logger.debug("no time stamps in %s: %s", path, exc)
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
