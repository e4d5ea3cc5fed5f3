"""Prompt suites users already have: VBench's VBench_full_info.json, its per-dimension lists,
plain text (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.clip import Clip
from evalkit.errors import ConfigError
from evalkit.runner import run_suite
from evalkit.suite import load_suite
from evalkit.video import write_video

# The format of VBench's vbench/VBench_full_info.json (entries as they appear there).
FULL_INFO = [
    {"prompt_en": "In a still frame, a stop sign", "dimension": ["temporal_flickering"]},
    {"prompt_en": "a toilet, frozen in time", "dimension": ["temporal_flickering"]},
    {"prompt_en": "a person swimming in ocean",
     "dimension": ["subject_consistency", "dynamic_degree", "motion_smoothness"]},
    {"prompt_en": "a bird and a cat", "dimension": ["multiple_objects"],
     "auxiliary_info": {"multiple_objects": {"object": "bird and cat"}}},
    {"prompt_en": "a red bicycle", "dimension": ["color"],
     "auxiliary_info": {"color": {"color": "red"}}},
]


def _suite(prompts: dict) -> dict:
    return {"name": "v", "prompts": prompts, "generators": [{"name": "world"}]}


def test_vbench_full_info_is_read_with_dimensions(in_tmp: Path) -> None:
    (in_tmp / "VBench_full_info.json").write_text(json.dumps(FULL_INFO, indent=4))
    resolved = load_suite(_suite({"file": "VBench_full_info.json"}))
    assert [p.text for p in resolved.prompts] == [e["prompt_en"] for e in FULL_INFO]
    bird = resolved.prompts[3]
    assert bird.dimensions == ["multiple_objects"]
    assert bird.auxiliary_info == {"multiple_objects": {"object": "bird and cat"}}
    assert resolved.config()["prompts"][3]["dimensions"] == ["multiple_objects"]

    picked = load_suite(_suite({"file": "VBench_full_info.json",
                                "dimensions": ["temporal_flickering", "color"]}))
    assert [p.text for p in picked.prompts] == [
        "In a still frame, a stop sign", "a toilet, frozen in time", "a red bicycle"]
    limited = load_suite(_suite({"file": "VBench_full_info.json",
                                 "dimensions": ["motion_smoothness"], "limit": 1}))
    assert [p.text for p in limited.prompts] == ["a person swimming in ocean"]

    with pytest.raises(ConfigError, match=r"prompts.dimensions: 'colour' is not a dimension of "
                                          r".*\(did you mean 'color'\?\); it has: color, "):
        load_suite(_suite({"file": "VBench_full_info.json", "dimensions": ["colour"]}))


def test_plain_text_one_prompt_per_line_just_works(in_tmp: Path) -> None:
    # a per-dimension list as VBench ships it, saved by a Windows editor (BOM, CRLF), with
    # blank lines, stray spaces and a comment
    text = ("\ufeffA 3D model of a 1800s victorian house.\r\n\r\n"
            "   a cute happy Corgi playing in park, sunset  \r\n"
            "# not a prompt\r\n"
            "Close up of grapes on a rotating table.\t\r\n")
    (in_tmp / "overall_consistency.txt").write_bytes(text.encode("utf-8"))
    resolved = load_suite(_suite({"file": "overall_consistency.txt"}))
    assert [p.text for p in resolved.prompts] == [
        "A 3D model of a 1800s victorian house.", "a cute happy Corgi playing in park, sunset",
        "Close up of grapes on a rotating table."]
    assert all(p.dimensions is None for p in resolved.prompts)
    with pytest.raises(ConfigError, match="only a VBench_full_info.json file has dimensions"):
        load_suite(_suite({"file": "overall_consistency.txt", "dimensions": ["color"]}))


def test_vbench_prompts_and_vbench_named_clips_run_end_to_end(in_tmp: Path) -> None:
    """VBench's prompts, and clips named VBench's way ("{prompt}-{index}.mp4"), score as is."""
    (in_tmp / "VBench_full_info.json").write_text(json.dumps(FULL_INFO))
    clips = in_tmp / "sampled_videos"
    rng = np.random.default_rng(0)
    for entry in FULL_INFO[:2]:
        for i in range(2):
            frames = rng.integers(0, 255, (8, 32, 32, 3), dtype=np.uint8)
            write_video(clips / f"{entry['prompt_en']}-{i}.mp4", Clip(frames, 8.0))
    suite = {"name": "vb", "samples_per_prompt": 2,
             "prompts": {"file": "VBench_full_info.json", "dimensions": ["temporal_flickering"]},
             "generators": [{"name": "folder", "label": "my-model",
                             "options": {"path": "sampled_videos"}}],
             "metrics": [{"name": "temporal_flickering"}]}
    report = run_suite(load_suite(suite), progress=False)
    assert report.ok and report.clips_made == 4 and report.scores_made == 4


def test_a_prompt_listed_twice_is_kept_once_with_all_its_dimensions(in_tmp: Path) -> None:
    entries = [*FULL_INFO, {"prompt_en": "a red bicycle ", "dimension": ["object_class"],
                            "auxiliary_info": {"object_class": {"object": "bicycle"}}}]
    (in_tmp / "info.json").write_text(json.dumps(entries))
    prompts = load_suite(_suite({"file": "info.json"})).prompts
    assert len(prompts) == len(FULL_INFO)
    assert prompts[-1].dimensions == ["color", "object_class"]
    assert set(prompts[-1].auxiliary_info) == {"color", "object_class"}
