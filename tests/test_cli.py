"""The command line as a user meets it: exit codes, one-line errors, listings, exports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evalkit.cli import main

REPO = Path(__file__).resolve().parents[1]


def evalkit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_help_imports_nothing_heavy() -> None:
    code = ("import sys; from evalkit.cli import build_parser; build_parser().format_help(); "
            "heavy = [m for m in ('torch', 'av', 'pandas', 'scipy') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"samples_per_promt": 2}, "samples_per_promt: unknown key (did you mean"),
        ({"prompts": {"file": "missing.txt"}}, "prompts.file: file"),
        ({"generators": [{"name": "wrold"}]}, "generators[0].name: unknown generator 'wrold'"),
    ],
)
def test_bad_suites_exit_2_with_one_line_and_write_nothing(
    in_tmp: Path, change: dict, message: str
) -> None:
    data = {"name": "bad", "prompts": ["a red ball falls"], "generators": [{"name": "world"}]}
    data.update(change)
    (in_tmp / "bad.yaml").write_text(yaml.safe_dump(data))
    for command in ("run", "validate"):
        result = evalkit(command, "bad.yaml", cwd=in_tmp)
        assert result.returncode == 2
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["bad.yaml"]


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(REPO / "suites" / "quickstart.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: quickstart: 6 prompts x 2 samples x 1 generators = 12 clips")


def test_ls(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "generators"]) == 0
    out = capsys.readouterr().out
    assert "world" in out and "folder" in out
    assert main(["ls", "metrics"]) == 0
    out = capsys.readouterr().out
    assert "temporal_flickering" in out and "higher is better" in out
    assert main(["ls", "suites"]) == 0
    out = capsys.readouterr().out
    assert "physics-basic" in out and "48 prompts" in out


def test_run_then_results_export(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = REPO / "suites" / "quickstart.yaml"
    assert main(["run", str(suite), "--no-progress", "--samples-per-prompt", "1",
                 "--out", "q"]) == 0
    out = capsys.readouterr().out
    assert "world" in out and "temporal_flickering ↑" in out
    assert main(["results", "q", "-o", "table.csv"]) == 0
    table = pd.read_csv(in_tmp / "table.csv", index_col=0)
    assert list(table.index) == ["world"] and table.loc["world", "clips"] == 6
    assert main(["results", "q", "--per-clip", "-o", "clips.parquet"]) == 0
    clips = pd.read_parquet(in_tmp / "clips.parquet")
    metrics = [m["name"] for m in yaml.safe_load(suite.read_text())["metrics"]]
    assert set(clips["metric"]) == set(metrics)
    per_clip = clips[clips["prompt_id"] != "*"]
    assert len(per_clip) == 6 * len(per_clip["metric"].unique())
    assert (clips["status"] == "ok").all()
    assert main(["results", "q", "-o", "table.xlsx"]) == 2
    assert main(["results", "nothing-here"]) == 2
    err = capsys.readouterr().err
    assert "use a .csv or .parquet" in err and "does not exist" in err
