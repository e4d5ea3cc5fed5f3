"""C2PA Content Credentials (evalkit.content_credentials) against the reference SDK, c2pa-python:
manifests signed by c2pa-python are read, the generator's manifests validate with c2pa-python."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

c2pa = pytest.importorskip("c2pa")

from evalkit.clip import Clip  # noqa: E402
from evalkit.content_credentials import (TEST_CHAIN_DIR, default_signer_config,  # noqa: E402
                                         read_content_credentials)
from evalkit.provenance import mark_clip  # noqa: E402
from evalkit.video import write_video  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _clip(seed: int = 0) -> Clip:
    frames = np.random.default_rng(seed).integers(0, 256, (8, 48, 48, 3), dtype=np.uint8)
    return Clip(frames, 8.0, {"prompt": "a red ball falls", "seed": seed})


def _sign_with_c2pa_python(src: Path, dst: Path, source_type: str, generator: str) -> None:
    """Sign with c2pa-python's own Builder and Signer (no evalkit code involved)."""
    info = c2pa.C2paSignerInfo(b"es256", (TEST_CHAIN_DIR / "chain.pem").read_bytes(),
                               (TEST_CHAIN_DIR / "key.pem").read_bytes(), None)
    manifest = {"claim_generator_info": [{"name": generator, "version": "9.1"}], "title": "x",
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
                    "action": "c2pa.created",
                    "digitalSourceType": f"http://cv.iptc.org/newscodes/digitalsourcetype/{source_type}"}]}}]}
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(json.dumps(manifest)) as builder, \
            open(src, "rb") as s, open(dst, "w+b") as d:
        builder.sign(signer, "video/mp4", s, d)


@pytest.mark.parametrize("source_type,declares", [("trainedAlgorithmicMedia", True),
                                                   ("compositeWithTrainedAlgorithmicMedia", True),
                                                   ("digitalCapture", False)])
def test_reads_a_manifest_that_c2pa_python_signed(tmp_path: Path, source_type: str, declares: bool) -> None:
    plain = write_video(tmp_path / "plain.mp4", _clip())
    signed = tmp_path / "signed.mp4"
    _sign_with_c2pa_python(plain, signed, source_type, "SomeVideoModel")
    info = read_content_credentials(signed)
    assert info["present"] and info["validation_state"] == "valid" and not info["trusted"]
    assert info["claim_generator"].startswith("SomeVideoModel 9.1")
    assert info["digital_source_type"] == source_type
    assert info["declares_ai"] is declares
    assert info["signer"]["issuer"] == "evalkit UNTRUSTED test chain"
    assert "signingCredential.untrusted" in info["validation_status"]
    trusted = read_content_credentials(signed, trust_anchors=TEST_CHAIN_DIR / "root.pem")
    assert trusted["validation_state"] == "trusted" and trusted["trusted"]
    assert read_content_credentials(plain)["present"] is False


def test_a_tampered_file_is_invalid_and_declares_nothing(tmp_path: Path) -> None:
    signed = write_video(tmp_path / "g.mp4", mark_clip(_clip(), generator="reference", version="3"))
    data = bytearray(signed.read_bytes())
    data[-200] ^= 0xFF  # inside the media data, which the manifest hashes
    tampered = tmp_path / "t.mp4"
    tampered.write_bytes(bytes(data))
    info = read_content_credentials(tampered)
    assert info["present"] and info["validation_state"] == "invalid"
    assert not info["declares_ai"]
    assert any("mismatch" in code for code in info["validation_status"])


def test_the_reference_generators_clips_validate_with_c2pa_python(tmp_path: Path) -> None:
    from evalkit.generators.base import GenerationRequest
    from generator.plugin import ReferenceGenerator

    clip = ReferenceGenerator(steps=2).generate(GenerationRequest("a red ball falls", "p0", 0, seed=5))
    path = write_video(tmp_path / "ref.mp4", clip.with_metadata(prompt="a red ball falls", seed=5))
    # Validate with c2pa-python alone.
    with c2pa.Reader(str(path)) as reader:
        store = json.loads(reader.json())
        assert reader.get_validation_state() in ("Valid", "Trusted")
    active = store["manifests"][store["active_manifest"]]
    actions = next(a for a in active["assertions"] if a["label"].startswith("c2pa.actions"))
    created = actions["data"]["actions"][0]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert created["softwareAgent"]["name"] == "reference"
    import hashlib

    assert created["parameters"]["prompt_sha256"] == hashlib.sha256(b"a red ball falls").hexdigest()
    assert created["parameters"]["seed"] == 5
    # A clip nobody marked gets no manifest.
    assert read_content_credentials(write_video(tmp_path / "p.mp4", _clip()))["present"] is False


def test_mkv_cannot_carry_c2pa_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_video(tmp_path / "g.mkv", mark_clip(_clip(), generator="reference", version="3"))
    assert "cannot carry C2PA" in caplog.text
    assert read_content_credentials(path) == {**read_content_credentials(path), "present": False,
                                              "supported": False}


def test_signer_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_signer_config().is_test_chain
    monkeypatch.setenv("EVALKIT_C2PA_CERT", str(tmp_path / "c.pem"))
    with pytest.raises(ValueError, match="both"):
        default_signer_config()
    monkeypatch.setenv("EVALKIT_C2PA_KEY", str(tmp_path / "k.pem"))
    with pytest.raises(ValueError, match="cannot read"):
        write_video(tmp_path / "g.mp4", mark_clip(_clip(), generator="r", version="1"))
    assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob(".*"))  # nothing half-written


def test_c2pa_metric_scores_files(tmp_path: Path) -> None:
    from detectors.c2pa_metric import ContentCredentialsMetric
    from evalkit.metrics.base import ClipContext
    from evalkit.video import read_video

    metric = ContentCredentialsMetric()
    marked = read_video(write_video(tmp_path / "m.mp4", mark_clip(_clip(), generator="reference", version="3")))
    plain = read_video(write_video(tmp_path / "p.mp4", _clip(1)))
    m, p = metric.score(marked, ClipContext()), metric.score(plain, ClipContext())
    assert m["declares_ai"] == 1 and m["validation_state"] == "valid"
    assert m["digital_source_type"] == "trainedAlgorithmicMedia"
    assert p["declares_ai"] == 0 and p["present"] == 0 and p["validation_state"] == "none"
    with pytest.raises(ValueError, match="source file"):
        metric.score(_clip(), ClipContext())


def test_detect_rejects_bad_input_before_loading_any_model(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a video")
    proc = subprocess.run([sys.executable, "-m", "evalkit", "detect", str(tmp_path / "notes.txt"),
                           str(tmp_path / "missing.mp4"), "--model", str(tmp_path / "no-such-model.pt")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert any("notes.txt" in line and "not a video" in line for line in lines)
    assert any("missing.mp4" in line for line in lines)
    assert "cannot load the detector" not in proc.stderr  # the model was never touched
    assert "Traceback" not in proc.stderr
