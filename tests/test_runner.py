"""The runner end to end: run folder contents, summaries, resuming, folder clips, set metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import yaml

from evalkit import registry
from evalkit.clip import Clip
from evalkit.errors import ConfigError
from evalkit.generators.base import GenerationRequest
from evalkit.generators.world import WorldGenerator
from evalkit.metrics.base import ClipMetric, SetMetric
from evalkit.runner import run_suite
from evalkit.store import read_jsonl
from evalkit.suite import load_suite
from evalkit.video import read_video, write_video

REPO = Path(__file__).resolve().parents[1]

SUITE = {
    "name": "t",
    "prompts": ["a red ball falls from the upper left", "a blue box moves right across the center",
                "a green ball bounces on the floor"],
    "samples_per_prompt": 2,
    "generators": [{"name": "world"}],
    "metrics": [{"name": "temporal_flickering"}, {"name": "motion_magnitude"}],
}


def lines(path: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(path))


def test_run_writes_clips_results_and_summary(in_tmp: Path) -> None:
    report = run_suite(load_suite(SUITE), progress=False)
    run = in_tmp / "runs" / "t"
    assert report.ok and report.clips_made == 6 and report.scores_made == 12
    clips = sorted((run / "clips" / "world").rglob("*.mp4"))
    assert len(clips) == 6
    results = lines(run / "results.jsonl")
    assert len(results) == 12  # one line per (generator, prompt, sample, metric)
    assert {r["metric"] for r in results} == {"temporal_flickering", "motion_magnitude"}
    assert {r["seed"] for r in results} == {0, 1}
    assert all(r["status"] == "ok" for r in results)
    summary = json.loads((run / "summary" / "world.json").read_text())
    assert summary["n_clips"] == 6 and summary["n_prompts"] == 3
    assert len(summary["config_hash"]) == 16
    assert summary["versions"]["numpy"] and summary["versions"]["python"]
    assert "commit" in summary["git"]
    assert summary["timings"]["generation_s_total"] > 0
    flicker = summary["metrics"]["temporal_flickering"]
    # plain-background world scenes ignore the seed: samples 0 and 1 are the same clip, and
    # a metric counts each distinct clip once (issue 17)
    assert summary["n_clips_duplicate"] == 3
    assert flicker["n"] == 3 and flicker["higher_is_better"] is True
    assert 0 < flicker["summary"]["temporal_flickering"]["mean"] <= 1
    motion = summary["metrics"]["motion_magnitude"]["summary"]["motion_magnitude"]
    assert motion["mean"] > 0  # the balls move


def test_same_seed_same_clip_and_scores(in_tmp: Path) -> None:
    a = run_suite(load_suite(SUITE, output="a"), progress=False)
    b = run_suite(load_suite(SUITE, output="b"), progress=False)
    clip = "clips/world"
    files_a = sorted((a.output_dir / clip).rglob("*.mp4"))
    files_b = sorted((b.output_dir / clip).rglob("*.mp4"))
    assert [f.relative_to(a.output_dir) for f in files_a] == [
        f.relative_to(b.output_dir) for f in files_b]
    # Same decoded pixels (x264 may pick another, equivalent bitstream: see write_video).
    for fa, fb in zip(files_a, files_b):
        assert np.array_equal(read_video(fa).frames, read_video(fb).frames)
    va = {(r["prompt_id"], r["sample"], r["metric"]): r["values"]
          for r in lines(a.output_dir / "results.jsonl")}
    vb = {(r["prompt_id"], r["sample"], r["metric"]): r["values"]
          for r in lines(b.output_dir / "results.jsonl")}
    assert va == vb


class InterruptingWorld(WorldGenerator):
    """World generator that counts its calls and can simulate Ctrl-C after N clips."""

    name = "interrupting_world"
    calls: ClassVar[int] = 0
    interrupt_after: ClassVar[int | None] = None

    def generate(self, request: GenerationRequest) -> Clip:
        if self.interrupt_after is not None and InterruptingWorld.calls >= self.interrupt_after:
            raise KeyboardInterrupt
        InterruptingWorld.calls += 1
        return super().generate(request)


@pytest.fixture
def interrupting() -> Any:
    registry.register("generator", "interrupting_world", InterruptingWorld)
    InterruptingWorld.calls = 0
    yield InterruptingWorld
    registry.unregister("generator", "interrupting_world")
    InterruptingWorld.interrupt_after = None


def test_interrupted_run_resumes_with_only_missing_work(in_tmp: Path, interrupting: Any) -> None:
    suite = {**SUITE, "generators": [{"name": "interrupting_world"}]}
    interrupting.interrupt_after = 4
    with pytest.raises(KeyboardInterrupt):
        run_suite(load_suite(suite), progress=False)
    run = in_tmp / "runs" / "t"
    assert len(lines(run / "generations.jsonl")) == 4
    assert not (run / "results.jsonl").exists()

    interrupting.interrupt_after = None
    interrupting.calls = 0
    report = run_suite(load_suite(suite), progress=False)
    assert interrupting.calls == 2  # only the two missing clips are made
    assert (report.clips_made, report.clips_reused) == (2, 4)
    assert report.scores_made == 12

    interrupting.calls = 0
    report = run_suite(load_suite(suite), progress=False)
    assert interrupting.calls == 0 and report.clips_made == 0 and report.scores_made == 0
    assert len(lines(run / "results.jsonl")) == 12


def test_killed_run_with_half_written_line_resumes(in_tmp: Path) -> None:
    """kill -9 in the middle of a real CLI run, then run again: results complete, none twice."""
    suite_file = in_tmp / "s.yaml"
    suite_file.write_text(yaml.safe_dump({**SUITE, "prompts": {"builtin": "physics-basic"},
                                          "samples_per_prompt": 1}))
    cmd = [sys.executable, "-m", "evalkit", "run", str(suite_file), "--no-progress", "--out", "r"]
    proc = subprocess.Popen(cmd, cwd=in_tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = in_tmp / "r" / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not results.exists() or results.stat().st_size < 2000):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with open(results, "a") as fh:
        fh.write('{"generator": "world", "prompt_id": "x", "sam')  # a torn write
    done_before = len(lines(results))
    assert 0 < done_before < 96
    rerun = subprocess.run(cmd, cwd=in_tmp, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "reused" in rerun.stderr
    records = lines(results)
    keys = [(r["prompt_id"], r["sample"], r["metric"]) for r in records]
    assert len(set(keys)) == 96  # 48 prompts x 2 metrics
    assert len(keys) == 96  # nothing scored twice
    assert all(r["status"] == "ok" for r in records)


def test_adding_a_metric_scores_only_that_metric(in_tmp: Path) -> None:
    first = {**SUITE, "metrics": [{"name": "temporal_flickering"}]}
    run_suite(load_suite(first), progress=False)
    report = run_suite(load_suite(SUITE), progress=False)
    assert report.clips_made == 0 and report.clips_reused == 6
    assert report.scores_made == 6 and report.scores_reused == 6


def test_clips_made_another_way_are_refused(in_tmp: Path) -> None:
    run_suite(load_suite(SUITE), progress=False)
    with pytest.raises(ConfigError, match=r"holds a clip of world / 'a red ball falls from the "
                                          r"upper left' #0 made with another seed"):
        run_suite(load_suite({**SUITE, "seed": 7}), progress=False)
    other = {**SUITE, "generators": [{"name": "world", "options": {"height": 96, "width": 96}}]}
    with pytest.raises(ConfigError, match="made with another generator options"):
        run_suite(load_suite(other), progress=False)
    with pytest.raises(ConfigError, match="made with another generator options"):
        run_suite(load_suite({**SUITE, "video": {"crf": 30}}), progress=False)


def test_a_run_can_be_extended(in_tmp: Path) -> None:
    """A smoke test with --limit and fewer samples grows into the full run, reusing clips."""
    small = run_suite(load_suite({**SUITE, "samples_per_prompt": 1}, limit=1), progress=False)
    assert small.clips_made == 1
    full = run_suite(load_suite(SUITE), progress=False)
    assert (full.clips_made, full.clips_reused) == (5, 1)
    assert (full.scores_made, full.scores_reused) == (10, 2)
    assert full.summaries["world"]["n_clips"] == 6
    # samples 0 and 1 of these plain scenes are one clip: counted once
    assert full.summaries["world"]["metrics"]["temporal_flickering"]["n"] == 3


def test_changed_metric_options_recompute_not_relabel(in_tmp: Path) -> None:
    one = {**SUITE, "metrics": [{"name": "motion_magnitude", "options": {"levels": 1}}]}
    run_suite(load_suite(one), progress=False)
    four = {**SUITE, "metrics": [{"name": "motion_magnitude", "options": {"levels": 4}}]}
    report = run_suite(load_suite(four), progress=False)
    assert report.scores_made == 6 and report.scores_reused == 0
    assert report.summaries["world"]["metrics"]["motion_magnitude"]["n"] == 3  # distinct clips
    again = run_suite(load_suite(four), progress=False)
    assert again.scores_made == 0 and again.scores_reused == 6


def test_moved_run_folder_reuses_its_clips(in_tmp: Path) -> None:
    run_suite(load_suite(SUITE, output="before"), progress=False)
    (in_tmp / "before").rename(in_tmp / "after")
    report = run_suite(load_suite(SUITE, output="after"), progress=False)
    assert report.clips_made == 0 and report.clips_reused == 6 and report.scores_made == 0


def test_nothing_written_on_config_errors(in_tmp: Path) -> None:
    with pytest.raises(ConfigError, match=r"generators\[0\]\.name: unknown generator 'wrold' "
                                          r"\(did you mean 'world'\?\)"):
        run_suite(load_suite({**SUITE, "generators": [{"name": "wrold"}]}), progress=False)
    with pytest.raises(ConfigError, match=r"metrics\[1\]\.options\.levles: unknown key"):
        run_suite(load_suite({**SUITE, "metrics": [
            {"name": "temporal_flickering"}, {"name": "motion_magnitude",
                                              "options": {"levles": 2}}]}), progress=False)
    with pytest.raises(ConfigError, match="cannot render prompt 'a cat sings'"):
        run_suite(load_suite({**SUITE, "prompts": ["a cat sings"]}), progress=False)
    assert not (in_tmp / "runs").exists()


def test_folder_generator_reads_vbench_naming(in_tmp: Path) -> None:
    clips_dir = in_tmp / "external"
    world = WorldGenerator()
    for prompt in SUITE["prompts"]:
        for i in range(2):
            clip = world.generate(GenerationRequest(prompt, "x", i, seed=100 + i))
            write_video(clips_dir / f"{prompt}-{i}.mp4", clip)
    suite = {**SUITE, "generators": [{"name": "folder", "options": {"path": str(clips_dir)}},
                                     {"name": "world"}]}
    report = run_suite(load_suite(suite), progress=False)
    assert report.ok and report.clips_made == 12
    copied = sorted((report.output_dir / "clips" / "folder").rglob("*.mp4"))
    originals = {p.read_bytes() for p in clips_dir.glob("*.mp4")}
    assert {p.read_bytes() for p in copied} == originals  # verbatim, not re-encoded
    assert set(report.summaries) == {"folder", "world"}

    (clips_dir / f"{SUITE['prompts'][0]}-1.mp4").unlink()
    with pytest.raises(ConfigError, match=r"no clip in .* for prompt 'a red ball falls from "
                                          r"the upper left' sample 1"):
        run_suite(load_suite(suite, output="other"), progress=False)


def test_folder_generator_mapping_file(in_tmp: Path) -> None:
    clips_dir = in_tmp / "ext"
    world = WorldGenerator()
    rows = ["file,prompt,sample"]
    for n, prompt in enumerate(SUITE["prompts"]):
        write_video(clips_dir / f"clip{n}.mp4", world.generate(GenerationRequest(prompt, "x", 0, 1)))
        rows.append(f"clip{n}.mp4,{prompt},0")
    (in_tmp / "map.csv").write_text("\n".join(rows) + "\n")
    suite = {**SUITE, "samples_per_prompt": 1, "generators": [
        {"name": "folder", "options": {"path": "ext", "mapping": "map.csv"}}]}
    report = run_suite(load_suite(suite), progress=False)
    assert report.ok and report.clips_made == 3


class MeanBrightnessGap(SetMetric):
    """A toy set metric: |mean brightness of generated - of reference|."""

    name = "brightness_gap"
    higher_is_better = False
    primary = "gap"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.add_state("real", [], "cat")
        self.add_state("fake", [], "cat")

    def update(self, clips: Sequence[Clip], real: bool) -> None:
        (self.real if real else self.fake).extend(float(c.frames.mean()) for c in clips)

    def compute(self) -> dict[str, Any]:
        return {"gap": abs(np.mean(self.fake) - np.mean(self.real)), "n_real": len(self.real),
                "n_fake": len(self.fake)}


def test_set_metric_against_world_reference(in_tmp: Path) -> None:
    registry.register("metric", "brightness_gap", MeanBrightnessGap)
    try:
        suite = {**SUITE, "metrics": [{"name": "brightness_gap"}]}
        with pytest.raises(ConfigError, match="needs a 'reference:' set"):
            run_suite(load_suite(suite), progress=False)
        report = run_suite(load_suite({**suite, "reference": {"kind": "world"}}), progress=False)
        assert report.ok
        value = report.summaries["world"]["metrics"]["brightness_gap"]["value"]
        assert value["n_real"] == 6 and value["n_fake"] == 6  # reference N follows the suite
        assert value["gap"] < 2.0  # same renderer, other seeds, after H.264
        report = run_suite(load_suite({**suite, "reference": {"samples_per_prompt": 1}},
                                      output="one-ref"), progress=False)
        value = report.summaries["world"]["metrics"]["brightness_gap"]["value"]
        assert value["n_real"] == 3 and value["n_fake"] == 6
    finally:
        registry.unregister("metric", "brightness_gap")


def test_process_pool_gives_the_same_results(in_tmp: Path) -> None:
    serial = run_suite(load_suite(SUITE, output="one"), progress=False)
    pooled = run_suite(load_suite(SUITE, output="two", overrides={"executor.workers": 2}),
                       progress=False)
    def values(run: Path) -> dict:
        return {(r["prompt_id"], r["sample"], r["metric"]): r["values"]
                for r in lines(run / "results.jsonl")}
    assert values(serial.output_dir) == values(pooled.output_dir)


class NumpyNanMetric(ClipMetric):
    """Returns a numpy NaN on every other clip: an error for that clip, not a crash."""

    name = "numpy_nan"
    primary = "value"
    calls: ClassVar[int] = 0

    def score(self, clip: Clip, context: Any) -> dict[str, Any]:
        NumpyNanMetric.calls += 1
        value = np.float32("nan") if NumpyNanMetric.calls % 2 else np.float32(1.5)
        return {"value": value, "curve": np.arange(3)}


def test_non_finite_values_fail_the_item_not_the_run(in_tmp: Path) -> None:
    registry.register("metric", "numpy_nan", NumpyNanMetric)
    try:
        report = run_suite(load_suite({**SUITE, "metrics": [{"name": "numpy_nan"}]}),
                           progress=False)
    finally:
        registry.unregister("metric", "numpy_nan")
    assert (report.scores_made, report.scores_failed) == (3, 3)
    records = lines(report.output_dir / "results.jsonl")
    ok = [r for r in records if r["status"] == "ok"]
    assert ok[0]["values"] == {"value": 1.5, "curve": [0, 1, 2]}  # numpy made plain JSON
    failed = [r for r in records if r["status"] == "error"]
    assert "non-finite value for 'value'" in failed[0]["error"]


def test_names_that_collide_on_disk_are_refused(in_tmp: Path) -> None:
    suite = {**SUITE, "generators": [{"name": "world", "label": "my model"},
                                     {"name": "world", "label": "my_model"}]}
    with pytest.raises(ConfigError, match="map to the same file name 'my_model'"):
        run_suite(load_suite(suite), progress=False)


def test_set_metric_recomputed_when_its_clips_change(in_tmp: Path) -> None:
    registry.register("metric", "brightness_gap", MeanBrightnessGap)
    try:
        suite = {**SUITE, "metrics": [{"name": "brightness_gap"}], "reference": {"kind": "world"}}
        first = run_suite(load_suite(suite, limit=2), progress=False)
        assert first.summaries["world"]["metrics"]["brightness_gap"]["value"]["n_fake"] == 4
        second = run_suite(load_suite(suite), progress=False)
        assert second.scores_made == 1
        assert second.summaries["world"]["metrics"]["brightness_gap"]["value"]["n_fake"] == 6
        third = run_suite(load_suite(suite), progress=False)
        assert third.scores_made == 0 and third.scores_reused == 1
    finally:
        registry.unregister("metric", "brightness_gap")
