"""Generators and metrics from third-party packages through entry points."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from evalkit import registry
from evalkit.errors import UnknownComponentError


@pytest.fixture
def plugin_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed-looking distribution (dist-info with entry points) on sys.path."""
    (tmp_path / "evalkit_plugin_demo.py").write_text(textwrap.dedent('''
        from evalkit.generators.world import WorldGenerator
        from evalkit.metrics.flicker import TemporalFlickering

        class DemoGenerator(WorldGenerator):
            name = "demo_gen"
            description = "a plugin generator"

        class DemoMetric(TemporalFlickering):
            name = "demo_metric"
            description = "a plugin metric"
    '''))
    info = tmp_path / "evalkit_plugin_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: evalkit-plugin-demo\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[evalkit.generators]\ndemo_gen = evalkit_plugin_demo:DemoGenerator\n\n"
        "[evalkit.metrics]\ndemo_metric = evalkit_plugin_demo:DemoMetric\n"
        "broken = evalkit_plugin_demo:DoesNotExist\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("evalkit_plugin_demo", None)


def test_entry_points_extend_the_registry(plugin_on_path: Path) -> None:
    assert "demo_gen" in registry.available("generator")
    assert registry.load("generator", "demo_gen").description == "a plugin generator"
    assert registry.load("metric", "demo_metric").name == "demo_metric"
    with pytest.raises(UnknownComponentError, match="cannot be loaded"):
        registry.load("metric", "broken")


def test_plugin_runs_in_a_suite(plugin_on_path: Path, in_tmp: Path) -> None:
    from evalkit.runner import run_suite
    from evalkit.suite import load_suite

    report = run_suite(load_suite({
        "name": "plug", "prompts": ["a red ball falls"],
        "generators": [{"name": "demo_gen"}], "metrics": [{"name": "demo_metric"}],
    }), progress=False)
    assert report.ok and report.scores_made == 1


def test_unknown_name_suggests() -> None:
    with pytest.raises(UnknownComponentError, match="did you mean 'temporal_flickering'"):
        registry.load("metric", "temporal_flickring")
