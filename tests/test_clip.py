"""Tests of evalkit.clip: the Clip type, frame sampling and resizing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.clip import Clip, resize, sample_at_fps, sample_frames


def indexed_clip(t: int = 16, fps: float = 8.0, h: int = 4, w: int = 6) -> Clip:
    """A clip whose frame i is filled with the value i, so sampled indices can be read back."""
    frames = np.broadcast_to(np.arange(t, dtype=np.uint8)[:, None, None, None], (t, h, w, 3))
    return Clip(np.ascontiguousarray(frames), fps, {"prompt": "p"})


def indices(clip: Clip) -> list[int]:
    return clip.frames[:, 0, 0, 0].astype(int).tolist()


def random_frames(t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


# ----------------------------------------------------------------------------------------------
# Clip
# ----------------------------------------------------------------------------------------------


def test_clip_valid() -> None:
    frames = random_frames(5, 6, 7)
    clip = Clip(frames, 8, {"seed": 1})
    assert (clip.num_frames, clip.height, clip.width, len(clip)) == (5, 6, 7, 5)
    assert isinstance(clip.fps, float) and clip.fps == 8.0
    assert clip.duration_s == pytest.approx(5 / 8)
    assert clip.as_float().dtype == np.float32 and clip.as_float().max() <= 1.0
    assert clip.gray().shape == (5, 6, 7)
    assert "T=5" in repr(clip) and "seed" in repr(clip)
    assert Clip(frames, 8).metadata == {}


@pytest.mark.parametrize(
    ("frames", "error"),
    [
        (np.zeros((2, 4, 4, 3), np.float32), TypeError),  # dtype
        (np.zeros((2, 4, 4, 3), np.int16), TypeError),
        ([[[[0, 0, 0]]]], TypeError),  # not an array
        (np.zeros((4, 4, 3), np.uint8), ValueError),  # no time axis
        (np.zeros((2, 4, 4, 4), np.uint8), ValueError),  # RGBA
        (np.zeros((2, 4, 4, 1), np.uint8), ValueError),  # gray
        (np.zeros((0, 4, 4, 3), np.uint8), ValueError),  # empty
        (np.zeros((2, 0, 4, 3), np.uint8), ValueError),
    ],
)
def test_clip_rejects_bad_frames(frames, error) -> None:
    with pytest.raises(error):
        Clip(frames, 8.0)


@pytest.mark.parametrize("fps", [0, -1.0, float("nan"), float("inf")])
def test_clip_rejects_bad_fps(fps: float) -> None:
    with pytest.raises(ValueError):
        Clip(np.zeros((2, 4, 4, 3), np.uint8), fps)


def test_clip_makes_frames_contiguous() -> None:
    frames = random_frames(4, 8, 8)[:, ::2]  # a strided view
    clip = Clip(frames, 8.0)
    assert clip.frames.flags.c_contiguous
    np.testing.assert_array_equal(clip.frames, frames)


def test_clip_with_frames_and_metadata() -> None:
    clip = indexed_clip()
    other = clip.with_frames(clip.frames[:4], fps=2.0, seed=3)
    assert (other.num_frames, other.fps, other.metadata) == (4, 2.0, {"prompt": "p", "seed": 3})
    assert clip.with_metadata(prompt="q").metadata == {"prompt": "q"}
    assert clip.metadata == {"prompt": "p"}  # the original is untouched


# ----------------------------------------------------------------------------------------------
# sample_frames
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 8, 16])
def test_sample_frames_downsample(n: int) -> None:
    clip = indexed_clip(t=16, fps=8.0)
    out = sample_frames(clip, n)
    assert out.num_frames == n
    idx = indices(out)
    assert idx[0] == 0
    if n > 1:
        assert idx[-1] == 15  # first and last included
        assert idx == sorted(idx) and len(set(idx)) == n  # distinct, in order
    assert out.fps == pytest.approx(8.0 * n / 16)  # duration kept
    assert out.duration_s == pytest.approx(clip.duration_s)
    assert out.metadata == clip.metadata


def test_sample_frames_even_spacing() -> None:
    assert indices(sample_frames(indexed_clip(t=16), 4)) == [0, 5, 10, 15]
    assert indices(sample_frames(indexed_clip(t=9), 5)) == [0, 2, 4, 6, 8]


def test_sample_frames_upsample_repeats() -> None:
    out = sample_frames(indexed_clip(t=4, fps=8.0), 8)
    assert out.num_frames == 8
    idx = indices(out)
    assert idx[0] == 0 and idx[-1] == 3 and sorted(set(idx)) == [0, 1, 2, 3]
    assert all(b - a in (0, 1) for a, b in zip(idx, idx[1:]))  # repeats, no skips
    assert out.fps == pytest.approx(16.0)


def test_sample_frames_rejects_zero() -> None:
    with pytest.raises(ValueError):
        sample_frames(indexed_clip(), 0)


# ----------------------------------------------------------------------------------------------
# sample_at_fps
# ----------------------------------------------------------------------------------------------


def test_sample_at_fps_halving() -> None:
    out = sample_at_fps(indexed_clip(t=16, fps=8.0), 4.0)
    assert out.num_frames == 8 and out.fps == 4.0
    assert indices(out) == [0, 2, 4, 6, 8, 10, 12, 14]  # every other frame


def test_sample_at_fps_30_to_8() -> None:
    clip = indexed_clip(t=30, fps=30.0)  # 1 s
    out = sample_at_fps(clip, 8.0)
    assert out.num_frames == 8
    # Frame i shows the source frame on screen at t = i / 8 s: index floor(30 * i / 8).
    assert indices(out) == [int(np.floor(30 * i / 8)) for i in range(8)]
    assert indices(out) == [0, 3, 7, 11, 15, 18, 22, 26]
    assert out.duration_s == pytest.approx(clip.duration_s)


def test_sample_at_fps_identity_and_upsample() -> None:
    clip = indexed_clip(t=16, fps=8.0)
    assert indices(sample_at_fps(clip, 8.0)) == list(range(16))
    up = sample_at_fps(clip, 16.0)
    assert up.num_frames == 32 and indices(up) == [i // 2 for i in range(32)]


def test_sample_at_fps_ntsc() -> None:
    clip = indexed_clip(t=60, fps=30000 / 1001)
    out = sample_at_fps(clip, 10.0)
    times = np.arange(out.num_frames) / 10.0
    assert indices(out) == np.floor(times * clip.fps).astype(int).tolist()
    assert out.num_frames == int(np.floor(clip.duration_s * 10.0))


@pytest.mark.parametrize("fps", [0, -2.0, float("nan")])
def test_sample_at_fps_rejects_bad_fps(fps: float) -> None:
    with pytest.raises(ValueError):
        sample_at_fps(indexed_clip(), fps)


# ----------------------------------------------------------------------------------------------
# resize
# ----------------------------------------------------------------------------------------------


def torch_bilinear(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    y = torch.nn.functional.interpolate(x, size=(height, width), mode="bilinear",
                                        align_corners=False)
    return y.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize(("factor_h", "factor_w"), [(2, 2), (4, 2), (1, 3), (8, 8)])
def test_resize_integer_factor_is_block_mean(factor_h: int, factor_w: int) -> None:
    frames = random_frames(3, 16, 24)
    out = resize(Clip(frames, 8.0), 16 // factor_h, 24 // factor_w)
    blocks = frames.reshape(3, 16 // factor_h, factor_h, 24 // factor_w, factor_w, 3)
    expected = np.rint(blocks.astype(np.float64).mean(axis=(2, 4))).astype(np.uint8)
    assert out.frames.shape == expected.shape
    # float32 vs float64 means may round a .5 differently: allow one level, rarely.
    diff = np.abs(out.frames.astype(int) - expected)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


@pytest.mark.parametrize("size", [(5, 7), (10, 14), (24, 40), (13, 9), (3, 30), (21, 21)])
def test_resize_bilinear_matches_torch(size: tuple[int, int]) -> None:
    frames = random_frames(3, 14, 21)
    out = resize(Clip(frames, 8.0), *size)
    assert out.frames.shape == (3, *size, 3) and out.frames.dtype == np.uint8
    expected = torch_bilinear(frames, *size)
    assert np.abs(out.frames.astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.parametrize("size", [(5, 7), (64, 48), (1, 1), (33, 17)])
def test_resize_constant_stays_constant(size: tuple[int, int]) -> None:
    frames = np.full((2, 20, 30, 3), (17, 130, 250), dtype=np.uint8)
    out = resize(Clip(frames, 8.0), *size)
    assert out.frames.shape == (2, *size, 3)
    assert (out.frames == np.array([17, 130, 250], np.uint8)).all()


def test_resize_same_size_and_bad_size() -> None:
    clip = Clip(random_frames(2, 8, 8), 8.0, {"seed": 1})
    assert resize(clip, 8, 8) is clip
    out = resize(clip, 4, 4)
    assert (out.fps, out.metadata) == (8.0, {"seed": 1})
    for bad in ((0, 4), (4, -1)):
        with pytest.raises(ValueError):
            resize(clip, *bad)
