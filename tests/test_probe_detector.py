"""The real-video detector (``detectors.probe``): window normalisation, the linear probe, the
same probability from a clip and from its file, bounded memory, and the evaluation metrics."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from detectors.probe import (
    WINDOW,
    FeatureExtractor,
    LinearProbe,
    ProbeDetector,
    normalise_window,
    read_windows,
    residual_features,
    window_plan,
    window_stride,
)
from evalkit.clip import Clip
from evalkit.metrics.i3d import InceptionI3d
from evalkit.video import write_video


def test_window_stride_spans_two_seconds_at_any_frame_rate() -> None:
    assert [window_stride(f) for f in (6, 8, 12.5, 24, 25, 30, 59.94)] == [1, 1, 2, 3, 3, 4, 7]
    assert window_stride(float("nan")) == 1


def test_window_plan_spreads_windows_over_the_whole_clip() -> None:
    plan = window_plan(3000, 30.0, max_windows=8)  # 100 s
    starts = [s for s, _ in plan]
    assert len(plan) == 8 and starts[0] == 0 and all(stride == 4 for _, stride in plan)
    assert starts[-1] == 3000 - (15 * 4 + 1)  # the last window ends at the last frame
    assert window_plan(10, 8.0) == [(0, 1)]  # shorter than a window: one, padded
    assert [s for s, _ in window_plan(40, 8.0, max_windows=8)] == [0, 12, 24]  # cover all 40 frames


def test_normalised_window_drops_corners_and_pads_short_windows() -> None:
    frame = np.zeros((360, 640, 3), dtype=np.uint8)
    frame[-30:, -60:] = 255  # a logo in the bottom-right corner
    frame[150:210, 290:350] = 128  # content in the middle
    out = normalise_window([frame] * 5)
    assert out.shape == (WINDOW, 224, 224, 3) and out.dtype == np.uint8
    assert out.max() == 128  # the corner logo is outside the central 80 % square
    assert np.array_equal(out[4], out[15])  # padded with the last frame


def test_residual_features_see_frame_to_frame_noise() -> None:
    rng = np.random.default_rng(0)
    base = np.linspace(60, 200, 96)[None, None, :, None] * np.ones((1, 96, 1, 3))  # smooth content
    fresh = np.clip(base + rng.normal(0, 6, size=(16, 96, 96, 3)), 0, 255).astype(np.uint8)  # camera-like
    frozen = np.repeat(np.clip(base + rng.normal(0, 6, size=base.shape), 0, 255).astype(np.uint8), 16, 0)
    f_fresh, f_frozen = residual_features(fresh), residual_features(frozen)
    assert f_fresh.shape == (19,) and np.isfinite(f_fresh).all()
    assert f_frozen[1] > 0.99 > 0.5 > f_fresh[1]  # residual correlation between consecutive frames


def test_linear_probe_separates_and_calibrates() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (200, 5)), rng.normal(0, 1, (60, 5)) + [2, 0, 0, 0, 0]])
    y = np.r_[np.zeros(200), np.ones(60)]
    probe = LinearProbe.fit(x, y, l2=1.0)
    z = probe.logit(x)
    assert z[y == 1].mean() > z[y == 0].mean() + 2
    probe.fit_platt(z, y)
    p = probe.calibrated(z)
    # Class-balanced calibration: mean probability ~0.5 on a balanced re-weighting.
    assert 0.4 < 0.5 * (p[y == 1].mean() + p[y == 0].mean()) < 0.6
    again = LinearProbe.from_state(probe.state())
    assert np.allclose(again.calibrated(again.logit(x)), p)


@pytest.fixture(scope="module")
def tiny_detector() -> ProbeDetector:
    torch.manual_seed(0)
    extractor = FeatureExtractor(InceptionI3d().eval(), batch_size=4)
    rng = np.random.default_rng(0)
    probe = LinearProbe(np.zeros(5091), np.ones(5091), rng.normal(0, 0.01, 5091), 0.0)
    return ProbeDetector(probe, extractor, {"not_ai_generated_below": 0.3, "ai_generated_at_or_above": 0.7},
                         version="test", max_windows=3)


def _video(t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, w)[None, None, :, None] * np.ones((t, h, 1, 3))
    return np.clip(x + rng.normal(0, 20, size=(t, h, w, 3)), 0, 255).astype(np.uint8)


def test_clip_and_file_give_the_same_probability(tiny_detector: ProbeDetector, tmp_path: Path) -> None:
    from evalkit.video import read_video

    path = tmp_path / "v.mp4"
    write_video(path, Clip(_video(90, 72, 96), 24.0))
    from_file = tiny_detector.predict_file(path)
    from_clip = tiny_detector.predict(read_video(path))
    assert from_file.probability == pytest.approx(from_clip.probability, abs=1e-9)
    assert [s.start_s for s in from_file.segments] == [s.start_s for s in from_clip.segments]
    assert len(from_file.segments) == 2 and from_file.segments[-1].end_s == pytest.approx(90 / 24)


def test_file_prediction_memory_does_not_grow_with_the_clip(tiny_detector: ProbeDetector, tmp_path: Path) -> None:
    """A 1280 x 720 clip of 240 frames is 660 MB decoded; the streamed windows hold far less."""
    path = tmp_path / "long.mp4"
    write_video(path, Clip(np.repeat(_video(8, 720, 1280), 30, axis=0), 24.0), crf=30)
    decoded = 240 * 720 * 1280 * 3
    tracemalloc.start()
    try:
        tiny_detector.predict_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < decoded / 10, f"peak {peak / 2**20:.0f} MB of {decoded / 2**20:.0f} MB"


def test_read_windows_closes_each_stream() -> None:
    closed = []

    def opener(start: int, stride: int):
        def gen():
            try:
                for i in range(start, 100, stride):
                    yield np.full((20, 20, 3), i, dtype=np.uint8)
            finally:
                closed.append(start)
        return gen()

    windows = read_windows(opener, [(0, 2), (50, 2)])
    assert len(windows) == 2 and closed == [0, 50]
    assert windows[1][1, 0, 0, 0] == 52  # every second frame from 50


def test_evaluation_metrics() -> None:
    from detectors.train_probe import average_precision, choose_thresholds, ece, roc_auc, tpr_at_fpr

    s = np.array([0.9, 0.8, 0.4, 0.3, 0.2, 0.1])
    y = np.array([1, 1, 0, 1, 0, 0])
    assert roc_auc(s, y) == pytest.approx(8 / 9)
    assert average_precision(s, y) == pytest.approx((1 + 1 + 3 / 4) / 3)
    assert tpr_at_fpr(s, y, 0.0) == pytest.approx(2 / 3)
    assert ece(np.array([0.0, 1.0]), np.array([0, 1])) == 0.0
    t = choose_thresholds(np.r_[np.linspace(0, 0.4, 50), np.linspace(0.6, 1, 50)], np.r_[np.zeros(50), np.ones(50)])
    assert 0.4 < t["balanced"] <= 0.6 and t["high_precision"] <= 0.6
    assert t["not_ai_generated_below"] <= t["ai_generated_at_or_above"]


def _synthetic_cache(cache: Path, separation: float, seed: int = 0) -> None:
    """A feature cache as ``train_probe features`` writes it: 3 generator families and 4 real
    sources, every variant the evaluation reads; the label shifts the residual statistics."""
    import json

    from detectors.probe import FEATURE_DIM, part_columns
    from detectors.train_probe import CONDITIONS

    rng = np.random.default_rng(seed)
    residual = part_columns(["residual"])
    clips = [(f"fam{f}", 1, f"ai/fam{f}/{c}") for f in range(3) for c in range(4)]
    clips += [(f"real_videos:src{s}", 0, f"real/src{s}/{c}") for s in range(4) for c in range(3)]
    for i, (group, label, clip_id) in enumerate(clips):
        variants = ["clean", "short8", *(f"cond:{c}" for c in CONDITIONS)]
        x = rng.normal(size=(len(variants), FEATURE_DIM))
        x[:, residual] += separation * label
        meta = {"path": clip_id, "label": label, "group": group, "clip_id": clip_id}
        np.savez(cache / f"{i:04d}.npz", features=x.astype(np.float32), variant=np.array(variants),
                 window=np.zeros(len(variants), dtype=int), meta=np.array(json.dumps(meta)))


@pytest.fixture
def quick_fits(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """One feature set and one L2: the probe fits take seconds; the protocol is what is tested."""
    from detectors import train_probe

    monkeypatch.setattr(train_probe, "FEATURE_SETS", {"residual": ("residual",)})
    monkeypatch.setattr(train_probe, "L2_GRID", (10.0,))
    return monkeypatch


@pytest.fixture
def quick_pipeline(quick_fits: pytest.MonkeyPatch) -> None:
    """:func:`quick_fits`, plus a cheap stand-in for I3D on 32 x 32 windows and two of the six
    robustness conditions (the 256 x 256 GIF alone would take most of a minute)."""
    from detectors import train_probe

    quick_fits.setattr(FeatureExtractor, "from_installed", classmethod(lambda cls, *a, **k: _PixelFeatures()))
    quick_fits.setattr("detectors.probe.SIZE", 32)  # windows of 32 x 32: the stand-in needs no more
    quick_fits.setattr(train_probe, "CONDITIONS", ("h264_crf23", "resize_0.5"))
    quick_fits.setattr(train_probe, "VARIANTS", ("clean", "cond:h264_crf23", "cond:resize_0.5"))


def test_leave_one_family_out_evaluation_tests_every_real_fold(tmp_path: Path, quick_fits) -> None:
    import json

    from detectors import train_probe

    cache = tmp_path / "cache"
    cache.mkdir()
    _synthetic_cache(cache, separation=1.5)
    out = tmp_path / "eval.json"
    train_probe.main(["evaluate", "--cache", str(cache), "--out", str(out), "--real-folds", "2"])
    ev = json.loads(out.read_text())
    assert ev["families"] == 3 and ev["command"].endswith("--real-folds 2")
    for i, fam in enumerate(ev["leave_one_family_out"]):
        folds = fam["auc_per_real_fold"]
        assert len(folds) == 2 and fam["auc_all_real_folds"] == pytest.approx(np.mean(folds))
        # the fold held out beside the family is scored by the same probe as the main AUC
        assert folds[i % 2] == pytest.approx(fam["auc"])
        assert fam["n_fake"] == 4 and fam["n_real"] == 6
    assert ev["mean_lofo_auc_all_real_folds"] > 0.9  # the residual columns carry the label
    assert ev["unseen_real_sources"]["clean"]["real_clips"] == 12

    # Without a signal the same protocol must not find one.
    cache0 = tmp_path / "cache0"
    cache0.mkdir()
    _synthetic_cache(cache0, separation=0.0, seed=1)
    train_probe.main(["evaluate", "--cache", str(cache0), "--out", str(out), "--real-folds", "2"])
    assert json.loads(out.read_text())["mean_lofo_auc_all_real_folds"] < 0.8


def test_cli_api_metric_and_python_agree_on_a_file(tiny_detector: ProbeDetector, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`evalkit detect`, POST /v1/detect, the `detector` metric and predict() score the same
    windows of a long clip (the API once read only the first 256 frames)."""
    import io
    import json

    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from detectors import cli as detectors_cli
    from detectors.api import Settings, create_app
    from detectors.metric import DetectorMetric
    from evalkit.metrics.base import ClipContext
    from evalkit.video import read_video

    path = tmp_path / "long.mp4"
    write_video(path, Clip(_video(400, 48, 64, seed=3), 25.0))  # 16 s: windows far past frame 256
    expected = tiny_detector.predict_file(path)
    assert expected.segments[-1].end_s == pytest.approx(16.0)

    client = TestClient(create_app(Settings(), detector=tiny_detector))
    r = client.post("/v1/detect", files={"file": ("long.mp4", io.BytesIO(path.read_bytes()), "video/mp4")})
    assert r.status_code == 200, r.text
    assert r.json()["ai_generated_probability"] == pytest.approx(expected.probability, abs=1e-9)

    monkeypatch.setattr("detectors.detector.Detector.load", classmethod(lambda cls, p=None: tiny_detector))
    metric = DetectorMetric(watermark=False)
    assert metric.score(read_video(path), ClipContext())["probability"] == pytest.approx(expected.probability, abs=1e-9)

    import argparse
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        detectors_cli.cmd_detect(argparse.Namespace(files=[str(path)], model=None, max_frames=None,
                                                    max_duration_s=None, c2pa_trust_anchors=None,
                                                    threads=None))
    assert json.loads(out.getvalue())["ai_generated_probability"] == pytest.approx(expected.probability, abs=1e-9)


class _PixelFeatures:
    """Stands in for the I3D extractor in the pipeline test (the real network costs a second per
    window on a CPU): log energy of the frame-to-frame change and of the spatial detail in the
    first residual columns, zeros elsewhere."""

    weights = None

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        from detectors.probe import FEATURE_DIM, part_columns

        x = np.asarray(windows, dtype=np.float64).mean(-1)  # (N, T, H, W) luma
        out = np.zeros((len(x), FEATURE_DIM))
        columns = part_columns(["residual"])
        out[:, columns[0]] = np.log(np.square(np.diff(x, axis=1)).mean(axis=(1, 2, 3)) + 1e-3)
        out[:, columns[1]] = np.log(np.square(np.diff(x, axis=3)).mean(axis=(1, 2, 3)) + 1e-3)
        return out


def test_reproduce_runs_features_evaluation_and_training_in_one_command(tmp_path: Path, quick_pipeline) -> None:
    """Manifests → cached features → leave-one-family-out JSON → a detector file that loads and
    labels: the one command of the model card, on a tiny data folder."""
    import json

    from detectors import train_probe

    data = tmp_path / "data"
    rows: dict[str, list[str]] = {"ai_videos_train": [], "real_videos": [], "real_videos_extra": []}
    for f in range(5):  # generated: smooth frames without sensor noise
        for c in range(2):
            rel = f"fam{f}/c{c}.mp4"
            frames = np.repeat(_video(20, 48, 64, seed=10 * f + c)[:1] // 2 + 60, 20, axis=0)
            write_video(data / "ai_videos_train" / rel, Clip(frames, 8.0))
            rows["ai_videos_train"].append(f"{rel}\tfam{f}")
    for s in range(8):  # cameras: fresh noise in every frame
        folder = "real_videos" if s < 4 else "real_videos_extra"
        for c in range(2):
            rel = f"src{s}/c{c}.mp4"
            write_video(data / folder / rel, Clip(_video(20, 48, 64, seed=100 + 10 * s + c), 8.0))
            rows[folder].append(rel)
    for folder, lines in rows.items():
        header = "file\tfamily" if folder == "ai_videos_train" else "file"
        (data / folder / "manifest.tsv").write_text("\n".join([header, *lines]) + "\n")

    out = tmp_path / "out"
    train_probe.main(["reproduce", "--data", str(data), "--cache", str(tmp_path / "cache"), "--out-dir", str(out),
                      "--augment", "0", "--windows", "1", "--real-folds", "2"])
    ev = json.loads((out / "eval.json").read_text())
    assert ev["families"] == 5 and len(list((tmp_path / "cache").glob("*.npz"))) == 26
    assert [r["condition"] for r in ev["robustness"]] == ["clean", "h264_crf23", "resize_0.5"]
    assert ev["mean_lofo_auc_all_real_folds"] > 0.9 and ev["unseen_real_sources"]["clean"]["real_clips"] == 16
    state = torch.load(out / "detector.pt", weights_only=True)
    assert state["kind"] == "i3d-probe" and state["info"]["command"].startswith("python -m detectors.train_probe reproduce")
    detector = ProbeDetector.from_state(state, out / "detector.pt", extractor=_PixelFeatures())
    noisy = detector.predict(Clip(_video(20, 48, 64, seed=999), 8.0))
    smooth = detector.predict(Clip(np.repeat(_video(20, 48, 64, seed=998)[:1] // 2 + 60, 20, axis=0), 8.0))
    assert smooth.probability > noisy.probability


def test_reproduce_on_your_own_folders_and_clear_errors(tmp_path: Path, quick_pipeline, capsys) -> None:
    """``--real DIR --fake DIR``: sub-folders are the families and sources held out; too few of
    them, or only one side given, is a one-line error (exit 2 from the CLI), not a traceback."""
    import json

    from detectors import train_probe
    from detectors.cli import main as detectors_main

    fake, real = tmp_path / "fake", tmp_path / "real"
    for f in range(3):
        for c in range(2):
            frames = np.repeat(_video(12, 40, 48, seed=10 * f + c)[:1] // 2 + 60, 12, axis=0)
            write_video(fake / f"model{f}" / f"c{c}.mp4", Clip(frames, 8.0))
    for s in range(4):
        for c in range(2):
            write_video(real / f"camera{s}" / f"c{c}.mp4", Clip(_video(12, 40, 48, seed=100 + 10 * s + c), 8.0))

    entries = train_probe.list_folder_clips([real], [fake])
    assert {e.group for e in entries if e.label == 1} == {"model0", "model1", "model2"}
    assert len({e.group for e in entries if e.label == 0}) == 4 and len(entries) == 14

    out = tmp_path / "out"
    args = ["probe", "reproduce", "--real", str(real), "--fake", str(fake), "--cache", str(tmp_path / "cache"),
            "--out-dir", str(out), "--augment", "0", "--windows", "1", "--real-folds", "2"]
    assert detectors_main(args) == 0
    ev = json.loads((out / "eval.json").read_text())
    assert ev["families"] == 3 and ev["mean_lofo_auc_13_issue_families"] is None
    assert (out / "detector.pt").is_file()

    capsys.readouterr()
    assert detectors_main(["probe", "features", "--fake", str(fake), "--cache", str(tmp_path / "c2")]) == 2
    assert "give both --real and --fake" in capsys.readouterr().err
    assert detectors_main(["probe", "evaluate", "--cache", str(tmp_path / "cache"), "--out", str(out / "e.json"),
                           "--real-folds", "5"]) == 2
    assert "needs at least 3 generator families and 5 real sources" in capsys.readouterr().err
    # reproduce says so before extracting anything
    assert detectors_main(["probe", "reproduce", "--real", str(real), "--fake", str(fake), "--cache",
                           str(tmp_path / "c3"), "--out-dir", str(tmp_path / "o3")]) == 2
    assert "found 3 and 4" in capsys.readouterr().err and not (tmp_path / "c3").exists()


def test_per_frame_encoder_of_the_ideas_script_is_i3d_on_a_still_frame() -> None:
    """``scripts/detector_ideas.py`` (the model card's table of ideas not shipped) encodes frames
    one by one with I3D's kernels summed over time: that must equal I3D on the frame held still."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("detector_ideas", Path(__file__).parents[1] / "scripts" / "detector_ideas.py")
    ideas = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ideas)
    torch.manual_seed(0)
    net = InceptionI3d().eval()
    net.fuse_batch_norm_()
    frame_net = ideas.per_frame_encoder(net)
    frame = torch.rand(1, 3, 1, 64, 64) * 2 - 1
    with torch.inference_mode():
        alone = frame_net.endpoints(frame)
        still = net.endpoints(frame.repeat(1, 1, 160, 1, 1))  # middle slices are far from the ends
    for name in ("Mixed_3c", "Mixed_4f"):
        middle = still[name][:, :, still[name].shape[2] // 2]
        assert alone[name].shape[2] == 1
        assert float((alone[name][:, :, 0] - middle).abs().max()) < 1e-4 * float(middle.abs().max())
    with torch.inference_mode():
        clips = torch.cat([frame.repeat(1, 1, 16, 1, 1), torch.rand(1, 3, 16, 64, 64) * 2 - 1])
        stats = ideas.time_axis_statistics(net.endpoints(clips)["Mixed_3c"])
    assert stats.shape == (2, 9) and float(stats[0, 0]) < float(stats[1, 0])  # still clip: shorter steps
    steps = torch.cumsum(torch.ones(16, 8), dim=0)  # a straight line at constant speed
    straight = ideas.trajectory_statistics(steps)
    assert float(straight[5]) < 1e-3 and float(straight[1]) < 1e-6  # no turning, no change of pace
