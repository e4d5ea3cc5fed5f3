"""FVD/KVD respond to damage: monotone in the strength of noise, blur and frame shuffling.

Fast tests damage the reference set itself (FVD starts at exactly 0); the slow ones compare
independent world renders of the same distribution (the undamaged FVD is the sampling floor,
not 0) and need a larger N for the floor to be steady.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.clip import Clip
from evalkit.metrics.evaluator_scoring import BUNDLED_WEIGHTS
from evalkit.metrics.video_features.corruptions import corrupt
from evalkit.metrics.video_features.distances import frechet_distance_from_features

LEVELS = {"noise": [0, 16, 40, 96], "blur": [0, 1, 2, 4], "shuffle": [0, 0.25, 0.5, 1.0]}


def _sets(n: int) -> tuple[np.ndarray, np.ndarray]:
    from evalkit.metrics.evaluator_data import split_rng, world_examples

    ref, _, _ = world_examples(split_rng(11, "heldout"), n)
    gen, _, _ = world_examples(split_rng(12, "heldout"), n)
    return ref, gen


@pytest.fixture(scope="module")
def world_sets() -> tuple[np.ndarray, np.ndarray]:
    return _sets(48)


def _fvd_curve(features, ref: np.ndarray, gen: np.ndarray, kind: str) -> list[float]:
    ref_feats = features(ref).numpy()
    return [frechet_distance_from_features(ref_feats, features(corrupt(gen, kind, s, seed=5)).numpy())
            for s in LEVELS[kind]]


def test_corruptions_shapes_and_shuffle_keeps_frames() -> None:
    v = np.random.default_rng(0).integers(0, 256, size=(2, 16, 8, 8, 3), dtype=np.uint8)
    for kind, levels in LEVELS.items():
        for s in levels:
            out = corrupt(v, kind, s)
            assert out.shape == v.shape and out.dtype == np.uint8
    assert np.array_equal(corrupt(v, "noise", 0), v)
    shuffled = corrupt(v, "shuffle", 1.0)
    assert not np.array_equal(shuffled, v)
    assert np.array_equal(np.sort(shuffled.reshape(2, 16, -1), axis=1), np.sort(v.reshape(2, 16, -1), axis=1))
    with pytest.raises(ValueError):
        corrupt(v, "rotate", 1.0)


@pytest.mark.skipif(not BUNDLED_WEIGHTS.is_file(), reason="evaluator weights not built")
@pytest.mark.parametrize("kind", list(LEVELS))
def test_evaluator_fvd_rises_monotonically(world_sets, kind: str) -> None:
    from evalkit.metrics.video_features.backbones import build_backbone

    torch.set_num_threads(2)
    backbone = build_backbone("evaluator")
    ref = world_sets[0]
    curve = _fvd_curve(backbone.features, ref, ref, kind)
    assert curve[0] == pytest.approx(0.0, abs=1e-6)
    assert all(b > a for a, b in zip(curve, curve[1:])), (kind, curve)
    assert curve[-1] > 10.0, (kind, curve)  # temporal damage alone moves it clearly


@pytest.mark.slow
@pytest.mark.skipif(not BUNDLED_WEIGHTS.is_file(), reason="evaluator weights not built")
@pytest.mark.parametrize("kind", list(LEVELS))
def test_evaluator_fvd_rises_monotonically_on_independent_sets(kind: str) -> None:
    from evalkit.metrics.video_features.backbones import build_backbone

    torch.set_num_threads(2)
    curve = _fvd_curve(build_backbone("evaluator").features, *_sets(160), kind)
    assert all(b > a for a, b in zip(curve, curve[1:])), (kind, curve)
    assert curve[-1] > 2.5 * curve[0], (kind, curve)


@pytest.mark.skipif(not BUNDLED_WEIGHTS.is_file(), reason="evaluator weights not built")
def test_runner_adapters_fvd_and_kvd(world_sets) -> None:
    from evalkit import registry
    from evalkit.metrics.fvd import FVD, KVD

    ref, gen = world_sets
    registry.register("metric", "fvd_test", "evalkit.metrics.fvd:FVD")
    try:
        cls = registry.load("metric", "fvd_test")
    finally:
        registry.unregister("metric", "fvd_test")
    assert cls is FVD
    metric = FVD(backbone="evaluator", kvd_subsets=10)
    for _ in range(2):  # the runner reuses instances: reset must clear both sides
        metric.reset()
        metric.update([Clip(v, 8.0) for v in ref[:32]], real=True)
        metric.update([Clip(v, 8.0) for v in gen[:32]], real=False)
        values = metric.compute()
        assert values["n_real"] == values["n_fake"] == 32
    assert {"fvd", "kvd", "kvd_std", "backbone", "frames", "resolution"} <= set(values)
    assert values["backbone"] == "evaluator" and metric.primary in values
    kvd = KVD(backbone="evaluator", kvd_subsets=10)
    kvd.reset()
    kvd.update([Clip(v, 8.0) for v in ref[:32]], real=True)
    kvd.update([Clip(v, 8.0) for v in gen[:32]], real=False)  # same distribution, other clips
    same = kvd.compute()["kvd"]
    assert abs(same) < 0.15  # unbiased: ~0 up to sampling noise (std ~0.1 at N = 32)
    kvd.reset()
    kvd.update([Clip(v, 8.0) for v in ref[:32]], real=True)
    kvd.update([Clip(v, 8.0) for v in corrupt(gen[:32], "noise", 96)], real=False)
    assert kvd.compute()["kvd"] > 0.3 > abs(same) + 0.1

    from evalkit.metrics.base import MetricError

    unequal = FVD(backbone="evaluator")
    unequal.update([Clip(v, 8.0) for v in ref[:10]], real=True)
    unequal.update([Clip(v, 8.0) for v in gen[:12]], real=False)
    with pytest.raises(MetricError, match="allow_unequal_n"):
        unequal.compute()
    with pytest.raises(Exception):
        FVD(backbone="resnet")


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(LEVELS))
def test_random_i3d_fvd_rises_monotonically(world_sets, kind: str) -> None:
    """Random-init I3D at the real FVD input (16 x 224 x 224): slow on CPU."""
    from evalkit.metrics.i3d import InceptionI3d
    from evalkit.metrics.video_features.backbones import I3DBackbone

    torch.set_num_threads(2)
    torch.manual_seed(0)
    backbone = I3DBackbone(InceptionI3d().eval(), batch_size=8)
    ref = world_sets[0][:16]
    curve = _fvd_curve(backbone.features, ref, ref, kind)
    assert curve[-1] > curve[0], (kind, curve)
