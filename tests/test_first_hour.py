"""A new user's first hour (issue 17): honest outputs and visible progress.

- ``generator sample`` refuses prompts outside the physics world (or samples them with an
  explicit flag, and says so in the clip);
- progress bars move per clip, and libraries' untitled bars stay quiet;
- the ``world`` generator's repeated clips are found and counted once.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from evalkit import registry
from evalkit.clip import Clip
from evalkit.generators.base import GenerationRequest, Generator
from evalkit.progress import progress_hook, quiet_library_bars, report_progress
from evalkit.world import render, world_prompt_problem

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------
# generator sample: prompts outside the world
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["a cat playing piano", "a cat falls", "sunset over the sea"])
def test_prompts_outside_the_world_are_named(prompt: str) -> None:
    problem = world_prompt_problem(prompt)
    assert problem and "balls or boxes" in problem and "red ball falls" in problem


@pytest.mark.parametrize("prompt", ["a red ball falls from the upper left",
                                    "a blue box is thrown to the right from the top",
                                    "a small green cube bounces on the floor on a textured sky "
                                    "background"])
def test_world_prompts_pass(prompt: str) -> None:
    assert world_prompt_problem(prompt) is None


def test_generator_sample_refuses_a_prompt_it_cannot_draw(tmp_path: Path) -> None:
    out = tmp_path / "cat.mp4"
    result = subprocess.run([sys.executable, "-m", "generator.cli", "sample", "a cat playing piano",
                             "-o", str(out)], capture_output=True, text=True, timeout=120,
                            cwd=REPO)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("generator: error: 'a cat playing piano'")
    assert "balls or boxes" in lines[0] and "--allow-any-prompt" in lines[0]
    assert not out.exists()


def test_allowed_out_of_world_prompt_carries_a_warning_in_the_clip(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the flag the reference generator samples it; the clip's metadata says it is not a
    meaningful sample (checked without loading the model: a stand-in pipeline)."""
    import generator.pipeline as pipeline
    from generator.plugin import ReferenceGenerator

    class FakePipe:
        meta = {"sha256": "x"}

        def generate(self, prompts: Sequence[str], seeds: Sequence[int], **kwargs: Any) -> np.ndarray:
            for step in range(1, 5):
                kwargs["on_step"](step, 4)
            return np.zeros((len(prompts), 4, 8, 8, 3), np.uint8)

    monkeypatch.setattr(pipeline, "load_pipeline", lambda path: FakePipe())
    reports: list[float] = []
    with progress_hook(reports.append):
        clips = ReferenceGenerator().generate_batch([
            GenerationRequest("a cat playing piano", "p0", 0, 0),
            GenerationRequest("a red ball falls", "p1", 0, 0)])
    assert "outside the physics world" in clips[0].metadata["prompt_warning"]
    assert "prompt_warning" not in clips[1].metadata
    # two clips over four steps: the bar hears of them as the steps go, not all at the end
    assert reports == [1, 1]


# ----------------------------------------------------------------------------------------------
# Progress
# ----------------------------------------------------------------------------------------------


class _BatchWorld(Generator):
    """The world, in batches of 4, reporting each clip as it is done (like a batched sampler)."""

    name = "batch_world"
    description = "test"
    batch_size: ClassVar[int] = 4

    def generate(self, request: GenerationRequest) -> Clip:
        from evalkit.world import parse_prompt

        return render(request.scene or parse_prompt(request.prompt), seed=request.seed).clip

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Clip]:
        clips = []
        for request in requests:
            clips.append(self.generate(request))
            report_progress(1)
        return clips


def test_generate_bar_moves_per_clip_within_a_batch(in_tmp: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit import runner
    from evalkit.runner import run_suite
    from evalkit.suite import load_suite

    updates: dict[str, list[float]] = {}

    class Bar:
        def __init__(self, desc: str) -> None:
            self.desc = desc

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def update(self, n: float = 1) -> None:
            updates.setdefault(self.desc, []).append(n)

    monkeypatch.setattr(runner, "_progress", lambda total, desc, enabled: Bar(desc))
    registry.register("generator", "batch_world", _BatchWorld)
    try:
        resolved = load_suite({
            "name": "bars", "prompts": {"builtin": "quickstart"}, "samples_per_prompt": 1,
            "generators": [{"name": "batch_world"}], "metrics": [{"name": "temporal_flickering"}],
        }, output=in_tmp / "run")
        assert run_suite(resolved).ok
    finally:
        registry.unregister("generator", "batch_world")
    moves = [n for n in updates["generate"] if n]
    assert sum(moves) == 6 and max(moves) == 1  # 6 clips in batches of 4, one step per clip


def test_library_bars_are_quiet_while_loading() -> None:
    from transformers.utils import logging as hf_logging

    assert hf_logging.is_progress_bar_enabled()
    with quiet_library_bars():
        assert not hf_logging.is_progress_bar_enabled()
    assert hf_logging.is_progress_bar_enabled()


# ----------------------------------------------------------------------------------------------
# The world generator's repeats are counted once
# ----------------------------------------------------------------------------------------------


def test_repeated_world_clips_are_found_and_counted_once(in_tmp: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Plain-background scenes render the same for every seed: the quickstart's seed-0 and
    seed-1 clips are identical, so n is the 6 distinct clips, not 12 with a spread over copies.
    A textured background takes the seed: those clips differ and all count."""
    import json

    from evalkit.results import generator_table
    from evalkit.runner import run_suite
    from evalkit.suite import load_suite

    resolved = load_suite({
        "name": "dups", "prompts": {"inline": [
            "a red ball falls from the upper left", "a blue box moves right across the center",
            "a green ball falls from the top on a textured sky background"]},
        "samples_per_prompt": 2, "generators": [{"name": "world"}],
        "metrics": [{"name": "temporal_flickering"}],
    }, output=in_tmp / "run")
    with caplog.at_level("WARNING", logger="evalkit"):
        assert run_suite(resolved, progress=False).ok
    assert "world: 2 of 6 clips repeat another" in caplog.text
    table = generator_table(in_tmp / "run")
    row = table.loc["world"]
    assert (row["clips"], row["duplicates"]) == (6, 2)
    assert row["temporal_flickering ↑ n"] == 4
    summary = json.loads((in_tmp / "run" / "summary" / "world.json").read_text())
    assert summary["n_clips_duplicate"] == 2
    assert summary["metrics"]["temporal_flickering"]["n"] == 4


def test_no_duplicates_column_when_every_clip_differs(in_tmp: Path) -> None:
    from evalkit.results import generator_table
    from evalkit.runner import run_suite
    from evalkit.suite import load_suite

    resolved = load_suite({
        "name": "distinct", "prompts": {"inline": ["a red ball falls from the upper left"]},
        "samples_per_prompt": 1, "generators": [{"name": "world"}],
        "metrics": [{"name": "temporal_flickering"}],
    }, output=in_tmp / "run")
    assert run_suite(resolved, progress=False).ok
    assert "duplicates" not in generator_table(in_tmp / "run").columns
