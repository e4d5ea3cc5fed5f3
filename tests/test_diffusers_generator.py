"""The ``diffusers`` generator on a tiny random Wan pipeline built here (offline, CPU)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

pytest.importorskip("diffusers", reason="the diffusers extra is not installed "
                                        "(pip install -e '.[diffusers]')")
pytest.importorskip("accelerate", reason="the diffusers extra is not installed "
                                         "(pip install -e '.[diffusers]')")

from evalkit.cli import main  # noqa: E402
from evalkit.errors import ConfigError  # noqa: E402
from evalkit.generators.base import GenerationRequest  # noqa: E402
from evalkit.generators.diffusers_pipeline import (DiffusersGenerator,  # noqa: E402
                                                   frames_to_uint8)
from evalkit.runner import plan_run, run_suite  # noqa: E402
from evalkit.store import read_jsonl  # noqa: E402
from evalkit.suite import load_suite  # noqa: E402
from evalkit.video import read_video  # noqa: E402

from tiny_pipelines import build_tiny_wan  # noqa: E402

FAST = {"frames": 9, "height": 32, "width": 32, "steps": 2, "guidance": 3.0,
        "extra": {"max_sequence_length": 16}}
PROMPTS = ["a red ball falls", "a blue box moves right", "a green ball bounces on the floor"]


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_wan(tmp_path_factory.mktemp("pipelines") / "tiny-wan")


@pytest.fixture(scope="module")
def generator(tiny_wan: Path) -> DiffusersGenerator:
    gen = DiffusersGenerator(model=str(tiny_wan), **FAST)
    gen.load()
    return gen


def _req(prompt: str, seed: int, sample: int = 0) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, prompt_id=f"p{seed}", sample=sample, seed=seed)


def test_generates_uint8_clips_with_their_parameters(generator: DiffusersGenerator,
                                                     tiny_wan: Path) -> None:
    clips = generator.generate_batch([_req(PROMPTS[0], 0), _req(PROMPTS[1], 1)])
    assert len(clips) == 2
    for clip in clips:
        assert clip.frames.dtype == np.uint8 and clip.frames.shape == (9, 32, 32, 3)
        assert clip.fps == 16.0  # Wan's default frame rate
    meta = clips[1].metadata
    assert meta["seed"] == 1 and meta["model"] == str(tiny_wan)
    assert meta["pipeline"] == "WanPipeline" and meta["dtype"] == "float32"
    assert meta["device"] == "cpu" and meta["diffusers_version"]
    assert meta["call"] == {"num_inference_steps": 2, "guidance_scale": 3.0, "num_frames": 9,
                            "height": 32, "width": 32, "max_sequence_length": 16}


def test_seeds_are_honoured_whatever_the_batch(generator: DiffusersGenerator) -> None:
    batch = generator.generate_batch([_req(PROMPTS[0], 0), _req(PROMPTS[1], 1)])
    alone = generator.generate(_req(PROMPTS[1], 1))
    again = generator.generate(_req(PROMPTS[1], 1))
    other = generator.generate(_req(PROMPTS[1], 2))
    assert np.array_equal(alone.frames, again.frames)  # same seed, same clip
    # in a batch or alone: the same clip up to float rounding of batched matmuls
    assert np.abs(alone.frames.astype(int) - batch[1].frames.astype(int)).max() <= 2
    assert np.abs(alone.frames.astype(int) - other.frames.astype(int)).mean() > 1


def test_an_option_the_pipeline_lacks_is_refused(tiny_wan: Path) -> None:
    gen = DiffusersGenerator(model=str(tiny_wan), **{**FAST, "extra": {"no_such_keyword": 1}})
    with pytest.raises(ValueError, match="WanPipeline takes no 'extra.no_such_keyword'"):
        gen.load()


def test_models_not_available_offline_are_refused_before_any_work(
        in_tmp: Path, tiny_wan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = {"name": "d", "prompts": PROMPTS, "generators": [
        {"name": "diffusers", "options": {"model": "evalkit-tests/no-such-video-model"}}]}
    with pytest.raises(ConfigError, match=r"diffusers model 'evalkit-tests/no-such-video-model' "
                                          r"is not available offline: .*hf download"):
        plan_run(load_suite(suite))
    (in_tmp / "not-a-pipeline").mkdir()
    with pytest.raises(ConfigError, match="not a diffusers pipeline"):
        plan_run(load_suite({**suite, "generators": [
            {"name": "diffusers", "options": {"model": "not-a-pipeline"}}]}))
    (in_tmp / "s.yaml").write_text(yaml.safe_dump(suite))
    assert main(["run", "s.yaml", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-video-model" in err[0]
    assert not (in_tmp / "runs").exists()


def test_frames_to_uint8_takes_every_output_type() -> None:
    import torch
    from PIL import Image

    video = np.random.default_rng(0).random((2, 3, 4, 5, 3), dtype=np.float32)
    as_np = frames_to_uint8(video)
    as_pt = frames_to_uint8(torch.from_numpy(video).permute(0, 1, 4, 2, 3))
    as_pil = frames_to_uint8([[Image.fromarray(f) for f in v] for v in as_np])
    for got in (as_pt, as_pil):
        assert all(np.array_equal(a, b) for a, b in zip(as_np, got))
    assert as_np[0].shape == (3, 4, 5, 3) and as_np[0].dtype == np.uint8


def _suite_file(folder: Path, pipeline: Path, **extra: Any) -> Path:
    suite = {"name": "tiny", "prompts": PROMPTS, "samples_per_prompt": 2, "seed": 7,
             "generators": [{"name": "diffusers", "label": "tiny-wan",
                             "options": {"model": os.path.relpath(pipeline, folder),
                                         "batch_size": 2, **FAST}}],
             "metrics": [{"name": "temporal_flickering"}], **extra}
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def test_suite_runs_end_to_end_and_resumes_after_kill_9(in_tmp: Path, tiny_wan: Path) -> None:
    suite_file = _suite_file(in_tmp, tiny_wan)  # the model is a folder relative to the suite
    cmd = [sys.executable, "-m", "evalkit", "run", str(suite_file), "--no-progress", "--out", "r"]
    gens_file = in_tmp / "r" / "generations.jsonl"
    proc = subprocess.Popen(cmd, cwd=in_tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None and not (
            gens_file.exists() and gens_file.read_text().count("\n") >= 2):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(read_jsonl(gens_file)))
    assert 2 <= done < 6, f"{done} clips made before the kill"

    rerun = subprocess.run(cmd, cwd=in_tmp, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"clips: {6 - done} made, {done} reused, 0 failed" in rerun.stderr
    gens = {(g["prompt_id"], g["sample"]): g for g in read_jsonl(gens_file)}
    assert len(gens) == 6 and all(g["status"] == "ok" for g in gens.values())
    assert sorted({g["seed"] for g in gens.values()}) == [7, 8]

    # the same suite in this process, in another folder: the same pixels per (prompt, seed)
    report = run_suite(load_suite(suite_file, output="again"), progress=False)
    assert report.ok and report.clips_made == 6
    for key, g in gens.items():
        clip = read_video(in_tmp / "r" / g["path"])
        other = read_video(report.output_dir / g["path"])
        assert np.array_equal(clip.frames, other.frames), key
    meta = clip.metadata
    assert meta["generator"] == "tiny-wan" and meta["pipeline"] == "WanPipeline"
    assert meta["call"]["num_inference_steps"] == 2 and meta["seed"] in (7, 8)
    summary = report.summaries["tiny-wan"]
    assert summary["generator_info"]["options"]["batch_size"] == 2
    assert summary["metrics"]["temporal_flickering"]["n"] == 6


@pytest.mark.slow  # 30 s on 2 cores; the Ray rows are also checked on the world in the default run
def test_the_same_suite_under_ray_gives_the_same_rows(in_tmp: Path, tiny_wan: Path) -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
    suite_file = _suite_file(in_tmp, tiny_wan)
    local = run_suite(load_suite(suite_file, output="local"), progress=False)
    ray = run_suite(load_suite(suite_file, output="ray",
                               overrides={"executor": {"kind": "ray", "workers": 2}}),
                    progress=False)
    assert local.ok and ray.ok and ray.clips_made == 6

    def rows(run: Path) -> dict:
        return {(r["prompt_id"], r["sample"], r["metric"]): r["values"]
                for r in read_jsonl(run / "results.jsonl")}

    assert rows(ray.output_dir) == rows(local.output_dir)
    for g in read_jsonl(local.output_dir / "generations.jsonl"):
        assert np.array_equal(read_video(local.output_dir / g["path"]).frames,
                              read_video(ray.output_dir / g["path"]).frames)
