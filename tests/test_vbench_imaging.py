"""VBench imaging_quality: evalkit's MUSIQ, the ``longer`` resize, weights errors, and parity with
VBench 0.1.5's own code (IQA-PyTorch's MUSIQ) on a tiny checkpoint, when the parity environment of
``scripts/make_vbench_parity_env.sh`` is there."""

from __future__ import annotations

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
from evalkit.metrics.vbench.imaging_quality import ImagingQuality, longer_side_512
from evalkit.metrics.vbench.musiq import MUSIQ, load_musiq, multiscale_tokens
from evalkit.video import write_video

ENV = Path(os.environ.get("VBENCH_PARITY_ENV", "/tmp/vbench_env"))
SIZES = {"dim": 128, "mlp_dim": 256, "heads": 2, "layers": 2}


def make_tiny_musiq(path: Path, seed: int = 0) -> Path:
    """A random MUSIQ (the real ResNet root, a 2-layer 128-wide transformer), saved as
    IQA-PyTorch's checkpoints are (a state dict)."""
    torch.manual_seed(seed)
    model = MUSIQ(dim=SIZES["dim"], mlp_dim=SIZES["mlp_dim"], heads=SIZES["heads"], layers=SIZES["layers"])
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in model.state_dict().items():
        if key.endswith("weight") and value.ndim == 1:  # norms
            state[key] = 1 + 0.1 * torch.randn(value.shape, generator=gen)
        else:
            state[key] = 0.05 * torch.randn(value.shape, generator=gen)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def _clip(t: int = 5, h: int = 96, w: int = 160, seed: int = 0) -> Clip:
    rng = np.random.default_rng(seed)
    return Clip(rng.integers(0, 255, (t, h, w, 3), dtype=np.uint8), 8.0)


def test_multiscale_tokens_layout() -> None:
    x = torch.zeros(1, 3, 96, 160)
    tokens = multiscale_tokens(x)
    # 224 and 384 scales are padded to 7x7 and 12x12 tokens; the original 96x160 has 3x5 patches
    assert tokens.shape == (1, 49 + 144 + 15, 3 * 32 * 32 + 3)
    scale_ids, mask = tokens[0, :, -2], tokens[0, :, -1]
    # 224: 134x224 -> 5x7 real patches; 384: 230x384 -> 8x12
    assert mask[:49].sum() == 35 and mask[49:193].sum() == 96 and mask[193:].sum() == 15
    assert set(scale_ids[193:].tolist()) == {2.0}
    positions = tokens[0, 193:, -3]
    assert positions.tolist() == [r * 10 + c for r in (0, 3, 6) for c in (0, 2, 4, 6, 8)]  # 10x10 hash grid


def test_longer_side_512_resizes_only_large_frames() -> None:
    small = longer_side_512(np.zeros((2, 300, 500, 3), np.uint8))
    assert small.shape == (2, 3, 300, 500)
    big = longer_side_512(np.full((1, 720, 1280, 3), 255, np.uint8))
    assert big.shape == (1, 3, 288, 512) and torch.allclose(big, torch.ones_like(big))


def test_checkpoint_loads_and_scores_frames(tmp_path: Path) -> None:
    path = make_tiny_musiq(tmp_path / "musiq_spaq_tiny.pth")
    model = load_musiq(path)
    assert len(model.transformer_encoder.transformer) == 2
    metric = ImagingQuality(musiq=str(path), device="cpu", batch_size=2)
    out = metric.score(_clip(), ClipContext())
    assert out["frames"] == 5 and out["imaging_quality"] == pytest.approx(out["musiq_score"] / 100)
    # frames scored in batches give the frame-by-frame result
    one = ImagingQuality(musiq=str(path), device="cpu", batch_size=1).score(_clip(), ClipContext())
    assert one["musiq_score"] == pytest.approx(out["musiq_score"], abs=1e-4)
    other = metric.score(_clip(seed=3), ClipContext())
    assert other["musiq_score"] != out["musiq_score"]


def test_missing_weights_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("EVALKIT_VBENCH_WEIGHTS", raising=False)
    problem = ImagingQuality.options_problem({})
    assert problem and "\n" not in problem and "musiq_spaq_ckpt-358bb6af.pth" in problem and "musiq" in problem


@pytest.mark.skipif(not (ENV / "site" / "vbench").is_dir() or not (ENV / "site" / "pyiqa").is_dir(),
                    reason=f"no VBench parity environment with pyiqa at {ENV} "
                           "(build it: bash scripts/make_vbench_parity_env.sh)")
def test_parity_with_vbench_imaging_quality(tmp_path: Path) -> None:
    weights = make_tiny_musiq(tmp_path / "musiq.pth", seed=2)
    (tmp_path / "sizes.json").write_text(json.dumps(SIZES))
    # 540x600: the longer side goes to 512 (non-integer scale), both MUSIQ scales pad
    video = write_video(tmp_path / "clip.mp4", _clip(t=3, h=540, w=600, seed=4))
    env = {**os.environ, "PYTHONPATH": str(ENV / "site"), "OMP_NUM_THREADS": "1"}
    script = Path(__file__).with_name("vbench_reference_imaging.py")
    proc = subprocess.run([sys.executable, str(script), str(video), str(weights), str(tmp_path / "sizes.json"),
                           str(tmp_path)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = json.loads(proc.stdout.strip().splitlines()[-1])
    frames = Clip(np.load(tmp_path / "imaging_frames.npy"), 8.0)
    ours = ImagingQuality(musiq=str(weights), device="cpu").score(frames, ClipContext())
    assert abs(ours["musiq_score"] - ref["video"]) < 1e-4  # 0..100 scale: 1e-6 of the range
    assert abs(ours["imaging_quality"] - ref["aggregate"]) < 1e-5
