"""evalkit's VBench dimensions against VBench 0.1.5's own code, same clip, same tiny weights.

VBench runs in a subprocess from the folder ``scripts/make_vbench_parity_env.sh`` builds
(``$VBENCH_PARITY_ENV``, default ``/tmp/vbench_env``); without it these tests are skipped with
that reason. ``tests/vbench_reference.py`` says exactly what is shimmed there.

Both sides score the same pixels: VBench's decoders (decord, OpenCV) save what they decoded,
and evalkit scores those frames. How far evalkit's own decoder (PyAV) is from them is measured
separately (``test_decoders_agree``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalkit.clip import Clip
from evalkit.video import read_video, write_video
from tiny_vbench import make_all, make_random_amt

ENV = Path(os.environ.get("VBENCH_PARITY_ENV", "/tmp/vbench_env"))
TOL = 1e-5

pytestmark = pytest.mark.skipif(
    not (ENV / "site" / "vbench").is_dir() or not (ENV / "dino" / "vision_transformer.py").is_file(),
    reason=f"no VBench parity environment at {ENV} (build it: bash scripts/make_vbench_parity_env.sh)")


def _moving_clip(t: int = 9, h: int = 144, w: int = 176, fps: float = 16.0) -> Clip:
    """A textured square sliding over a smooth background: 144x176 (RAFT needs >= 128 px; the
    odd aspect exercises DINO's non-square position grid and CLIP's crop offsets)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 / w), (yy * 255 / h), np.full_like(xx, 90.0)], -1)
    tex = rng.integers(0, 255, (40, 40, 3))
    frames = []
    for i in range(t):
        f = base.copy()
        x0 = 10 + 12 * i
        f[50:90, x0 : x0 + 40] = tex
        frames.append(f.clip(0, 255).astype(np.uint8))
    return Clip(np.stack(frames), fps)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("vbench_parity")
    weights = make_all(root / "weights")
    weights["amt"] = make_random_amt(root / "weights", ENV / "site" / "vbench")
    video = write_video(root / "clip.mp4", _moving_clip())
    spec = {k: str(v) for k, v in weights.items()}
    spec["dino_code"] = str(ENV / "dino")
    (root / "weights.json").write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(ENV / "site"), "OMP_NUM_THREADS": "1"}
    script = Path(__file__).with_name("vbench_reference.py")
    proc = subprocess.run([sys.executable, str(script), str(video), str(root / "weights.json"), str(root)],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["_root"], out["_weights"], out["_video"] = root, weights, video
    return out


def _frames(reference: dict[str, Any], decoder: str) -> Clip:
    return Clip(np.load(reference["_root"] / f"{decoder}.npy"), 16.0)


def test_subject_consistency_identical(reference: dict[str, Any]) -> None:
    from evalkit.metrics.vbench.subject_consistency import SubjectConsistency

    ours = SubjectConsistency(dino=str(reference["_weights"]["dino"]), device="cpu")
    value = ours.score(_frames(reference, "decord"), None)["subject_consistency"]
    assert abs(value - reference["subject_consistency"]["video"]) < TOL
    # the clip moves: a value of 1 would mean the features ignore the pixels
    assert value < 0.999


def test_dino_position_rule_is_dinos_not_transformers(reference: dict[str, Any]) -> None:
    """transformers' own size= interpolation gives a different number on this 16:9-like clip."""
    import types

    from transformers.models.vit.modeling_vit import ViTEmbeddings

    from evalkit.metrics.vbench.backbones import load_dino
    from evalkit.metrics.vbench.subject_consistency import SubjectConsistency

    metric = SubjectConsistency(dino=str(reference["_weights"]["dino"]), device="cpu")
    clip = _frames(reference, "decord")
    model = load_dino(metric.weights("dino"), "cpu")
    emb = model.vit.embeddings
    dino_rule = emb.interpolate_pos_encoding
    try:
        emb.interpolate_pos_encoding = types.MethodType(ViTEmbeddings.interpolate_pos_encoding, emb)
        hf_value = metric.score(clip, None)["subject_consistency"]
    finally:
        emb.interpolate_pos_encoding = dino_rule
    assert abs(hf_value - reference["subject_consistency"]["video"]) > TOL


def test_background_consistency_identical(reference: dict[str, Any]) -> None:
    from evalkit.metrics.vbench.background_consistency import BackgroundConsistency

    ours = BackgroundConsistency(clip=str(reference["_weights"]["clip_b32"]), device="cpu")
    value = ours.score(_frames(reference, "decord"), None)["background_consistency"]
    assert abs(value - reference["background_consistency"]["video"]) < TOL


def test_aesthetic_quality_identical(reference: dict[str, Any]) -> None:
    from evalkit.metrics.vbench.aesthetic_quality import AestheticQuality

    ours = AestheticQuality(clip=str(reference["_weights"]["clip_l14"]),
                            head=str(reference["_weights"]["head"]), device="cpu")
    value = ours.score(_frames(reference, "decord"), None)["aesthetic_quality"]
    assert abs(value - reference["aesthetic_quality"]["video"]) < TOL


def test_temporal_flickering_identical(reference: dict[str, Any]) -> None:
    from evalkit.metrics.flicker import TemporalFlickering

    value = TemporalFlickering().score(_frames(reference, "cv2"), None)["temporal_flickering"]
    assert abs(value - reference["temporal_flickering"]["video"]) < TOL


def test_dynamic_degree_identical(reference: dict[str, Any]) -> None:
    from evalkit.metrics.vbench.backbones import load_raft_model
    from evalkit.metrics.vbench.dynamic_degree import DynamicDegree, raft_pair_scores

    metric = DynamicDegree(raft=str(reference["_weights"]["raft"]), device="cpu")
    clip = _frames(reference, "cv2")
    values = metric.score(clip, None)
    ref = reference["dynamic_degree"]
    assert values["dynamic_degree"] == float(ref["video"])
    assert values["threshold"] == pytest.approx(ref["params"]["thres"], abs=0)
    assert values["pairs_needed"] == ref["params"]["count_num"]
    frames = clip.frames[:: values["frame_interval"]]
    scores = raft_pair_scores(load_raft_model(metric.weights("raft"), "cpu"), frames,
                              [(i, i + 1) for i in range(len(frames) - 1)], 0.05, "cpu", 4)
    assert len(scores) == len(ref["pair_scores"])
    np.testing.assert_allclose(scores, ref["pair_scores"], rtol=0, atol=TOL)


def test_static_filter_identical(reference: dict[str, Any]) -> None:
    from evalkit.metrics.flicker import TemporalFlickering
    from evalkit.metrics.vbench.backbones import load_raft_model
    from evalkit.metrics.vbench.static_filter import static_verdict

    clip = _frames(reference, "cv2")
    metric = TemporalFlickering(static_filter=True, raft=str(reference["_weights"]["raft"]), device="cpu")
    verdict = static_verdict(load_raft_model(metric.weights("raft"), "cpu"), clip.frames, "cpu", 4)
    ref = reference["static_filter"]
    np.testing.assert_allclose(verdict["scores"], ref["pair_scores"], rtol=0, atol=TOL)
    assert verdict["static"] == ref["static"]
    assert metric.score(clip, None)["static"] == int(ref["static"])


def test_decoders_agree(reference: dict[str, Any]) -> None:
    """PyAV (evalkit), decord (VBench's load_video) and OpenCV (VBench's flicker/RAFT reader)
    decode our H.264 file to the same frames, so the parity above holds from the file too."""
    ours = read_video(reference["_video"]).frames.astype(np.int16)
    for decoder in ("decord", "cv2"):
        theirs = np.load(reference["_root"] / f"{decoder}.npy").astype(np.int16)
        assert theirs.shape == ours.shape
        assert int(np.abs(theirs - ours).max()) == 0, decoder


def test_motion_smoothness_identical(reference: dict[str, Any]) -> None:
    """VBench's pipeline around AMT-S (even frames in, odd frames predicted, padding to 16,
    truncation to uint8, MAE) reproduced; the network is VBench's copy of AMT's code in both."""
    from evalkit.metrics.vbench.motion_smoothness import MotionSmoothness

    metric = MotionSmoothness(amt=str(reference["_weights"]["amt"]), vbench_code=str(ENV / "site" / "vbench"),
                              device="cpu", batch_size=3)
    values = metric.score(_frames(reference, "cv2"), None)
    assert abs(values["motion_smoothness"] - reference["motion_smoothness"]["video"]) < TOL
    assert values["predicted_frames"] == 4  # 9 frames: 5 even ones, 4 predicted
