"""VBench's object-grounded dimensions (object_class, multiple_objects, color,
spatial_relationship) with an open-vocabulary detector: VBench's rules on boxes we choose, the
prompt parsing, and one end-to-end run on a tiny OWLv2 the test builds."""

from __future__ import annotations

import ast
import os
import random
from pathlib import Path

import numpy as np
import pytest

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, MetricError
from evalkit.metrics.vbench.object_dimensions import (ColorDimension, MultipleObjects, ObjectClass,
                                                      SpatialRelationship, parse_color_prompt,
                                                      parse_multiple_objects_prompt, parse_spatial_prompt,
                                                      position_score)
from evalkit.metrics.vbench.preprocess import middle_frame_indices
from evalkit.open_vocab import Detection
from tiny_models import make_tiny_owlv2


class ScriptedDetector:
    """Returns the boxes a test scripts for each frame index (frames are numbered by pixel value)."""

    def __init__(self, script: dict[int, list[tuple[str, float, tuple[float, float, float, float]]]]) -> None:
        self.script, self.calls = script, []

    def detect(self, frames: np.ndarray, queries: list[str], threshold: float) -> list[list[Detection]]:
        self.calls.append((frames.shape, list(queries)))
        out = []
        for frame in frames:
            idx = int(frame[0, 0, 0])
            dets = [Detection(q, s, b) for q, s, b in self.script.get(idx, []) if q in queries and s > threshold]
            out.append(sorted(dets, key=lambda d: -d.score))
        return out


def _numbered_clip(n: int, h: int = 32, w: int = 48) -> Clip:
    frames = np.zeros((n, h, w, 3), dtype=np.uint8)
    for i in range(n):
        frames[i] = i
    return Clip(frames, fps=8.0)


def _with(metric, detector: ScriptedDetector):  # noqa: ANN001, ANN202
    metric._detector = detector
    return metric


def test_middle_frame_indices_match_vbench_examples() -> None:
    # VBench get_frame_indices(16, 32, 'middle'): intervals of 2 -> the first of each pair
    assert middle_frame_indices(16, 32) == list(range(0, 32, 2))
    assert middle_frame_indices(4, 10) == [0, 3, 5, 8]
    assert middle_frame_indices(16, 3) == [0, 1, 2] + [2] * 13  # short clips pad with the last frame
    with pytest.raises(MetricError):
        middle_frame_indices(16, 0)


def test_position_score_follows_vbench_rule() -> None:
    left, right = (0, 0, 10, 10), (20, 0, 30, 10)
    assert position_score("on the left of", left, right) == 1.0
    assert position_score("on the right of", left, right) == 1.0  # VBench does not check direction
    assert position_score("on the top of", left, right) == 0.0  # separated across the axis
    overlapping = (5, 0, 15, 10)  # IoU 50/150 = 1/3 > 0.1 -> 0.1 / IoU
    assert position_score("on the left of", left, overlapping) == pytest.approx(0.3)
    assert position_score("on the bottom of", (0, 0, 10, 10), (0, 30, 10, 40)) == 1.0


def test_prompt_parsing_vbench_templates_and_auxiliary_info() -> None:
    assert parse_color_prompt("a red bicycle", None) == ("red", "bicycle")
    assert parse_color_prompt("a bicycle", {"color": "red"}) == ("red", "bicycle")
    assert parse_color_prompt("a bicycle", None) is None
    assert parse_multiple_objects_prompt("a bird and a cat", None) == ("bird", "cat")
    assert parse_multiple_objects_prompt("anything", {"object": "bird and cat"}) == ("bird", "cat")
    assert parse_spatial_prompt("a dog on the left of a chair, front view", None) == {
        "object_a": "dog", "object_b": "chair", "relationship": "on the left of"}
    aux = {"spatial_relationship": {"object_a": "cup", "object_b": "plate", "relationship": "on the top of"}}
    assert parse_spatial_prompt("whatever", aux)["relationship"] == "on the top of"


def test_object_class_counts_frames_with_the_object() -> None:
    ball = ("ball", 0.9, (1, 1, 5, 5))
    # 32 frames: VBench samples frames 0, 2, ..., 30; the ball is in sampled frames 0, 2, 4, 6.
    det = ScriptedDetector({i: [ball] for i in (0, 1, 2, 3, 4, 5, 6, 31)})
    out = _with(ObjectClass(), det).score(_numbered_clip(32), ClipContext(prompt="a ball"))
    assert out["object_class"] == pytest.approx(4 / 16) and out["frames"] == 16
    assert det.calls[0][1] == ["ball"]
    # A low score does not count.
    weak = ScriptedDetector({i: [("ball", 0.1, (1, 1, 5, 5))] for i in range(32)})
    assert _with(ObjectClass(), weak).score(_numbered_clip(32), ClipContext(prompt="a ball"))["object_class"] == 0


def test_multiple_objects_needs_both_in_the_same_frame() -> None:
    cat, dog = ("cat", 0.8, (0, 0, 5, 5)), ("dog", 0.8, (10, 0, 15, 5))
    det = ScriptedDetector({0: [cat, dog], 2: [cat], 4: [dog], 6: [cat, dog]})
    out = _with(MultipleObjects(), det).score(_numbered_clip(32), ClipContext(prompt="a cat and a dog"))
    assert out["multiple_objects"] == pytest.approx(2 / 16)


def test_color_is_share_of_object_frames_with_the_right_colour() -> None:
    red, blue = ("a red car", 0.7, (0, 0, 5, 5)), ("a blue car", 0.6, (0, 0, 5, 5))
    # frames 0, 2: red best; frame 4: blue best; frame 6: red and blue, red best; others: no car
    det = ScriptedDetector({0: [red], 2: [red, blue], 4: [blue], 6: [blue, red]})
    out = _with(ColorDimension(), det).score(_numbered_clip(32), ClipContext(prompt="a red car"))
    assert out["object_frames"] == 4 and out["colour_frames"] == 3
    assert out["color"] == pytest.approx(0.75)
    assert "a grey car" not in det.calls[0][1] and "a gray car" in det.calls[0][1]
    nothing = ScriptedDetector({})
    with pytest.raises(MetricError, match="out of the average"):
        _with(ColorDimension(), nothing).score(_numbered_clip(32), ClipContext(prompt="a red car"))


def test_spatial_relationship_mean_of_best_pair_per_frame() -> None:
    a, b = ("dog", 0.9, (0, 0, 10, 10)), ("chair", 0.9, (20, 0, 30, 10))
    below = ("chair", 0.9, (0, 20, 10, 30))
    det = ScriptedDetector({0: [a, b], 2: [a, below], 4: [a]})
    out = _with(SpatialRelationship(), det).score(
        _numbered_clip(32), ClipContext(prompt="a dog on the left of a chair, front view"))
    assert out["spatial_relationship"] == pytest.approx(1 / 16)


def test_unparseable_prompt_is_refused_with_what_to_add() -> None:
    with pytest.raises(MetricError, match="auxiliary_info"):
        _with(MultipleObjects(), ScriptedDetector({})).score(_numbered_clip(4), ClipContext(prompt="sunset"))


def test_large_frames_are_brought_to_vbench_720p_short_side() -> None:
    det = ScriptedDetector({})
    clip = Clip(np.zeros((3, 1080, 1920, 3), dtype=np.uint8), fps=24.0)
    _with(ObjectClass(), det).score(clip, ClipContext(prompt="a ball"))
    assert det.calls[0][0] == (16, 720, 1280, 3)


def test_end_to_end_on_a_tiny_owlv2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = make_tiny_owlv2(tmp_path / "owl")
    metric = ObjectClass(detector=str(folder), threshold=0.01, local_files_only=True, device="cpu")
    assert ObjectClass.options_problem({"detector": str(folder), "local_files_only": True}) is None
    frames = np.random.default_rng(0).integers(0, 256, (20, 40, 56, 3), dtype=np.uint8)
    out = metric.score(Clip(frames, fps=8.0), ClipContext(prompt="a ball"))
    assert 0.0 <= out["object_class"] <= 1.0 and out["frames"] == 16
    problem = ObjectClass.options_problem({"detector": str(tmp_path / "none"), "local_files_only": True})
    assert "could not be loaded" in problem and "\n" not in problem


def _vbench_function(module: str, name: str):  # noqa: ANN202
    """A function from VBench 0.1.5's source (the parity environment of
    ``scripts/make_vbench_parity_env.sh``, ``$VBENCH_PARITY_ENV/site``, or ``$EVALKIT_VBENCH_SRC``
    holding the ``vbench`` folder), compiled alone so that its module's torchvision/detectron2
    imports are not needed."""
    roots = [os.environ.get("EVALKIT_VBENCH_SRC"), str(Path(os.environ.get("VBENCH_PARITY_ENV", "/tmp/vbench_env")) / "site")]
    path = next((Path(r) / "vbench" / f"{module}.py" for r in roots if r and (Path(r) / "vbench" / f"{module}.py").is_file()), None)
    if path is None:
        pytest.skip("VBench's source is not here: build scripts/make_vbench_parity_env.sh or set EVALKIT_VBENCH_SRC")
    fn = next(n for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef) and n.name == name)
    namespace = {"np": np, "random": random}
    exec(compile(ast.Module([fn], []), str(path), "exec"), namespace)  # noqa: S102 - VBench's own code
    return namespace[name]


def test_parity_with_vbench_source_position_score_and_frame_indices() -> None:
    vbench_score = _vbench_function("spatial_relationship", "get_position_score")
    vbench_indices = _vbench_function("utils", "get_frame_indices")
    rng = np.random.default_rng(0)
    for relation in ("on the left of", "on the right of", "on the top of", "on the bottom of"):
        for _ in range(2000):
            xs, ys = np.sort(rng.uniform(0, 100, (2, 2)), axis=1), np.sort(rng.uniform(0, 100, (2, 2)), axis=1)
            box_a, box_b = [xs[0, 0], ys[0, 0], xs[0, 1], ys[0, 1]], [xs[1, 0], ys[1, 0], xs[1, 1], ys[1, 1]]
            assert position_score(relation, box_a, box_b) == vbench_score(relation, box_a, box_b)
    for length in range(1, 300):
        assert middle_frame_indices(16, length) == [int(i) for i in vbench_indices(16, length, sample="middle")]


def test_run_with_vbench_prompts_scores_and_a_missing_detector_stops_before_decoding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from evalkit.cli import main
    from evalkit.video import write_video

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    owl = make_tiny_owlv2(tmp_path / "owl")
    info = [{"prompt_en": "a bicycle", "dimension": ["object_class"],
             "auxiliary_info": {"object_class": {"object": "bicycle"}}},
            {"prompt_en": "a bird and a cat", "dimension": ["multiple_objects"],
             "auxiliary_info": {"multiple_objects": {"object": "bird and cat"}}}]
    (tmp_path / "VBench_full_info.json").write_text(json.dumps(info))
    rng = np.random.default_rng(0)
    for entry in info:
        write_video(tmp_path / "clips" / f"{entry['prompt_en']}-0.mp4",
                    Clip(rng.integers(0, 255, (8, 32, 32, 3), dtype=np.uint8), 8.0))

    def suite(detector: Path, name: str) -> Path:
        options = {"detector": str(detector), "threshold": 0.01, "local_files_only": True, "device": "cpu"}
        text = json.dumps({"name": name, "output": str(tmp_path / name), "samples_per_prompt": 1,
                           "prompts": {"file": "VBench_full_info.json"},
                           "generators": [{"name": "folder", "label": "m", "options": {"path": "clips"}}],
                           "metrics": [{"name": "object_class", "options": options},
                                       {"name": "multiple_objects", "options": options}]})
        (tmp_path / f"{name}.yaml").write_text(text)
        return tmp_path / f"{name}.yaml"

    assert main(["run", str(suite(owl, "ok")), "--no-progress"]) == 0
    rows = [json.loads(line) for f in (tmp_path / "ok").rglob("*.jsonl") for line in f.read_text().splitlines()]
    scored = {(r["prompt"], r["metric"]): r for r in rows if r.get("metric") in ("object_class", "multiple_objects")}
    assert scored[("a bicycle", "object_class")]["status"] == "ok"
    assert scored[("a bird and a cat", "multiple_objects")]["values"]["objects"] == "bird and cat"

    import evalkit.video as video

    def no_decoding(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("a clip was decoded")

    monkeypatch.setattr(video, "read_video", no_decoding)
    assert main(["run", str(suite(tmp_path / "no-owl", "missing")), "--no-progress"]) == 2
    assert not list((tmp_path / "missing").rglob("*.jsonl"))
