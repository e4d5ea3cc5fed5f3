"""The weight-free metrics and the torchmetrics-style metric API."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, MetricError, summarize_numeric
from evalkit.metrics.flicker import TemporalFlickering
from evalkit.metrics.motion import MotionMagnitude


def translating_clip(shift_px: float, frames: int = 8, size: int = 64, fps: float = 8) -> Clip:
    """A smooth random texture moving right by ``shift_px`` per frame."""
    rng = np.random.default_rng(0)
    base = ndimage.gaussian_filter(rng.uniform(0, 255, (3 * size, 3 * size)), 2)
    base = (base - base.min()) / (base.max() - base.min()) * 255
    out = []
    for t in range(frames):
        img = ndimage.shift(base, (0.0, shift_px * t), order=1, mode="wrap")[size: 2 * size,
                                                                            size: 2 * size]
        out.append(np.repeat(img[..., None], 3, axis=-1))
    return Clip(np.clip(np.rint(out), 0, 255).astype(np.uint8), fps)


def test_flicker_static_and_known_difference() -> None:
    static = Clip(np.full((5, 8, 8, 3), 100, np.uint8), 8)
    assert TemporalFlickering().score(static, ClipContext())["temporal_flickering"] == 1.0
    frames = np.zeros((4, 8, 8, 3), np.uint8)
    frames[1::2] = 51  # every pair differs by 51 everywhere
    value = TemporalFlickering().score(Clip(frames, 8), ClipContext())
    assert value["mean_abs_diff"] == pytest.approx(51.0)
    assert value["temporal_flickering"] == pytest.approx((255 - 51) / 255)


@pytest.mark.parametrize("shift", [0.5, 1.0, 2.0, 4.0])
def test_motion_magnitude_recovers_known_shift(shift: float) -> None:
    values = MotionMagnitude().score(translating_clip(shift), ClipContext())
    assert values["flow_px_per_frame_mean"] == pytest.approx(shift, rel=0.1)
    assert values["flow_px_per_frame_top"] == pytest.approx(shift, rel=0.3)
    assert values["motion_magnitude"] == pytest.approx(
        values["flow_px_per_frame_top"] * 8 / 64)


def test_motion_is_monotonic_and_zero_when_static() -> None:
    scores = [MotionMagnitude().score(translating_clip(s), ClipContext())["motion_magnitude"]
              for s in (0.0, 1.0, 3.0)]
    assert scores[0] == 0.0
    assert scores[0] < scores[1] < scores[2]


def test_single_frame_is_an_error_not_a_default() -> None:
    one = Clip(np.zeros((1, 8, 8, 3), np.uint8), 8)
    for metric in (TemporalFlickering(), MotionMagnitude()):
        with pytest.raises(MetricError, match="at least 2 frames"):
            metric.score(one, ClipContext())


def test_update_compute_reset_as_torchmetrics() -> None:
    metric = TemporalFlickering()
    with pytest.raises(MetricError):
        metric.compute()
    metric.update(Clip(np.zeros((3, 4, 4, 3), np.uint8), 8))
    frames = np.zeros((3, 4, 4, 3), np.uint8)
    frames[1] = 255
    metric.update(Clip(frames, 8))
    result = metric.compute()["temporal_flickering"]
    assert result["n"] == 2 and result["mean"] == pytest.approx(0.5)
    metric.reset()
    assert metric.per_clip == []
    assert metric.info()["higher_is_better"] is True


def test_options_are_validated() -> None:
    with pytest.raises(ValueError):
        MotionMagnitude(levles=2)
    with pytest.raises(ValueError):
        TemporalFlickering(anything=1)


def test_summarize_skips_non_numeric() -> None:
    out = summarize_numeric([{"a": 1.0, "s": "pass"}, {"a": 3.0, "s": "fail", "b": True}])
    assert out == {"a": {"mean": 2.0, "std": 1.0, "median": 2.0, "n": 2}}
