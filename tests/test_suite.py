"""Suite schema: loading, prompt sources, seeds, overrides and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evalkit.errors import ConfigError
from evalkit.suite import load_suite, prompt_id_for

BASE = {
    "name": "t",
    "prompts": ["a red ball falls from the upper left", "a blue box rests in the center"],
    "generators": [{"name": "world"}],
    "metrics": [{"name": "temporal_flickering"}],
}


def write(tmp_path: Path, data: dict, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_inline_prompts_get_stable_ids(tmp_path: Path) -> None:
    resolved = load_suite(write(tmp_path, BASE))
    assert [p.text for p in resolved.prompts] == BASE["prompts"]
    assert resolved.prompts[0].id == prompt_id_for(BASE["prompts"][0])
    assert resolved.prompts[0].id.startswith("a-red-ball-falls")
    assert load_suite(write(tmp_path, BASE)).config_hash() == resolved.config_hash()


def test_prompt_file_is_relative_to_the_suite(tmp_path: Path, in_tmp: Path) -> None:
    sub = tmp_path / "cfg"
    sub.mkdir()
    (sub / "p.txt").write_text("# comment\na red ball falls\n\na green box bounces\n")
    resolved = load_suite(write(sub, {**BASE, "prompts": {"file": "p.txt"}}))
    assert [p.text for p in resolved.prompts] == ["a red ball falls", "a green box bounces"]


def test_builtin_suites_have_scene_specs() -> None:
    resolved = load_suite({**BASE, "prompts": {"builtin": "physics-basic"}})
    assert len(resolved.prompts) >= 48
    assert all(p.scene is not None for p in resolved.prompts)
    motions = {o.motion.value for p in resolved.prompts for o in p.scene.objects}
    assert motions == {"freefall", "projectile", "uniform", "bounce", "rest", "occluded"}
    again = load_suite({**BASE, "prompts": {"builtin": "physics-basic"}})
    assert again.config_hash() == resolved.config_hash()  # deterministic on every machine


def test_seeds(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, {**BASE, "samples_per_prompt": 3, "seed": 5})).suite
    assert [suite.seed_for(i) for i in range(3)] == [5, 6, 7]
    suite = load_suite(write(tmp_path, {**BASE, "seeds": [3, 9]})).suite
    assert suite.samples_per_prompt == 2 and suite.seed_for(1) == 9
    with pytest.raises(ConfigError, match="samples_per_prompt"):
        load_suite(write(tmp_path, {**BASE, "seeds": [3, 9], "samples_per_prompt": 3}))


def test_overrides_and_output(tmp_path: Path, in_tmp: Path) -> None:
    resolved = load_suite(write(tmp_path, BASE),
                          overrides={"samples_per_prompt": 4, "executor.workers": 2})
    assert resolved.suite.samples_per_prompt == 4
    assert resolved.suite.executor.workers == 2
    assert resolved.output_dir == (in_tmp / "runs" / "t").resolve()
    assert load_suite(write(tmp_path, BASE), output="elsewhere").output_dir.name == "elsewhere"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"samples_per_promt": 2}, r"samples_per_promt: unknown key \(did you mean "
                                   r"'samples_per_prompt'\?\); expected one of: name,"),
        ({"metrics": [{"name": "x", "optoins": {}}]},
         r"metrics\[0\]\.optoins: unknown key \(did you mean 'options'\?\)"),
        ({"prompts": {"file": "nope.txt"}}, r"prompts\.file: file '.*nope\.txt' does not exist"),
        ({"prompts": {"builtin": "quikstart"}}, r"did you mean 'quickstart'"),
        ({"samples_per_prompt": 0}, r"samples_per_prompt: .*greater than or equal to 1"),
        ({"generators": []}, r"generators: .*at least 1"),
        ({"generators": [{"name": "world"}, {"name": "world"}]}, r"appears twice"),
    ],
)
def test_errors_are_one_line_and_name_the_key(tmp_path: Path, change: dict, expected: str) -> None:
    data = {k: v for k, v in BASE.items()}
    data.update(change)
    with pytest.raises(ConfigError, match=expected) as info:
        load_suite(write(tmp_path, data))
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(str(tmp_path / "suite.yaml"))


def test_missing_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_suite(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_suite(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_suite(bad)


def test_limit_applies_to_every_prompt_source(tmp_path: Path) -> None:
    assert len(load_suite(write(tmp_path, BASE), limit=1).prompts) == 1
    inline = {**BASE, "prompts": {"inline": BASE["prompts"]}}
    assert len(load_suite(write(tmp_path, inline), limit=1).prompts) == 1
    builtin = {**BASE, "prompts": {"builtin": "physics-basic"}}
    assert len(load_suite(builtin, limit=5).prompts) == 5
    with pytest.raises(ConfigError, match="--limit must be at least 1"):
        load_suite(write(tmp_path, BASE), limit=0)


@pytest.mark.parametrize("dotted", ["generators.3.name", "name.x", "generators.x.name"])
def test_bad_set_paths_are_one_line_errors(tmp_path: Path, dotted: str) -> None:
    with pytest.raises(ConfigError, match=f"--set {dotted}: no such key"):
        load_suite(write(tmp_path, BASE), overrides={dotted: 1})
