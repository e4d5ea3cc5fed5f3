"""Start-up: commands that only list or validate import no torch and load no model.

A new user's first commands are ``evalkit --help``, ``evalkit ls ...`` and ``evalkit validate``;
importing torch (and transformers) costs seconds on an idle machine and over a minute on a
loaded one, so these commands must not. Each check runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchmetrics", "transformers", "streamlit", "av")


def _imported_after(argv: list[str]) -> tuple[int, list[str]]:
    """Run ``evalkit ARGV`` in a fresh interpreter; its exit code and the heavy modules it loaded."""
    code = (
        "import json, sys, contextlib, io\n"
        "from evalkit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main({argv!r})\n"
        f"print(json.dumps([rc, [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True, timeout=120)
    rc, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    return rc, heavy


@pytest.mark.parametrize("argv", [
    ["ls", "metrics"],
    ["ls", "generators"],
    ["ls", "suites"],
    ["validate", "suites/quickstart.yaml"],
    ["validate", "suites/physics-basic.yaml"],
    ["validate", "suites/reference.yaml"],
])
def test_listing_and_validating_import_no_torch(argv: list[str]) -> None:
    rc, heavy = _imported_after(argv)
    assert rc == 0
    assert heavy == [], f"evalkit {' '.join(argv)} imported {heavy}"


def test_every_metric_and_generator_class_imports_without_torch() -> None:
    """Each registered class (its Options, description, direction) is torch-free to import;
    the torch halves are imported on first use."""
    code = (
        "import sys\n"
        "from evalkit import registry\n"
        "for kind in ('generator', 'metric'):\n"
        "    for name in registry.available(kind):\n"
        "        cls = registry.load(kind, name)\n"
        "        assert cls.Options.model_fields is not None and cls.description\n"
        "print([m for m in ('torch', 'transformers') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_torch_halves_are_still_importable_from_their_old_modules() -> None:
    from evalkit.metrics import clip_score, evaluator, fvd, video_distance

    assert fvd.FrechetVideoDistance is video_distance.FrechetVideoDistance
    assert fvd.KernelVideoDistance is video_distance.KernelVideoDistance
    assert evaluator.EvaluatorAlignment.__name__ == "EvaluatorAlignment"
    assert callable(clip_score.load_clip) and clip_score.CLIPScoreVideo.__name__ == "CLIPScoreVideo"
    with pytest.raises(AttributeError):
        fvd.NoSuchThing  # noqa: B018


def test_protocol_names_match_the_protocols() -> None:
    from evalkit.metrics.video_features.protocol_names import DEFAULT_PROTOCOL, PROTOCOL_NAMES
    from evalkit.metrics.video_features.protocols import PROTOCOLS

    assert tuple(PROTOCOLS) == PROTOCOL_NAMES
    assert DEFAULT_PROTOCOL in PROTOCOLS


def test_default_checkpoint_is_the_pipelines() -> None:
    from generator.defaults import DEFAULT_CHECKPOINT
    from generator.pipeline import DEFAULT_CHECKPOINT as PIPELINE_CHECKPOINT

    assert DEFAULT_CHECKPOINT == PIPELINE_CHECKPOINT and DEFAULT_CHECKPOINT.is_file()
