"""CLIP score on a tiny random CLIP model and tokenizer built offline by the test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, MetricError


pytestmark = pytest.mark.usefixtures("hub_offline")


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer CLIP (32-px images) with a byte-level BPE tokenizer, saved to a folder."""
    from transformers import CLIPConfig, CLIPModel

    from tiny_models import tiny_clip_tokenizer

    folder = tmp_path_factory.mktemp("tiny_clip")
    tokenizer = tiny_clip_tokenizer()
    vocab = tokenizer.get_vocab()
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, bos_token_id=0,
                         eos_token_id=1, pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "crop_size": {"height": 32, "width": 32}, "size": {"shortest_edge": 32},
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.25, 0.25, 0.25],
    }))
    return folder


def _video(seed: int, t: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(t, 40, 48, 3), dtype=np.uint8)


def test_clip_score_matches_manual_per_frame_average(tiny_clip: Path) -> None:
    from evalkit.metrics.clip_score import CLIPScoreVideo

    metric = CLIPScoreVideo(tiny_clip, convention="torchmetrics", frames=None)
    video = _video(0)
    got = float(metric.score([video], ["a red ball"])[0])
    clip = metric.clip
    pixels = clip.pixel_values(video)
    assert pixels.shape == (6, 3, 32, 32)
    img = clip.image_features(pixels)
    txt = clip.text_features(["a red ball"])[0]
    want = 100.0 * (img @ txt).clamp_min(0).mean().item()
    assert got == pytest.approx(want, rel=1e-5)
    assert 0.0 <= got <= 100.0


def test_conventions_differ_by_their_weights(tiny_clip: Path) -> None:
    from evalkit.metrics.clip_score import CLIPScoreVideo

    videos = np.stack([_video(1), _video(2)])
    prompts = ["a red ball", "the ball"]
    tm = CLIPScoreVideo(tiny_clip, convention="torchmetrics", frames=4)
    hs = CLIPScoreVideo(tiny_clip, convention="hessel", frames=4)
    tm.update(videos, prompts)
    hs.update(videos, prompts)
    assert float(tm.compute()) == pytest.approx(40.0 * float(hs.compute()), rel=1e-9)
    with pytest.raises(ValueError):
        CLIPScoreVideo(tiny_clip, convention="other")  # type: ignore[arg-type]


def test_identical_frames_score_as_one_image(tiny_clip: Path) -> None:
    from evalkit.metrics.clip_score import CLIPScoreVideo

    metric = CLIPScoreVideo(tiny_clip, frames=None)
    frame = _video(3, t=1)
    one = float(metric.score([frame], ["red"])[0])
    many = float(metric.score([np.repeat(frame, 5, axis=0)], ["red"])[0])
    assert many == pytest.approx(one, rel=1e-5)


def test_features_from_transformers_4_and_5_outputs() -> None:
    from transformers.modeling_outputs import BaseModelOutputWithPooling

    from evalkit.metrics.clip_score import _features

    t = torch.randn(2, 4)
    assert _features(t) is t
    assert _features(BaseModelOutputWithPooling(last_hidden_state=torch.zeros(2, 3, 4), pooler_output=t)) is t


def test_offline_missing_weights_error_says_how_to_pass_a_folder() -> None:
    from evalkit.metrics.clip_score import CLIPWeightsUnavailable, ClipScore, load_clip

    with pytest.raises(CLIPWeightsUnavailable, match="save_pretrained") as info:
        load_clip("no-such-org/no-such-clip-model")
    assert "model=DIR" in str(info.value) and "no-such-org/no-such-clip-model" in str(info.value)
    metric = ClipScore(model="no-such-org/no-such-clip-model")
    with pytest.raises(MetricError, match="local folder"):
        metric.score(Clip(_video(0), 8.0), ClipContext(prompt="a red ball"))


def test_evalkit_adapter_scores_a_clip(tiny_clip: Path) -> None:
    from evalkit.metrics.clip_score import ClipScore

    metric = ClipScore(model=str(tiny_clip), convention="hessel", frames=4)
    values = metric.score(Clip(_video(4), 8.0), ClipContext(prompt="a red ball"))
    assert set(values) == {"clip_score", "cosine"}
    assert values["clip_score"] == pytest.approx(2.5 * values["cosine"])
    assert metric.info()["options"]["convention"] == "hessel"
    with pytest.raises(MetricError, match="prompt"):
        metric.score(Clip(_video(4), 8.0), ClipContext())
