"""The bundled evaluator: retrieval, alignment, FVD/KVD features, and the runner-facing metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, MetricError
from evalkit.metrics.evaluator_scoring import BUNDLED_WEIGHTS, heldout_r_precision, load_evaluator

pytestmark = pytest.mark.skipif(not BUNDLED_WEIGHTS.is_file(), reason="evaluator weights not built")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(2)


@pytest.fixture(scope="module")
def evaluator():
    return load_evaluator()


@pytest.fixture(scope="module")
def freefall_clips():
    """24 held-out single-object free-fall scenes with their specs."""
    from evalkit.metrics.evaluator_data import split_rng, world_examples

    return world_examples(split_rng(123, "heldout"), 24, motion="freefall")


def test_heldout_top1_r_precision_at_least_0_9(evaluator) -> None:
    scores = heldout_r_precision(evaluator, n=192, seed=7)
    assert scores["k"] == 32
    assert scores["top1"] >= 0.9, scores
    assert scores["top3"] >= scores["top1"]


def test_alignment_falls_for_another_colour_or_motion(evaluator, freefall_clips) -> None:
    from evalkit.world import PALETTE, Motion

    videos, prompts, specs = freefall_clips
    colours = list(PALETTE)
    other_colour, other_motion = [], []
    for spec in specs:
        obj = spec.objects[0]
        new = colours[(colours.index(obj.colour) + 3) % len(colours)]
        other_colour.append(spec.model_copy(update={"objects": (obj.model_copy(update={"colour": new}),)}).prompt)
        rest = obj.model_copy(update={"motion": Motion.REST})
        other_motion.append(spec.model_copy(update={"objects": (rest,)}).prompt)
    assert other_motion[0] != prompts[0] and "rests" in other_motion[0]
    true = evaluator.alignment(videos, prompts)
    wrong_colour = evaluator.alignment(videos, other_colour)
    wrong_motion = evaluator.alignment(videos, other_motion)
    assert true.mean() > wrong_colour.mean() + 0.1
    assert true.mean() > wrong_motion.mean() + 0.1
    assert (true > wrong_colour).float().mean() >= 0.9
    assert (true > wrong_motion).float().mean() >= 0.9


def test_evaluator_fvd_zero_on_self_and_moved_by_shuffled_frames(freefall_clips) -> None:
    from evalkit.metrics.fvd import FrechetVideoDistance
    from evalkit.metrics.video_features.corruptions import corrupt

    videos = freefall_clips[0]
    fvd = FrechetVideoDistance(backbone="evaluator")
    fvd.update(videos, real=True)
    fvd.update(videos, real=False)
    assert float(fvd.compute()) == pytest.approx(0.0, abs=1e-6)
    fvd.reset()
    fvd.update(videos, real=True)
    fvd.update(corrupt(videos, "shuffle", 1.0, seed=1), real=False)
    assert float(fvd.compute()) > 1.0
    assert fvd.summary()["backbone"] == "evaluator"


def test_torchmetrics_classes(freefall_clips) -> None:
    from evalkit.metrics.evaluator import EvaluatorAlignment, EvaluatorRPrecision

    videos, prompts, _ = freefall_clips
    align = EvaluatorAlignment()
    align.update(videos[:8], prompts[:8])
    align.update(videos[8:], prompts[8:])
    value = float(align.compute())
    assert 0.3 < value <= 1.0
    rp = EvaluatorRPrecision(k=8, pool=prompts)
    rp.update(videos, prompts)
    out = rp.compute()
    assert 0.0 <= float(out["top1"]) <= float(out["top3"]) <= 1.0


def test_evalkit_adapters(freefall_clips) -> None:
    from evalkit.metrics.evaluator import Alignment, RPrecision, candidate_prompts

    videos, prompts, _ = freefall_clips
    clip, ctx = Clip(videos[0], 8.0), ClipContext(prompt=prompts[0])
    a = Alignment().score(clip, ctx)
    assert set(a) == {"alignment"} and -1.0 <= a["alignment"] <= 1.0
    r = RPrecision().score(clip, ctx)
    assert r["rank"] >= 1 and r["r_precision"] in (0.0, 1.0)
    cands = candidate_prompts(prompts[0])
    assert len(cands) == 32 == len(set(cands)) and cands[0] == prompts[0]
    assert cands == candidate_prompts(prompts[0])  # deterministic
    with pytest.raises(MetricError, match="prompt"):
        Alignment().score(clip, ClipContext())
    with pytest.raises(MetricError, match="train"):
        Alignment(weights="/nonexistent/evaluator.pt").score(clip, ctx)


def test_checkpoint_is_small_and_documented() -> None:
    assert BUNDLED_WEIGHTS.stat().st_size <= 10 * 1024 * 1024
    card = BUNDLED_WEIGHTS.with_suffix(".md")
    assert card.is_file() and "train_evaluator" in card.read_text()
    meta = torch.load(BUNDLED_WEIGHTS, map_location="cpu", weights_only=True)["meta"]
    assert meta["heldout_r_precision"]["top1"] >= 0.9
