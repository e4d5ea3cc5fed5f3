"""ViCLIP (overall_consistency, temporal_style) and CLIP appearance_style: the ViCLIP port, its
tokenizer, the frame transforms, weights errors, and parity with VBench 0.1.5's own code on tiny
weights (when the parity environment of ``scripts/make_vbench_parity_env.sh`` is there)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext
from evalkit.metrics.vbench.appearance_style import AppearanceStyle
from evalkit.metrics.vbench.overall_consistency import OverallConsistency, viclip_frames
from evalkit.metrics.vbench.temporal_style import TemporalStyle
from evalkit.metrics.vbench.viclip import SimpleTokenizer, ViCLIP, ViCLIPConfig, load_viclip
from evalkit.video import write_video
from tiny_vbench import make_tiny_openai_clip

ENV = Path(os.environ.get("VBENCH_PARITY_ENV", "/tmp/vbench_env"))
TINY = ViCLIPConfig(vision_width=128, vision_layers=2, vision_heads=2, embed_dim=32, text_width=128,
                    text_layers=2, text_heads=2)


def make_tiny_viclip(path: Path, config: ViCLIPConfig = TINY, seed: int = 0) -> Path:
    """A random ViCLIP saved as VBench's file is (``{"model": state_dict}``)."""
    gen = torch.Generator().manual_seed(seed)
    model = ViCLIP(config)
    state = {}
    for key, value in model.state_dict().items():
        if key.endswith(("ln_1.weight", "ln_2.weight", "ln_pre.weight", "ln_post.weight", "ln_final.weight")):
            state[key] = 1 + 0.1 * torch.randn(value.shape, generator=gen)
        else:
            state[key] = 0.05 * torch.randn(value.shape, generator=gen)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": state}, path)
    return path


def make_tiny_bpe(path: Path) -> Path:
    """A BPE merges file in OpenAI's format (a header line, then merges) with a few merges."""
    merges = ["b a", "ba l", "bal l</w>", "r e", "re d</w>", "c a", "ca t</w>"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    return path


def _clip(t: int = 12, h: int = 120, w: int = 160, seed: int = 0) -> Clip:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h, w, 3)).astype(np.float64)
    frames = [np.roll(base, 6 * i, axis=1).astype(np.uint8) for i in range(t)]
    return Clip(np.stack(frames), 8.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("viclip")
    return {"viclip": make_tiny_viclip(root / "ViClip-InternVid-10M-FLT.pth"),
            "bpe": make_tiny_bpe(root / "bpe_simple_vocab_16e6.txt.gz"), "root": root}


def test_tokenizer_merges_lowercases_and_pads(tiny: dict[str, Path]) -> None:
    tok = SimpleTokenizer(tiny["bpe"])
    red, ball = tok.encoder["red</w>"], tok.encoder["ball</w>"]
    assert tok.encode("A  RED   Ball") == [tok.encoder["a</w>"], red, ball]
    assert tok.encode("red &amp; ball") == [red, tok.encoder["&</w>"], ball]  # HTML unescaped
    ids = tok.tokenize(["red ball"], context_length=8)
    sot, eot = tok.encoder["<|startoftext|>"], tok.encoder["<|endoftext|>"]
    assert ids.tolist() == [[sot, red, ball, eot, 0, 0, 0, 0]]
    long = tok.tokenize(["red " * 20], context_length=8)[0].tolist()
    assert len(long) == 8 and long[-1] == eot  # truncated, still ends with the end token


def test_frames_follow_vbench_uint8_path() -> None:
    clip = _clip(t=20, h=100, w=150)
    x = viclip_frames(clip.frames)
    assert x.shape == (1, 8, 3, 224, 224)
    # undo the normalisation: the resized pixels were rounded to integers (uint8 resize)
    mean = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(3, 1, 1)
    std = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(3, 1, 1)
    pixels = (x[0] * std + mean) * 255
    assert torch.allclose(pixels, pixels.round(), atol=1e-3)
    assert pixels.min() >= -1e-3 and pixels.max() <= 255 + 1e-3


def test_checkpoint_loads_strictly_and_scores_depend_on_prompt(tiny: dict[str, Path]) -> None:
    model = load_viclip(tiny["viclip"], tiny["bpe"])
    assert model.config == TINY  # sizes read back from the state dict
    metric = OverallConsistency(viclip=str(tiny["viclip"]), bpe=str(tiny["bpe"]), device="cpu")
    clip = _clip()
    a = metric.score(clip, ClipContext(prompt="a red ball"))["overall_consistency"]
    b = metric.score(clip, ClipContext(prompt="a cat"))["overall_consistency"]
    assert -1.0 <= a <= 1.0 and -1.0 <= b <= 1.0 and a != b
    style = TemporalStyle(viclip=str(tiny["viclip"]), bpe=str(tiny["bpe"]), device="cpu")
    assert style.score(clip, ClipContext(prompt="a red ball"))["temporal_style"] == a
    with pytest.raises(Exception, match="prompt"):
        metric.score(clip, ClipContext(prompt=""))


def test_missing_weights_one_line_naming_file_source_and_option(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("EVALKIT_VBENCH_WEIGHTS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    problem = OverallConsistency.options_problem({})
    assert problem and "\n" not in problem
    assert "ViClip-InternVid-10M-FLT.pth" in problem and "huggingface.co/OpenGVLab" in problem
    assert "viclip" in problem
    problem = AppearanceStyle.options_problem({})
    assert problem and "\n" not in problem and "ViT-B-32.pt" in problem
    clip_file = make_tiny_openai_clip(tmp_path, "tiny-ViT-B-32.pt")
    problem = AppearanceStyle.options_problem({"clip": str(clip_file)})  # OpenAI's file: needs the BPE
    assert problem and "bpe_simple_vocab_16e6.txt.gz" in problem
    assert AppearanceStyle.options_problem({"clip": str(clip_file), "bpe": str(make_tiny_bpe(tmp_path / "b.txt.gz"))}) is None


@pytest.mark.skipif(not (ENV / "site" / "vbench").is_dir() or not (ENV / "site" / "timm").is_dir(),
                    reason=f"no VBench parity environment with timm at {ENV} "
                           "(build it: bash scripts/make_vbench_parity_env.sh)")
def test_parity_with_vbench_overall_consistency_and_temporal_style(tmp_path: Path) -> None:
    bpe_src = ENV / "site" / "clip" / "bpe_simple_vocab_16e6.txt.gz"  # OpenAI's real vocabulary
    cache = tmp_path / "cache"
    (cache / "ViCLIP").mkdir(parents=True)
    bpe = cache / "ViCLIP" / bpe_src.name
    bpe.write_bytes(bpe_src.read_bytes())
    config = ViCLIPConfig(**{**TINY.__dict__, "vocab_size": 49408})
    weights = make_tiny_viclip(tmp_path / "viclip.pth", config, seed=3)
    sizes = {"vision_width": config.vision_width, "vision_layers": config.vision_layers,
             "vision_heads": config.vision_heads, "embed_dim": config.embed_dim,
             "text_width": config.text_width, "text_layers": config.text_layers,
             "text_heads": config.text_heads}
    video = write_video(tmp_path / "clip.mp4", _clip(t=21, h=144, w=176, seed=1))
    prompts = ["a red car turning a corner, camera pans left", "Iron Man flying in the sky, in cyberpunk style",
               "a “quoted” prompt &amp; an entity, time-lapse"]
    styles = ["by Hokusai, in the style of Ukiyo", "oil painting", "in super slow motion"]
    clip_b32 = make_tiny_openai_clip(tmp_path, "tiny-ViT-B-32.pt", seed=5)
    spec = {"video": str(video), "viclip": str(weights), "sizes": sizes, "clip_b32": str(clip_b32),
            "prompts": prompts, "styles": styles}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(ENV / "site"), "VBENCH_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}
    script = Path(__file__).with_name("vbench_reference_semantic.py")
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "spec.json"), str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = json.loads(proc.stdout.strip().splitlines()[-1])

    ours_model = load_viclip(weights, bpe)
    for prompt in prompts:
        assert ours_model.tokenizer.tokenize([prompt], 32)[0].tolist() == ref["tokens"][prompt]
    frames = np.load(tmp_path / "viclip_frames.npy")  # the 8 frames decord gave VBench
    clip = Clip(frames, 8.0)  # 8 frames: our middle sampling picks each of them once
    for name, cls in (("overall_consistency", OverallConsistency), ("temporal_style", TemporalStyle)):
        metric = cls(viclip=str(weights), bpe=str(bpe), device="cpu")
        values = [metric.score(clip, ClipContext(prompt=p))[name] for p in prompts]
        np.testing.assert_allclose(values, ref[name]["video"], atol=1e-5, rtol=0)
        assert abs(float(np.mean(values)) - ref[name]["aggregate"]) < 1e-5

    all_frames = Clip(np.load(tmp_path / "all_frames.npy"), 8.0)
    style = AppearanceStyle(clip=str(clip_b32), bpe=str(bpe), device="cpu", batch_size=7)
    rows = [style.score(all_frames, ClipContext(prompt="ignored", auxiliary_info={
        "appearance_style": {"appearance_style": s}})) for s in styles]
    assert [r["query"] for r in rows] == styles
    np.testing.assert_allclose([r["appearance_style"] for r in rows], ref["appearance_style"]["video"], atol=1e-5, rtol=0)
    assert abs(style.summarize(rows)["vbench"]["value"] - ref["appearance_style"]["aggregate"]) < 1e-5


def test_a_checkpoint_with_code_is_refused_not_run(tmp_path: Path, tiny: dict[str, Path]) -> None:
    import argparse

    blob = {"model": torch.load(tiny["viclip"], weights_only=True)["model"],
            "args": argparse.Namespace(lr=1e-4)}  # training checkpoints often pickle their args
    torch.save(blob, tmp_path / "with_objects.pth")
    with pytest.raises(ValueError, match="Python objects besides tensors"):
        load_viclip(tmp_path / "with_objects.pth", tiny["bpe"])
