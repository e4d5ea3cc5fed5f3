"""Provenance marks: metadata label + robust watermark (evalkit.provenance)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evalkit.clip import Clip, resize
from evalkit.provenance import (P_THRESHOLD, default_payload, detect_watermark, mark_clip,
                                payload_to_int, read_marks)
from evalkit.video import read_video, write_video
from evalkit.world import render, sample_scene


def _world(i: int) -> Clip:
    return render(sample_scene(np.random.default_rng(i)), seed=i).clip


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


def _bit_accuracy(a: int, b: int) -> float:
    return 1 - bin(a ^ b).count("1") / 32


def test_mark_then_read_in_memory() -> None:
    clip = _world(0)
    marked = mark_clip(clip, generator="ref", version="1.0", payload=0xDEADBEEF)
    assert marked.frames.shape == clip.frames.shape and marked.frames.dtype == np.uint8
    assert _psnr(marked.frames, clip.frames) > 25
    marks = read_marks(marked)
    assert marks["metadata_label"] == {"ai_generated": True, "generator": "ref",
                                       "version": "1.0", "watermark": "evalkit-ss-v1",
                                       "payload": "0xdeadbeef"}
    wm = marks["watermark"]
    assert wm["detected"] and wm["p_value"] < 1e-6 and wm["payload"] == 0xDEADBEEF
    assert marked.metadata["ai_generated"] is True


def test_unmarked_clips_are_not_detected() -> None:
    rng = np.random.default_rng(0)
    p_values = []
    for i in range(12):
        p_values.append(detect_watermark(_world(100 + i).frames)["p_value"])
        noise = rng.integers(0, 256, (8, 48, 64, 3), dtype=np.uint8)
        p_values.append(detect_watermark(noise)["p_value"])
    assert min(p_values) > P_THRESHOLD
    assert all(0.0 <= p <= 1.0 for p in p_values)
    flat = np.full((4, 32, 32, 3), 128, np.uint8)
    assert detect_watermark(flat) == {**detect_watermark(flat), "detected": False, "p_value": 1.0}


def test_survives_h264_crf23_and_resize(tmp_path: Path) -> None:
    accs = []
    for i in range(4):
        payload = int(np.random.default_rng(i).integers(0, 2 ** 32))
        marked = mark_clip(_world(i), generator="ref", version="1", payload=payload)
        write_video(tmp_path / f"{i}.mp4", marked, crf=23)
        back = read_video(tmp_path / f"{i}.mp4")
        assert back.metadata["provenance"]["payload"] == f"0x{payload:08x}"
        small = resize(back, 32, 32)
        wm = detect_watermark(small.frames)
        assert wm["detected"], wm
        accs.append(_bit_accuracy(wm["payload"], payload))
    assert np.mean(accs) >= 0.95


def test_read_marks_from_file_and_unlabelled_file(tmp_path: Path) -> None:
    marked = mark_clip(_world(3), generator="g", version="v")
    write_video(tmp_path / "m.mp4", marked)
    write_video(tmp_path / "u.mp4", _world(3))
    m = read_marks(tmp_path / "m.mp4")
    assert m["metadata_label"]["generator"] == "g"
    assert m["watermark"]["payload"] == default_payload("g", "v")
    u = read_marks(tmp_path / "u.mp4")
    assert u["metadata_label"] is None and not u["watermark"]["detected"]


def test_payload_forms() -> None:
    assert payload_to_int(b"\x01\x02") == 0x0102
    assert payload_to_int(7) == 7
    assert payload_to_int(None, "a", "b") == default_payload("a", "b")
    with pytest.raises(ValueError):
        payload_to_int(b"12345")
    with pytest.raises(ValueError):
        payload_to_int(2 ** 32)
    with pytest.raises(TypeError):
        payload_to_int("12")  # type: ignore[arg-type]


def test_no_false_detections_on_real_clips(real_videos: Path) -> None:
    from evalkit.video import find_videos

    files = find_videos(real_videos, recursive=True)
    detected = [f for f in files
                if detect_watermark(read_video(f, first_frames=16).frames)["detected"]]
    assert not detected


def test_cli_mark_and_provenance(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    write_video(tmp_path / "in.mp4", _world(9))
    run = [sys.executable, "-m", "detectors"]
    subprocess.run([*run, "mark", str(tmp_path / "in.mp4"), str(tmp_path / "out.mp4"),
                    "--generator", "cli", "--version", "2", "--payload", "0xABCD1234"],
                   check=True, cwd=repo, capture_output=True, timeout=120)
    proc = subprocess.run([*run, "provenance", str(tmp_path / "out.mp4"),
                           str(tmp_path / "in.mp4"), str(tmp_path / "missing.mp4")],
                          cwd=repo, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    marked, plain, missing = (json.loads(x) for x in proc.stdout.splitlines())
    assert marked["metadata_label"]["generator"] == "cli"
    assert marked["watermark"]["detected"] and marked["watermark"]["payload_hex"] == "0xabcd1234"
    assert plain["metadata_label"] is None and not plain["watermark"]["detected"]
    assert "missing.mp4" in missing["error"]
