"""VBench's quality dimensions in evalkit (issue 21): transforms, weights resolution, the
up-front refusal without weights, and each dimension on tiny random backbones.

Parity with VBench's own code is in ``test_vbench_parity.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from evalkit.clip import Clip
from evalkit.metrics.vbench.weights import BACKBONES, WeightsUnavailable, resolve
from tiny_vbench import make_random_raft, make_tiny_aesthetic_head, make_tiny_dino, make_tiny_openai_clip


@pytest.fixture(autouse=True)
def _no_user_caches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Weights in the developer's own VBench cache must not make these tests pass."""
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "no-vbench-cache"))
    monkeypatch.delenv("EVALKIT_VBENCH_WEIGHTS", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hf-cache"))


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("vbench_weights")
    return {
        "dir": folder,
        "dino": make_tiny_dino(folder),
        "clip_b32": make_tiny_openai_clip(folder, "tiny-ViT-B-32.pt", seed=1),
        "clip_l14": make_tiny_openai_clip(folder, "tiny-ViT-L-14.pt", seed=2, embed_dim=768),
        "head": make_tiny_aesthetic_head(folder, seed=3),
        "raft": make_random_raft(folder, seed=4),
    }


def _clip(t: int = 6, h: int = 128, w: int = 160, fps: float = 8.0, seed: int = 0) -> Clip:
    rng = np.random.default_rng(seed)
    return Clip(rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8), fps)


# ----------------------------------------------------------------------------------------------
# VBench's transforms
# ----------------------------------------------------------------------------------------------


def test_resize_keeps_torchvisions_truncated_long_side_and_no_crop_for_dino() -> None:
    from evalkit.metrics.vbench.preprocess import dino_transform, shorter_side_size

    assert shorter_side_size(360, 640, 224) == (224, 398)  # int(398.2)
    assert shorter_side_size(640, 360, 224) == (398, 224)
    assert shorter_side_size(480, 719, 224) == (224, 335)  # int(335.5): truncated, not rounded
    x = torch.rand(2, 3, 360, 640) * 255
    assert dino_transform(x).shape == (2, 3, 224, 398)


def test_clip_crop_offsets_round_half_to_even_like_torchvision() -> None:
    from evalkit.metrics.vbench.preprocess import center_crop

    x = torch.arange(231 * 225, dtype=torch.float32).view(1, 1, 231, 225)
    # (231 - 224) / 2 = 3.5 -> 4 (even); (225 - 224) / 2 = 0.5 -> 0 (even)
    assert torch.equal(center_crop(x, 224), x[..., 4:228, 0:224])
    y = torch.arange(229 * 227, dtype=torch.float32).view(1, 1, 229, 227)
    # 2.5 -> 2, 1.5 -> 2
    assert torch.equal(center_crop(y, 224), y[..., 2:226, 2:226])


def test_clip_transform_is_bicubic_without_antialias_or_clamp() -> None:
    import torch.nn.functional as F

    from evalkit.metrics.vbench.preprocess import CLIP_MEAN, CLIP_STD, clip_transform

    x = (torch.rand(1, 3, 300, 400) > 0.5).float() * 255  # sharp edges: bicubic overshoots
    out = clip_transform(x)
    manual = F.interpolate(x, size=(224, 298), mode="bicubic", align_corners=False)[..., :, 37:261]
    manual = (manual / 255 - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    assert torch.allclose(out, manual, atol=1e-6)
    assert (out * torch.tensor(CLIP_STD).view(1, 3, 1, 1) + torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)).max() > 1.0


# ----------------------------------------------------------------------------------------------
# Weights: where they are found, and the one-line refusal
# ----------------------------------------------------------------------------------------------


def test_missing_weights_name_file_source_and_option(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailable) as info:
        resolve("dino_vitb16", None, None, "subject_consistency")
    msg = str(info.value)
    assert "\n" not in msg
    for part in ("subject_consistency", "dino_vitbase16_pretrain.pth", BACKBONES["dino_vitb16"].url,
                 "dino: PATH", "weights_dir", "scripts/fetch_vbench_weights.py"):
        assert part in msg
    with pytest.raises(WeightsUnavailable, match="ViT-B-32.pt.*sha256 40d36571"):
        resolve("clip_vit_b32", str(tmp_path / "nope.pt"), None, "background_consistency")
    with pytest.raises(WeightsUnavailable, match="local Hugging Face cache has no such model"):
        resolve("clip_vit_b32", "openai/clip-vit-base-patch32", None, "background_consistency")


def test_weights_found_in_weights_dir_env_and_vbench_cache(tmp_path: Path, weights: dict[str, Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    found = resolve("raft_things", None, str(weights["dir"]), "dynamic_degree")
    assert found.kind == "file" and Path(found.location) == weights["raft"].resolve()
    monkeypatch.setenv("EVALKIT_VBENCH_WEIGHTS", str(weights["dir"]))
    assert Path(resolve("dino_vitb16", None, None, "subject_consistency").location) == weights["dino"].resolve()
    monkeypatch.delenv("EVALKIT_VBENCH_WEIGHTS")
    cache = tmp_path / "vbench-cache"
    (cache / "aesthetic_model" / "emb_reader").mkdir(parents=True)
    (cache / "aesthetic_model" / "emb_reader" / "sa_0_4_vit_l_14_linear.pth").write_bytes(weights["head"].read_bytes())
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(cache))
    assert resolve("laion_aesthetic_l14", None, None, "aesthetic_quality").location.endswith(
        "aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth")


def test_an_official_name_with_the_wrong_bytes_is_refused(tmp_path: Path, weights: dict[str, Path]) -> None:
    from evalkit.metrics.vbench.backbones import load_clip_vision

    bad = tmp_path / "ViT-B-32.pt"
    bad.write_bytes(weights["clip_b32"].read_bytes())  # not OpenAI's file
    found = resolve("clip_vit_b32", str(bad), None, "background_consistency")
    with pytest.raises(WeightsUnavailable, match="is not the published 40d36571"):
        load_clip_vision(found, "cpu")


def test_run_without_weights_exits_2_in_one_line_before_decoding(in_tmp: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from evalkit import video
    from evalkit.cli import main
    from evalkit.video import write_video

    clips = in_tmp / "clips"
    clips.mkdir()
    write_video(clips / "a red ball falls-0.mp4", _clip(t=4, h=64, w=64))

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("a clip was decoded")

    monkeypatch.setattr(video, "read_video", no_decoding)
    suite = {"name": "vb", "prompts": ["a red ball falls"], "output": "out",
             "generators": [{"name": "folder", "options": {"path": "clips"}}],
             "metrics": [{"name": "temporal_flickering"}, {"name": "subject_consistency"}]}
    (in_tmp / "vb.yaml").write_text(yaml.safe_dump(suite))
    assert main(["run", "vb.yaml", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "metrics[1] (subject_consistency): subject_consistency needs DINO ViT-B/16 weights " \
           "'dino_vitbase16_pretrain.pth'" in err[0]
    assert not (in_tmp / "out").exists()
    # the flicker without its static filter needs no weights; with it, RAFT is asked for
    suite["metrics"] = [{"name": "temporal_flickering", "options": {"static_filter": True}}]
    (in_tmp / "vb.yaml").write_text(yaml.safe_dump(suite))
    assert main(["run", "vb.yaml", "--no-progress"]) == 2
    assert "raft-things.pth" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# The dimensions on tiny random backbones
# ----------------------------------------------------------------------------------------------


def test_consistency_formula_and_pair_weighted_aggregate() -> None:
    import torch.nn.functional as F

    from evalkit.metrics.vbench.common import consistency_sums, vbench_aggregate

    f = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), dim=-1)
    s, pairs = consistency_sums(f)
    c = 2 ** -0.5
    # i=1: prev cos 0, first cos 0; i=2: prev cos c, first cos c
    assert pairs == 2 and s == pytest.approx((0 + 0) / 2 + (c + c) / 2, abs=1e-7)
    neg = F.normalize(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]), dim=-1)
    assert consistency_sums(neg) == (0.0, 1)  # max(0, -1)
    rows = [{"subject_consistency": 1.0, "pairs": 1}, {"subject_consistency": 0.5, "pairs": 3}]
    assert vbench_aggregate("subject_consistency", rows) == {"value": (1.0 + 1.5) / 4, "n": 2}
    flick = [{"temporal_flickering": 0.9, "static": 1}, {"temporal_flickering": 0.5, "static": 0}]
    assert vbench_aggregate("temporal_flickering", flick) == {"value": 0.9, "n": 1}


def test_subject_and_background_consistency_on_tiny_backbones(weights: dict[str, Path]) -> None:
    from evalkit.metrics.vbench.background_consistency import BackgroundConsistency
    from evalkit.metrics.vbench.subject_consistency import SubjectConsistency

    still = Clip(np.repeat(_clip(t=1).frames, 4, axis=0), 8.0)
    noisy = _clip(t=4, seed=3)
    for metric in (SubjectConsistency(weights_dir=str(weights["dir"]), device="cpu", batch_size=3),
                   BackgroundConsistency(clip=str(weights["clip_b32"]), device="cpu")):
        assert metric.score(still, None)[metric.name] == pytest.approx(1.0, abs=1e-6)
        values = metric.score(noisy, None)
        assert values["pairs"] == 3 and 0.0 <= values[metric.name] < 0.999
        metric.update(still)
        metric.update(noisy)
        summary = metric.compute()
        assert summary["vbench"]["value"] == pytest.approx((3 * 1.0 + 3 * values[metric.name]) / 6)


def test_aesthetic_quality_is_the_heads_mean_over_frames_over_10(weights: dict[str, Path]) -> None:
    import torch.nn.functional as F

    from evalkit.metrics.vbench.aesthetic_quality import AestheticQuality
    from evalkit.metrics.vbench.backbones import load_aesthetic_head, load_clip_vision
    from evalkit.metrics.vbench.preprocess import as_float_tchw, clip_transform

    metric = AestheticQuality(clip=str(weights["clip_l14"]), weights_dir=str(weights["dir"]), device="cpu")
    clip = _clip(t=3)
    value = metric.score(clip, None)["aesthetic_quality"]
    model = load_clip_vision(metric.weights("clip"), "cpu")
    head = load_aesthetic_head(metric.weights("head"), "cpu")
    with torch.no_grad():
        feats = F.normalize(model(clip_transform(as_float_tchw(clip.frames))), dim=-1)
        expected = float((head(feats).squeeze(-1) / 10).mean())
    assert value == pytest.approx(expected, abs=1e-6)
    assert value != pytest.approx(0.5, abs=1e-3)  # the head's bias alone (5 / 10)


def test_dynamic_degree_thresholds_and_fps_subsampling(weights: dict[str, Path]) -> None:
    from evalkit.metrics.vbench.dynamic_degree import DynamicDegree, frame_interval

    assert [frame_interval(f) for f in (8, 12, 16, 20, 24, 30, 4)] == [1, 2, 2, 2, 3, 4, 1]
    # RAFT tests share one input shape (1, 3, 128, 128): torch's CPU kernels warm up per shape
    metric = DynamicDegree(weights_dir=str(weights["dir"]), device="cpu", batch_size=1)
    values = metric.score(_clip(t=6, w=128, fps=16.0), None)  # 16 fps -> every 2nd frame: 3 frames
    assert values["frame_interval"] == 2 and values["pairs"] == 2
    assert values["threshold"] == pytest.approx(6.0 * 128 / 256)  # min(H, W) = 128
    assert values["pairs_needed"] == round(4 * 3 / 16)
    assert values["dynamic_degree"] == float(values["moving_pairs"] >= values["pairs_needed"])
    with pytest.raises(ValueError, match="at least 128 px"):
        metric.score(_clip(t=2, h=64, w=64), None)


def test_static_filter_rule() -> None:
    from evalkit.metrics.vbench.static_filter import check_static

    # count_num 1: two moving consecutive pairs are too many; one is allowed
    assert check_static([0.0, 5.0, 0.0, 0.0, 0.0], thres=1.0, count_num=1) is True
    assert check_static([5.0, 5.0, 0.0, 0.0, 0.0], thres=1.0, count_num=1) is False
    # first<->last pairs: up to thres * count_num * 2
    assert check_static([0.0, 0.0, 0.0, 1.9, 0.0], thres=1.0, count_num=1) is True
    assert check_static([0.0, 0.0, 0.0, 0.0, 2.1], thres=1.0, count_num=1) is False


# ----------------------------------------------------------------------------------------------
# VBench's combined scores and files from a run
# ----------------------------------------------------------------------------------------------


def test_vbench_scores_name_what_is_missing() -> None:
    from evalkit.metrics.vbench.aggregate import normalized, vbench_scores

    assert normalized("subject_consistency", 0.1462) == 0.0
    assert normalized("motion_smoothness", 0.9975) == pytest.approx(1.0)
    full = {d: 0.5 for d in ("subject_consistency", "background_consistency", "temporal_flickering",
                             "motion_smoothness", "aesthetic_quality", "imaging_quality", "dynamic_degree",
                             "object_class", "multiple_objects", "human_action", "color",
                             "spatial_relationship", "scene", "appearance_style", "temporal_style",
                             "overall_consistency")}
    s = vbench_scores(full)
    q = [normalized(d, 0.5) * (0.5 if d == "dynamic_degree" else 1) for d in list(full)[:7]]
    sem = [normalized(d, 0.5) for d in list(full)[7:]]
    assert s["quality"] == pytest.approx(sum(q) / 6.5)
    assert s["semantic"] == pytest.approx(sum(sem) / 9)
    assert s["total"] == pytest.approx((4 * s["quality"] + s["semantic"]) / 5)
    assert s["complete"] and s["missing"] == []
    part = vbench_scores({"subject_consistency": 0.9, "dynamic_degree": 1.0})
    assert part["quality"] == pytest.approx((normalized("subject_consistency", 0.9) + 0.5) / 1.5)
    assert part["semantic"] is None and part["total"] is None and not part["complete"]
    assert "imaging_quality" in part["missing_quality"] and "color" in part["missing_semantic"]


def test_run_writes_vbench_scores_eval_results_and_table_columns(in_tmp: Path,
                                                                 weights: dict[str, Path]) -> None:
    import json

    from evalkit.cli import main
    from evalkit.metrics.vbench.aggregate import normalized
    from evalkit.results import generator_table
    from evalkit.video import write_video

    clips = in_tmp / "clips"
    clips.mkdir()
    still = np.repeat(_clip(t=1).frames, 4, axis=0)
    write_video(clips / "a red ball falls-0.mp4", Clip(still, 8.0))
    write_video(clips / "a red ball falls-1.mp4", _clip(t=5, seed=2))
    suite = {"name": "vb", "prompts": ["a red ball falls"], "output": "out", "samples_per_prompt": 2,
             "generators": [{"name": "folder", "options": {"path": "clips"}}],
             "metrics": [{"name": "temporal_flickering"},
                         {"name": "subject_consistency", "options": {"weights_dir": str(weights["dir"])}},
                         {"name": "background_consistency", "options": {"clip": str(weights["clip_b32"])}}]}
    (in_tmp / "vb.yaml").write_text(yaml.safe_dump(suite))
    assert main(["run", "vb.yaml", "--no-progress"]) == 0
    out = in_tmp / "out"
    summary = json.loads(next((out / "summary").glob("*.json")).read_text())
    vb = summary["vbench"]
    results = json.loads((out / vb["eval_results"]).read_text())
    assert set(results) == {"temporal_flickering", "subject_consistency", "background_consistency"}
    for dim, (agg, videos) in results.items():
        assert len(videos) == 2 and {"video_path", "video_results"} == set(videos[0])
        assert Path(videos[0]["video_path"]).is_file()
        if dim != "temporal_flickering":  # pairs: 3 and 4
            expected = (3 * videos[0]["video_results"] + 4 * videos[1]["video_results"]) / 7
            paths = [Path(v["video_path"]).name for v in videos]
            assert paths == ["000.mp4", "001.mp4"]
            assert agg == pytest.approx(expected)
        assert vb["dimensions"][dim] == agg
    expected_q = sum(normalized(d, results[d][0]) for d in results) / 3
    assert vb["quality"] == pytest.approx(expected_q)
    assert vb["semantic"] is None and vb["total"] is None and vb["complete"] is False
    assert {"motion_smoothness", "imaging_quality", "dynamic_degree", "aesthetic_quality",
            "color"} <= set(vb["missing"])
    table = generator_table(out)
    row = table.iloc[0]
    assert row["VBench quality ↑"] == pytest.approx(expected_q)
    assert np.isnan(row["VBench total ↑"])
    assert "motion_smoothness" in row["VBench missing"]
    from app.data import leaderboard, load_run

    board = leaderboard([load_run(out)]).frame
    assert board.loc[0, "VBench quality ↑"] == pytest.approx(expected_q)
    assert "imaging_quality" in board.loc[0, "VBench missing"]


def test_static_filter_reuses_dynamic_degrees_flows(weights: dict[str, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """At 8 fps the two RAFT users share every frame pair: RAFT runs once per pair per clip,
    and the scores are those of a fresh computation."""
    from evalkit.metrics.flicker import TemporalFlickering
    from evalkit.metrics.vbench import dynamic_degree as dd
    from evalkit.metrics.vbench.backbones import load_raft_model
    from evalkit.metrics.vbench.raft import RAFT

    clip = _clip(t=3, h=128, w=128, fps=8.0, seed=5)
    dynamic = dd.DynamicDegree(weights_dir=str(weights["dir"]), device="cpu", batch_size=1)
    flicker = TemporalFlickering(static_filter=True, weights_dir=str(weights["dir"]), device="cpu",
                                 batch_size=1)
    model = load_raft_model(dynamic.weights("raft"), "cpu")
    calls: list[int] = []
    forward = RAFT.forward

    def counting(self, image1, image2, *args, **kwargs):  # noqa: ANN001, ANN202
        calls.append(image1.shape[0])
        return forward(self, image1, image2, *args, **kwargs)

    monkeypatch.setattr(RAFT, "forward", counting)
    dynamic.score(clip, None)
    assert sum(calls) == 2  # pairs (0,1) (1,2)
    values = flicker.score(clip, None)
    assert sum(calls) == 2 + 2  # only (0,2) and (2,0) are new
    plain = TemporalFlickering().score(clip, None)
    assert "static" not in plain and values["static"] in (0, 1)
    assert values["temporal_flickering"] == plain["temporal_flickering"]
    cached = dd.raft_pair_scores(model, clip.frames, [(2, 0)], 0.02, "cpu", 1)
    fresh = dd.raft_pair_scores(model, clip.frames.copy(), [(2, 0)], 0.02, "cpu", 1)  # another array
    assert sum(calls) == 4 + 1
    np.testing.assert_allclose(cached, fresh, rtol=0, atol=1e-5)


def test_motion_smoothness_needs_vbenchs_amt_code_and_says_so(tmp_path: Path, weights: dict[str, Path],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from evalkit.metrics.vbench.motion_smoothness import MotionSmoothness, vram_scale

    monkeypatch.delenv("EVALKIT_VBENCH_CODE", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)  # no installed vbench
    amt = tmp_path / "amt-s.pth"
    amt.write_bytes(b"x")
    problem = MotionSmoothness.options_problem({"amt": str(amt), "vbench_code": str(tmp_path)})
    assert problem is not None and "\n" not in problem
    assert "vbench/third_party/amt" in problem and "CC BY-NC 4.0" in problem and "vbench_code" in problem
    missing = MotionSmoothness.options_problem({"weights_dir": str(tmp_path / "none")})
    assert "amt-s.pth" in missing and "huggingface.co/lalala125/AMT" in missing
    assert vram_scale("cpu", 2160, 3840) == 1.0  # VBench never downscales on a CPU


def test_missing_column_says_when_a_dimension_ran_but_counted_no_clip() -> None:
    from evalkit.metrics.vbench.aggregate import missing_text, vbench_scores

    scores = vbench_scores({"subject_consistency": 0.9})
    text = missing_text(scores, ["subject_consistency", "temporal_flickering"])
    assert "temporal_flickering (no clip counted)" in text and "motion_smoothness," in text
    assert "subject_consistency" not in text
