"""The runner drives the new metrics by name: fvd, kvd, alignment, r_precision (world clips)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit import registry
from evalkit.metrics.evaluator_scoring import BUNDLED_WEIGHTS
from evalkit.runner import run_suite
from evalkit.store import read_jsonl
from evalkit.suite import load_suite

pytestmark = pytest.mark.skipif(not BUNDLED_WEIGHTS.is_file(), reason="evaluator weights not built")

# The exact targets proposed for pyproject's entry points and registry._BUILTIN.
TARGETS = {
    "fvd": "evalkit.metrics.fvd:FVD",
    "kvd": "evalkit.metrics.fvd:KVD",
    "clip_score": "evalkit.metrics.clip_score:ClipScore",
    "alignment": "evalkit.metrics.evaluator:Alignment",
    "r_precision": "evalkit.metrics.evaluator:RPrecision",
}


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name, target in TARGETS.items():
        registry.register("metric", name, target)
    yield
    for name in TARGETS:
        registry.unregister("metric", name)


def test_targets_load(registered) -> None:
    for name in TARGETS:
        cls = registry.load("metric", name)
        assert cls.name == name and cls.primary


def test_runner_scores_world_clips(registered, in_tmp: Path) -> None:
    suite = {
        "name": "m",
        "prompts": ["a red ball falls from the upper left", "a blue box moves right across the center",
                    "a green ball falls from the top and bounces on the floor"],
        "samples_per_prompt": 2,
        "generators": [{"name": "world"}],
        "metrics": [{"name": "alignment"}, {"name": "r_precision"},
                    {"name": "fvd", "options": {"kvd_subsets": 5}}, {"name": "kvd", "options": {"kvd_subsets": 5}}],
        "reference": {"kind": "world", "samples_per_prompt": 2},
    }
    report = run_suite(load_suite(suite), progress=False)
    results = list(read_jsonl(report.output_dir / "results.jsonl"))
    errors = [r for r in results if r["status"] != "ok"]
    assert report.ok, errors
    metrics = report.summaries["world"]["metrics"]
    fvd = metrics["fvd"]["value"]
    assert fvd["backbone"] == "evaluator" and fvd["n_real"] == fvd["n_fake"] == 6
    assert fvd["frames"] == 16 and fvd["resolution"] == [64, 64]
    aligned = [r["values"]["alignment"] for r in results if r["metric"] == "alignment"]
    assert len(aligned) == 6 and min(aligned) > 0.3
    hits = [r["values"]["r_precision"] for r in results if r["metric"] == "r_precision"]
    assert sum(hits) >= 5
