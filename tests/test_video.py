"""Tests of evalkit.video: reading real and synthetic files, round trips, errors, limits."""

from __future__ import annotations

import csv
import os
import pickle
import shutil
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import evalkit.video as video
from evalkit.clip import Clip
from evalkit.video import (
    VIDEO_EXTENSIONS,
    VideoInfo,
    VideoReadError,
    find_videos,
    probe_video,
    read_video,
    write_video,
)

# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def smooth_clip(t: int = 16, h: int = 64, w: int = 64, fps: float = 8.0, **metadata) -> Clip:
    """A deterministic clip of smooth moving gradients (what a codec handles well)."""
    tt, yy, xx = np.meshgrid(np.arange(t), np.arange(h), np.arange(w), indexing="ij")
    r = 128 + 80 * np.sin(2 * np.pi * (xx / max(w, 2) + tt / t))
    g = 128 + 80 * np.cos(2 * np.pi * (yy / max(h, 2) - tt / t))
    b = 40 + 150 * (xx + yy) / (h + w)
    return Clip(np.stack([r, g, b], axis=-1).round().astype(np.uint8), fps, dict(metadata))


def noise_clip(t: int = 48, h: int = 64, w: int = 64, fps: float = 8.0) -> Clip:
    """Incompressible frames, so every frame owns a good share of the file's bytes."""
    return Clip(np.random.default_rng(0).integers(0, 256, (t, h, w, 3), dtype=np.uint8), fps)


def mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def write_with_pyav(path: Path, frames: np.ndarray, fps: float, codec: str, pix_fmt: str,
                    options: dict[str, str] | None = None, container_options=None) -> Path:
    """Write frames with PyAV directly (no evalkit tag), as another tool would."""
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001),
                                      options=options or {})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
        return True
    except Exception:  # noqa: BLE001
        return False


def cut(src: Path, dst: Path, *, fraction: float | None = None, nbytes: int | None = None) -> Path:
    data = src.read_bytes()
    n = nbytes if nbytes is not None else int(len(data) * fraction)
    dst.write_bytes(data[:n])
    return dst


def assert_read_error(path: Path, *words: str, **kwargs) -> VideoReadError:
    """read_video(path) raises VideoReadError naming the file (and containing ``words``)."""
    with pytest.raises(VideoReadError) as info:
        read_video(path, **kwargs)
    message = str(info.value)
    assert path.name in message, message
    for word in words:
        assert word in message, message
    return info.value


# ----------------------------------------------------------------------------------------------
# Real camera clips
# ----------------------------------------------------------------------------------------------


def real_videos_dir() -> Path:
    env = os.environ.get("EVALKIT_REAL_VIDEOS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real_videos"


def real_rows() -> list:
    manifest = real_videos_dir() / "manifest.tsv"
    if not manifest.is_file():
        reason = f"real videos not found ({manifest} missing; set EVALKIT_REAL_VIDEOS)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="absent")]
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [pytest.param(row, id=row["file"]) for row in rows]


# Clips up to this many frames are decoded whole (frame count checked on decoded frames); the
# two long ones (1189 and 1394 frames, ~0.8 and 1.4 GB as RGB) are checked through their
# exact mp4 header count and a decoded prefix. Measured: all 25 together take ~1.5 s.
FULL_DECODE_MAX_FRAMES = 300


@pytest.mark.parametrize("row", real_rows())
def test_real_video(row: dict) -> None:
    path = real_videos_dir() / row["file"]
    width, height = int(row["width"]), int(row["height"])
    fps, frames = float(row["fps"]), int(row["frames"])

    info = probe_video(path)
    assert (info.width, info.height) == (width, height)
    assert info.fps == pytest.approx(fps, abs=1e-3)  # manifest rounds fps to 3 decimals
    if info.num_frames_exact:  # mp4: the header's count (all 3 match the manifest exactly)
        assert info.num_frames == frames
    else:  # mkv: duration * fps, measured 0..1 frames high here; allow 2
        assert abs(info.num_frames - frames) <= 2
    assert info.duration_s == pytest.approx(frames / fps, abs=3 / fps)

    if frames <= FULL_DECODE_MAX_FRAMES:
        clip = read_video(path)
        # Locally every clip decodes to exactly the manifest's count; one frame of slack
        # covers FFmpeg versions that handle a trailing B-frame / edit list differently.
        assert abs(clip.num_frames - frames) <= 1
    else:
        clip = read_video(path, first_frames=32)
        assert clip.num_frames == 32
    assert clip.frames.shape[1:] == (height, width, 3)
    assert clip.frames.dtype == np.uint8
    assert clip.fps == pytest.approx(fps, abs=1e-3)
    assert clip.metadata["source_file"] == str(path)
    assert clip.frames[0].std() > 1.0  # real content, not a blank frame


def test_real_long_mp4_rejected_from_header() -> None:
    """An over-limit mp4 is refused from its declared frame count, before decoding."""
    path = real_videos_dir() / "intel-iot-devkit" / "one-by-one-person-detection.mp4"
    if not path.is_file():
        pytest.skip(f"real videos not found ({path})")
    error = assert_read_error(path, "about 1394 frames", "max_frames=100", max_frames=100)
    assert "1394" in error.reason
    assert_read_error(path, "max_duration_s=60", max_duration_s=60)
    assert_read_error(path, "max_pixels=100000", max_pixels=100_000)


def test_real_mkv_truncated(tmp_path: Path) -> None:
    """A cut mkv (no frame count in the container) is caught by its declared duration."""
    src = real_videos_dir() / "intel-iot-devkit" / "again.mkv"
    if not src.is_file():
        pytest.skip(f"real videos not found ({src})")
    assert_read_error(cut(src, tmp_path / "again_half.mkv", fraction=0.5), "truncated")
    assert_read_error(cut(src, tmp_path / "again_90.mkv", fraction=0.9), "truncated")
    assert_read_error(cut(src, tmp_path / "again_100b.mkv", nbytes=100))
    # ... while the whole file is fine, and its prefix can still be read on purpose.
    assert read_video(src).num_frames == 77
    assert read_video(tmp_path / "again_half.mkv", first_frames=10).num_frames == 10


# ----------------------------------------------------------------------------------------------
# Round trips through write_video
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fps", [8.0, 29.97, 30000 / 1001, 12.5, 24.0, 1 / 3])
def test_round_trip_fps_shape_metadata_pixels(tmp_path: Path, fps: float) -> None:
    clip = smooth_clip(fps=fps, prompt="a red ball falls", seed=7, generator="world")
    path = write_video(tmp_path / "clip.mp4", clip)
    assert path == tmp_path / "clip.mp4"
    back = read_video(path)
    assert back.frames.shape == clip.frames.shape
    assert back.fps == fps  # exact: the float is stored in the tag
    assert back.metadata == {**clip.metadata, "source_file": str(path)}
    assert mae(back.frames, clip.frames) < 3.0  # crf 18 on smooth content


@pytest.mark.parametrize("ext", [".mp4", ".mov", ".mkv"])
def test_round_trip_containers(tmp_path: Path, ext: str) -> None:
    clip = smooth_clip(fps=29.97, prompt="x")
    path = write_video(tmp_path / f"clip{ext}", clip)
    back = read_video(path)
    assert back.frames.shape == clip.frames.shape
    assert back.fps == 29.97
    assert back.metadata["prompt"] == "x"
    assert mae(back.frames, clip.frames) < 3.0
    info = probe_video(path)
    assert (info.num_frames, info.num_frames_exact, info.fps) == (16, True, 29.97)
    assert info.metadata == {"prompt": "x"}


def test_round_trip_is_deterministic(tmp_path: Path) -> None:
    clip = smooth_clip()
    a = read_video(write_video(tmp_path / "a.mp4", clip))
    b = read_video(write_video(tmp_path / "b.mp4", clip))
    np.testing.assert_array_equal(a.frames, b.frames)


@pytest.mark.parametrize("hw", [(33, 47), (64, 17), (17, 64), (1, 1), (2, 2), (5, 3)])
def test_round_trip_odd_sizes(tmp_path: Path, hw: tuple[int, int]) -> None:
    """Odd sizes are written as yuv444p and come back with exactly the same shape."""
    clip = smooth_clip(h=hw[0], w=hw[1])
    if min(hw) < 16:  # too small for a gradient to be smooth: one colour per frame instead
        colours = smooth_clip(h=1, w=1).frames
        clip = Clip(np.ascontiguousarray(np.broadcast_to(colours, (16, *hw, 3))), 8.0)
    back = read_video(write_video(tmp_path / "odd.mp4", clip))
    assert back.frames.shape == clip.frames.shape
    assert mae(back.frames, clip.frames) < 3.0
    with av.open(str(tmp_path / "odd.mp4")) as container:
        pix_fmt = container.streams.video[0].codec_context.pix_fmt
    assert pix_fmt == ("yuv420p" if hw[0] % 2 == 0 and hw[1] % 2 == 0 else "yuv444p")


def test_metadata_round_trip_rich(tmp_path: Path) -> None:
    metadata = {
        "prompt": "Ein Ball fällt 🎈 — «vite» " + "x" * 20_000,  # unicode and long
        "seed": np.int64(3),  # numpy scalars and arrays become JSON numbers and lists
        "scores": np.array([0.5, 1.5]),
        "nested": {"a": [1, 2, {"b": None}], "ok": True, "inf": float("inf")},
        "source_file": "/somewhere/else.mp4",  # replaced by the file actually read
    }
    path = write_video(tmp_path / "m.mp4", smooth_clip(**metadata))
    back = read_video(path)
    assert back.metadata == {
        **metadata, "seed": 3, "scores": [0.5, 1.5], "source_file": str(path)}


def test_file_trimmed_after_writing_is_not_truncated(tmp_path: Path) -> None:
    """A tool that cuts our file cleanly keeps our tag; the stale count must not fail reads."""
    src = write_video(tmp_path / "whole.mp4", smooth_clip(prompt="kept"))
    dst = tmp_path / "trimmed.mp4"
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        out.metadata.update(inp.metadata)  # as ffmpeg -c copy does by default
        in_stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        for packet in inp.demux(in_stream):
            if packet.dts is None or packet.pts is None:
                continue
            if packet.pts * in_stream.time_base >= 1.0:  # keep the first second (8 frames)
                continue
            packet.stream = out_stream
            out.mux(packet)
    back = read_video(dst)
    assert back.num_frames == 8 and back.fps == 8.0
    assert back.metadata["prompt"] == "kept"


def test_write_rejects_bad_arguments(tmp_path: Path) -> None:
    clip = smooth_clip()
    for name in ("a.avi", "a.gif", "a.webm", "a.txt", "noext"):
        with pytest.raises(ValueError, match="not supported"):
            write_video(tmp_path / "sub" / name, clip)
    assert not (tmp_path / "sub").exists()  # nothing created for a refused call
    for crf in (-1, 52, 1.5):
        with pytest.raises(ValueError, match="crf"):
            write_video(tmp_path / "a.mp4", clip, crf=crf)
    with pytest.raises(ValueError, match="preset"):
        write_video(tmp_path / "a.mp4", clip, preset="turbo")
    with pytest.raises(ValueError, match="encoder"):
        write_video(tmp_path / "a.mp4", clip, codec="no-such-codec")
    with pytest.raises(TypeError):
        write_video(tmp_path / "a.mp4", clip.frames)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="JSON"):
        write_video(tmp_path / "a.mp4", clip.with_metadata(bad=object()))
    assert list(tmp_path.iterdir()) == []


def test_write_creates_parents_overwrites_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "clip.mp4"
    write_video(target, smooth_clip(prompt="one"))
    write_video(target, smooth_clip(t=8, prompt="two"))  # overwrite in place
    back = read_video(target)
    assert (back.num_frames, back.metadata["prompt"]) == (8, "two")
    assert sorted(p.name for p in target.parent.iterdir()) == ["clip.mp4"]


@pytest.mark.parametrize("error", [RuntimeError("encoder died"), KeyboardInterrupt()])
def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         error: BaseException) -> None:
    """An interrupted write leaves the old file intact and no temp file behind."""
    target = tmp_path / "clip.mp4"
    write_video(target, smooth_clip(prompt="old"))
    before = target.read_bytes()
    real_encode = video._encode

    def failing_encode(tmp: Path, clip: Clip, **kwargs) -> None:
        real_encode(tmp, clip, **kwargs)  # a complete temp file exists ...
        assert tmp.is_file() and tmp.parent == target.parent and tmp.name.startswith(".")
        raise error  # ... and the process is interrupted before the rename

    monkeypatch.setattr(video, "_encode", failing_encode)
    with pytest.raises(type(error)):
        write_video(target, smooth_clip(prompt="new"))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_write_read_is_fast(tmp_path: Path) -> None:
    """16x64x64 write + read takes a few ms (~5 ms measured); the bound is loose for CI."""
    clip = smooth_clip()
    times = []
    for i in range(5):
        start = time.perf_counter()
        read_video(write_video(tmp_path / f"{i}.mp4", clip))
        times.append(time.perf_counter() - start)
    assert sorted(times)[2] < 0.1


# ----------------------------------------------------------------------------------------------
# Files other tools wrote
# ----------------------------------------------------------------------------------------------

# (extension, encoder, pixel format, mean-abs-error bound)
FOREIGN = [
    (".mp4", "libx264", "yuv420p", 3.0),
    (".mov", "libx264", "yuv420p", 3.0),
    (".mkv", "libx264", "yuv420p", 3.0),
    (".avi", "mpeg4", "yuv420p", 6.0),
    (".webm", "libvpx-vp9", "yuv420p", 4.0),
    (".webm", "libvpx", "yuv420p", 4.0),
]


@pytest.mark.parametrize(("ext", "codec", "pix_fmt", "bound"), FOREIGN,
                         ids=[f"{e[1:]}-{c}" for e, c, _, _ in FOREIGN])
def test_read_foreign_formats(tmp_path: Path, ext: str, codec: str, pix_fmt: str,
                              bound: float) -> None:
    if not has_encoder(codec):
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    clip = smooth_clip(h=48, w=64)
    options = {"b": "2M"} if codec == "mpeg4" else {"crf": "10", "b": "0"} \
        if codec.startswith("libvpx") else {"crf": "18"}
    path = write_with_pyav(tmp_path / f"x{ext}", clip.frames, 8, codec, pix_fmt, options)
    back = read_video(path)
    assert back.frames.shape == clip.frames.shape
    assert back.fps == 8.0
    assert back.metadata == {"source_file": str(path)}  # no evalkit tag in a foreign file
    assert mae(back.frames, clip.frames) < bound
    info = probe_video(path)
    assert (info.width, info.height, info.fps) == (64, 48, 8.0)
    assert abs(info.num_frames - 16) <= 1 and info.duration_s == pytest.approx(2.0, abs=0.15)



@pytest.mark.parametrize(("degrees", "strip_at"), [(-90, "top"), (90, "bottom"), (180, "right")])
def test_display_rotation_is_applied(tmp_path: Path, degrees: int, strip_at: str) -> None:
    """A phone's portrait video: landscape frames plus a display-matrix rotation. Players show
    it turned; so does read_video (FFmpeg's convention: -90 = turn clockwise)."""
    import av

    frames = np.zeros((4, 16, 32, 3), np.uint8)
    frames[:, :, :8] = 255  # a white strip on the left edge
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "yuv420p"
        stream.options = {"crf": "10"}
        stream.set_display_rotation(degrees)
        for f in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(stream.encode())
    clip = read_video(path)
    upright = (32, 16) if abs(degrees) == 90 else (16, 32)
    assert clip.frames.shape == (4, *upright, 3)
    assert clip.metadata["display_rotation_deg"] == degrees % 360
    bright = clip.frames[0].mean(axis=2) > 128
    edge = {"top": bright[:8].mean(), "bottom": bright[-8:].mean(), "right": bright[:, -8:].mean()}
    assert edge[strip_at] > 0.9 and bright.mean() == pytest.approx(0.25, abs=0.05)

def gif_frames(t: int = 12, h: int = 48, w: int = 64) -> np.ndarray:
    """Colours that rgb8 (3-3-2 bit) can hold, so the gif palette loses (almost) nothing."""
    levels, blue = np.array([0, 36, 73, 109, 146, 182, 219, 255]), np.array([0, 85, 170, 255])
    tt, yy, xx = np.meshgrid(np.arange(t), np.arange(h), np.arange(w), indexing="ij")
    rgb = [levels[(xx // 8 + tt) % 8], levels[(yy // 6) % 8], blue[(xx // 16 + yy // 12) % 4]]
    return np.stack(rgb, axis=-1).astype(np.uint8)


@pytest.mark.parametrize("fps", [8, 10, 25])
def test_read_gif(tmp_path: Path, fps: int) -> None:
    """Gif delays are whole centiseconds (8 fps = 13, 12, 13 ... cs); fps is recovered."""
    if not has_encoder("gif"):
        pytest.skip("this FFmpeg build has no gif encoder")
    frames = gif_frames()
    path = write_with_pyav(tmp_path / "x.gif", frames, fps, "gif", "rgb8")
    back = read_video(path)
    assert back.frames.shape == frames.shape
    assert back.fps == float(fps)
    assert probe_video(path).fps == float(fps)
    assert mae(back.frames, frames) < 4.0


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------


def test_error_missing_empty_directory_text(tmp_path: Path) -> None:
    assert_read_error(tmp_path / "missing.mp4", "not found")
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert_read_error(tmp_path / "empty.mp4", "empty")
    (tmp_path / "folder.mp4").mkdir()
    assert_read_error(tmp_path / "folder.mp4", "directory")
    (tmp_path / "notes.mp4").write_text("this is not a video\n" * 50)
    assert_read_error(tmp_path / "notes.mp4", "not a video")
    (tmp_path / "noise.mkv").write_bytes(np.random.default_rng(0).bytes(4096))
    assert_read_error(tmp_path / "noise.mkv")
    for name in ("missing.mp4", "empty.mp4", "notes.mp4"):  # probe_video likewise
        with pytest.raises(VideoReadError, match=name):
            probe_video(tmp_path / name)


def test_error_audio_only(tmp_path: Path) -> None:
    if not has_encoder("aac"):
        pytest.skip("this FFmpeg build has no aac encoder")
    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert_read_error(path, "no video stream", "audio")


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".mov"])
def test_error_truncated_own_files(tmp_path: Path, ext: str) -> None:
    """Our files declare their frame count, so a cut anywhere in the frames is caught."""
    src = write_video(tmp_path / f"whole{ext}", noise_clip())
    assert read_video(src).num_frames == 48
    assert_read_error(cut(src, tmp_path / f"half{ext}", fraction=0.5), "truncated")
    assert_read_error(cut(src, tmp_path / f"mostly{ext}", fraction=0.9), "truncated")
    assert_read_error(cut(src, tmp_path / f"tiny{ext}", nbytes=100))


def test_error_truncated_foreign_files(tmp_path: Path) -> None:
    frames = noise_clip().frames
    # mp4 with its index at the end (FFmpeg's default): a cut file cannot even be opened.
    mp4 = write_with_pyav(tmp_path / "plain.mp4", frames, 8, "libx264", "yuv420p")
    assert_read_error(cut(mp4, tmp_path / "plain_half.mp4", fraction=0.5), "truncated")
    assert_read_error(cut(mp4, tmp_path / "plain_tiny.mp4", nbytes=100))
    # mp4 with its index first: frames decode up to the cut, the declared count catches it.
    fast = write_with_pyav(tmp_path / "fast.mp4", frames, 8, "libx264", "yuv420p",
                           container_options={"movflags": "+faststart"})
    assert_read_error(cut(fast, tmp_path / "fast_half.mp4", fraction=0.5),
                      "truncated", "of the 48 declared frames")
    # mkv without our tag: the declared duration catches it.
    mkv = write_with_pyav(tmp_path / "plain.mkv", frames, 8, "libx264", "yuv420p")
    assert_read_error(cut(mkv, tmp_path / "plain_half.mkv", fraction=0.5), "truncated")
    if has_encoder("gif"):  # gif: FFmpeg decodes a cut gif quietly; the trailer byte is gone
        gif = write_with_pyav(tmp_path / "x.gif", gif_frames(), 8, "gif", "rgb8")
        assert_read_error(cut(gif, tmp_path / "x_half.gif", fraction=0.5), "truncated")
        assert_read_error(cut(gif, tmp_path / "x_tiny.gif", nbytes=100))


def test_limits(tmp_path: Path) -> None:
    path = write_video(tmp_path / "c.mp4", smooth_clip())  # 16 frames, 64x64, 8 fps = 2 s
    # At the limit is fine.
    clip = read_video(path, max_frames=16, max_pixels=64 * 64, max_duration_s=2.0)
    assert clip.num_frames == 16
    # Over it: refused from the header when clearly over, else while decoding.
    assert_read_error(path, "max_frames=10", max_frames=10)
    assert_read_error(path, "max_frames=15", max_frames=15)
    assert_read_error(path, "max_pixels=4095", max_pixels=64 * 64 - 1)
    assert_read_error(path, "max_duration_s=1.9", max_duration_s=1.9)
    assert_read_error(path, "max_duration_s=1", max_duration_s=1.0)
    # The same on a file without a declared count (mkv written by another tool).
    mkv = write_with_pyav(tmp_path / "c.mkv", smooth_clip().frames, 8, "libx264", "yuv420p")
    assert read_video(mkv, max_frames=16, max_duration_s=2.0).num_frames == 16
    assert_read_error(mkv, "max_frames=15", max_frames=15)
    assert_read_error(mkv, "max_duration_s=1.5", max_duration_s=1.5)
    # Bad limit values are the caller's bug: a plain ValueError, not a read error.
    for bad in ({"max_frames": 0}, {"max_pixels": -1}, {"max_duration_s": float("nan")},
                {"first_frames": 0}):
        with pytest.raises(ValueError) as info:
            read_video(path, **bad)
        assert not isinstance(info.value, VideoReadError)


def test_any_failure_becomes_video_read_error(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_video(tmp_path / "c.mp4", smooth_clip())

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(video, "_read_header", boom)
    error = assert_read_error(path, "boom")
    assert isinstance(error.__cause__, RuntimeError)
    monkeypatch.undo()
    monkeypatch.setattr(av, "open", boom)
    assert_read_error(path, "boom")


def test_video_read_error_type() -> None:
    error = VideoReadError("/data/x.mp4", "file not found")
    assert isinstance(error, ValueError)
    assert (error.path, error.reason) == ("/data/x.mp4", "file not found")
    assert str(error) == "cannot read video '/data/x.mp4': file not found"
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.reason) == (VideoReadError, str(error), error.reason)


# ----------------------------------------------------------------------------------------------
# Partial reads, probing, folders
# ----------------------------------------------------------------------------------------------


def test_first_frames(tmp_path: Path) -> None:
    clip = smooth_clip()
    path = write_video(tmp_path / "c.mp4", clip)
    head = read_video(path, first_frames=5)
    assert head.num_frames == 5 and head.fps == 8.0
    assert mae(head.frames, clip.frames[:5]) < 3.0
    assert read_video(path, first_frames=100).num_frames == 16


def test_probe_video(tmp_path: Path) -> None:
    path = write_video(tmp_path / "c.mp4", smooth_clip(t=12, h=48, w=80, fps=12.5, seed=1))
    info = probe_video(path)
    assert info == VideoInfo(path=path, width=80, height=48, fps=12.5, num_frames=12,
                             duration_s=pytest.approx(0.96), codec="h264",
                             format=info.format, num_frames_exact=True, metadata={"seed": 1})
    assert "mp4" in info.format
    mkv = write_with_pyav(tmp_path / "c.mkv", smooth_clip(t=12).frames, 12.5, "libx264",
                          "yuv420p")
    info = probe_video(mkv)
    assert not info.num_frames_exact and abs(info.num_frames - 12) <= 1


def test_find_videos(tmp_path: Path) -> None:
    for name in ("b.mp4", "a.MKV", "c.webm", "d.gif", "e.avi", "f.mov", "notes.txt",
                 ".hidden.mp4", ".c.mp4.1234.tmp", "sub/g.mp4", "sub/deeper/h.mp4",
                 ".git/i.mp4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    names = [p.relative_to(tmp_path).as_posix() for p in find_videos(tmp_path)]
    assert names == ["a.MKV", "b.mp4", "c.webm", "d.gif", "e.avi", "f.mov"]
    names = [p.relative_to(tmp_path).as_posix() for p in find_videos(tmp_path, recursive=True)]
    assert names == ["a.MKV", "b.mp4", "c.webm", "d.gif", "e.avi", "f.mov",
                     "sub/deeper/h.mp4", "sub/g.mp4"]
    assert set(VIDEO_EXTENSIONS) == {".mp4", ".mkv", ".webm", ".avi", ".gif", ".mov"}
    with pytest.raises(FileNotFoundError):
        find_videos(tmp_path / "nope")
    with pytest.raises(NotADirectoryError):
        find_videos(tmp_path / "b.mp4")


def test_find_then_read_folder(tmp_path: Path) -> None:
    for i in range(3):
        write_video(tmp_path / f"{i}.mp4", smooth_clip(seed=i))
    shutil.copy(tmp_path / "0.mp4", tmp_path / "copy.mov")
    clips = [read_video(p) for p in find_videos(tmp_path)]
    assert [c.metadata["seed"] for c in clips] == [0, 1, 2, 0]
