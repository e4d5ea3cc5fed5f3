"""Uploads an attacker would send to the moderation API: decompression bombs and fuzzed files.

Used by the API's tests and its benchmark (``benchmarks/bench_api.py``), so both measure the same
inputs. Every bomb is small on the wire and inside the default limits by its header, except where
its name says it is over one:

- ``gif_screen_bomb(frames)``: a GIF whose logical screen is 2880×2880 and whose frames are one
  pixel each (23 bytes per frame; a decoder composes every frame onto the full screen);
- ``video_bomb(width, height, frames, fps, codec)``: flat frames that compress to almost nothing
  (a 10 s 1080p H.264 clip is about 20 KB; 16 frames of 4K VP9 webm a few KB);
- :func:`fuzz_cases`: seeded mutations of small valid clips (bit flips, truncation, spliced
  headers, random bytes) and malformed requests, for a server that must answer each with a
  response below 500.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["FuzzCase", "LocalServer", "fuzz_cases", "gif_screen_bomb", "small_clips", "video_bomb"]


def gif_screen_bomb(frames: int = 10, side: int = 2880, delay_cs: int = 10) -> bytes:
    """A GIF89a with a ``side``×``side`` logical screen and ``frames`` 1×1-pixel images."""
    out = bytearray(b"GIF89a")
    out += struct.pack("<HHBBB", side, side, 0xF0, 0, 0)  # global colour table of 2 entries
    out += bytes([0, 0, 0, 255, 255, 255])
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for i in range(frames):
        out += b"\x21\xf9\x04\x00" + struct.pack("<H", delay_cs) + b"\x00\x00"
        out += b"\x2c" + struct.pack("<HHHH", i % side, 0, 1, 1) + b"\x00"
        # LZW, minimum code size 2: clear (4), index 0, end (5) in 3-bit codes, LSB first.
        out += b"\x02\x02\x44\x01\x00"
    out += b"\x3b"
    return bytes(out)


def video_bomb(width: int, height: int, frames: int, fps: int = 30, codec: str = "libx264",
               container: str = "mp4") -> bytes:
    """Flat grey frames of ``width``×``height`` encoded as tightly as the codec allows."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "51", "preset": "ultrafast"}
        frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 128, np.uint8), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        for i in range(frames):
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def small_clips(seed: int = 0) -> dict[str, bytes]:
    """Valid little clips to mutate: 16×64×64 H.264 mp4, VP9 webm and GIF of moving noise."""
    import av

    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (16, 64, 64, 3), dtype=np.uint8)
    clips = {}
    for name, codec, fmt, pix in (("mp4", "libx264", "mp4", "yuv420p"),
                                  ("webm", "libvpx-vp9", "webm", "yuv420p"),
                                  ("gif", "gif", "gif", "rgb8")):
        buffer = io.BytesIO()
        with av.open(buffer, "w", format=fmt) as out:
            stream = out.add_stream(codec, rate=8)
            stream.width, stream.height, stream.pix_fmt = 64, 64, pix
            for i, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix)
                frame.pts = i
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        clips[name] = buffer.getvalue()
    return clips


@dataclass
class FuzzCase:
    """One request: multipart ``files`` (list of (field, (name, bytes, type))), extra ``data``
    fields, ``headers``, or a raw ``body`` with its content type."""

    name: str
    files: list[tuple[str, tuple[str, bytes, str]]] = field(default_factory=list)
    data: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def request_kwargs(self) -> dict[str, Any]:
        if self.body is not None:
            return {"content": self.body, "headers": self.headers}
        return {"files": self.files, "data": self.data or None, "headers": self.headers}


def _mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    buf = bytearray(data)
    kind = rng.choice(["flip", "flip_many", "truncate", "zero_run", "splice", "duplicate", "header"])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
    elif kind == "flip_many":
        for _ in range(rng.randint(16, 256)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif kind == "truncate":
        buf = buf[: rng.randrange(1, len(buf))]
    elif kind == "zero_run":
        i = rng.randrange(len(buf))
        buf[i : i + rng.randint(4, 512)] = bytes(min(len(buf) - i, 512))
    elif kind == "splice":
        i, j = sorted(rng.randrange(len(buf)) for _ in range(2))
        buf = buf[:i] + buf[j:] + buf[i:j]
    elif kind == "duplicate":
        i = rng.randrange(len(buf))
        buf = buf[:i] + buf[i : i + rng.randint(1, 4096)] * rng.randint(2, 8) + buf[i:]
    else:  # large numbers in the first bytes (sizes, counts, dimensions)
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(min(len(buf), 256))
            buf[i] = rng.choice([0x00, 0x7F, 0x80, 0xFF])
    return kind, bytes(buf)


def fuzz_cases(n: int, seed: int = 0) -> Iterator[FuzzCase]:
    """``n`` seeded hostile requests: mostly mutated clips, plus random bytes, bombs, empty
    files, two files, the wrong field, a text field, no multipart at all."""
    rng = random.Random(seed)
    clips = small_clips(seed)
    bombs = {"gif_screen": gif_screen_bomb(10), "gif_screen_long": gif_screen_bomb(2000),
             "tiny_4k": video_bomb(3840, 2160, 4, codec="libx264")}
    for i in range(n):
        roll = rng.random()
        if roll < 0.70:
            base = rng.choice(sorted(clips))
            kind, data = _mutate(clips[base], rng)
            yield FuzzCase(f"{i}:{base}:{kind}", files=[("file", (f"f.{base}", data, "video/mp4"))])
        elif roll < 0.76:
            data = rng.randbytes(rng.randint(0, 4096))
            yield FuzzCase(f"{i}:random", files=[("file", ("r.mp4", data, "video/mp4"))])
        elif roll < 0.82:
            name = rng.choice(sorted(bombs))
            yield FuzzCase(f"{i}:bomb:{name}", files=[("file", (name, bombs[name], "image/gif"))])
        elif roll < 0.86:
            a, b = rng.sample(sorted(clips), 2)
            yield FuzzCase(f"{i}:two_files", files=[("file", ("a", clips[a], "video/mp4")),
                                                    ("file", ("b", clips[b], "video/mp4"))])
        elif roll < 0.89:
            yield FuzzCase(f"{i}:wrong_field", files=[("video", ("a.mp4", clips["mp4"], "video/mp4"))])
        elif roll < 0.92:
            yield FuzzCase(f"{i}:text_field", data={"file": "/etc/passwd"})
        elif roll < 0.95:
            yield FuzzCase(f"{i}:raw_body", body=clips["mp4"], headers={"content-type": "video/mp4"})
        elif roll < 0.97:
            yield FuzzCase(f"{i}:bad_boundary", body=b"--x\r\n\r\n" + rng.randbytes(200),
                           headers={"content-type": "multipart/form-data; boundary=y"})
        else:
            yield FuzzCase(f"{i}:name", files=[("file", ("../" * 40 + "\x00evil" * 50, clips["gif"], "x/y"))])


# ----------------------------------------------------------------------------------------------
# A real server to send them to
# ----------------------------------------------------------------------------------------------


class LocalServer:
    """``python -m detectors serve`` in a child process on a free 127.0.0.1 port, with its
    memory read from ``/proc`` (``peak_rss_mb``: the kernel's high-water mark, VmHWM).

    Use as a context manager; ``args`` are extra ``serve`` options (e.g. ``["--model",
    "evalkit-detector-2"]``), ``env`` extra environment variables.
    """

    def __init__(self, args: list[str] | None = None, env: dict[str, str] | None = None,
                 start_timeout_s: float = 180.0) -> None:
        self.args, self.env, self.start_timeout_s = list(args or []), dict(env or {}), start_timeout_s
        self.port = 0
        self.proc: Any = None
        self.log_path: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LocalServer:
        import os
        import socket
        import subprocess
        import sys
        import tempfile
        import time

        import httpx

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.log_path = tempfile.NamedTemporaryFile(prefix="evalkit-serve-", suffix=".log", delete=False).name
        log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in __exit__ via the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "detectors", "serve", "--port", str(self.port), *self.args],
            stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **self.env})
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError(f"server did not answer within {self.start_timeout_s:g} s")

    def log(self) -> str:
        from pathlib import Path

        return Path(self.log_path).read_text(errors="replace") if self.log_path else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def memory_mb(self) -> dict[str, float]:
        """``rss_mb`` now and ``peak_rss_mb`` (VmHWM) of the server process."""
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key = "rss_mb" if line.startswith("VmRSS") else "peak_rss_mb"
                    out[key] = int(line.split()[1]) / 1024
        return out

    def __exit__(self, *exc: Any) -> None:
        import os
        import subprocess

        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if exc and exc[0] is None and self.log_path:
            os.unlink(self.log_path)
