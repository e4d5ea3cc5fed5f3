"""The moderation API (detectors.api): responses, limits, auth, concurrency."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
torch = pytest.importorskip("torch")

from fastapi.testclient import TestClient

from detectors.api import Settings, create_app
from detectors.detector import Detector
from detectors.fusion import PlattFusion
from detectors.models.spatial import SPATIAL_CONFIGS, SpatialResidualCNN
from detectors.models.temporal import TEMPORAL_CONFIGS, TemporalResidual3D
from evalkit.provenance import mark_clip
from evalkit.video import write_video
from evalkit.world import render, sample_scene


@pytest.fixture(scope="module")
def detector() -> Detector:
    torch.manual_seed(0)
    return Detector(SpatialResidualCNN(SPATIAL_CONFIGS["SRes-XS"]),
                    TemporalResidual3D(TEMPORAL_CONFIGS["TRes3D-S"]),
                    PlattFusion([1.0, 1.0], 0.0), version="tiny-test")


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("api")
    clip = render(sample_scene(np.random.default_rng(0)), seed=0).clip
    write_video(folder / "plain.mp4", clip)
    marked = mark_clip(clip, generator="ref", version="1", payload=0xCAFE)
    write_video(folder / "marked.mp4", marked)
    write_video(folder / "watermark_only.mp4", marked, content_credentials=False)
    data = {name: (folder / f"{name}.mp4").read_bytes()
            for name in ("plain", "marked", "watermark_only")}
    data["truncated"] = data["plain"][: len(data["plain"]) // 2]
    data["text"] = b"hello, I am not a video\n" * 10
    return data


def _client(detector: Detector, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(**settings), detector=detector))


def _post(client: TestClient, content: bytes, name: str = "v.mp4", **kw: object):
    return client.post("/v1/detect", files={"file": (name, io.BytesIO(content), "video/mp4")},
                       **kw)


def test_health_and_models(detector: Detector) -> None:
    client = _client(detector)
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["model_version"] == "tiny-test"
    models = client.get("/v1/models").json()["models"]
    assert models[0]["model_version"] == "tiny-test"
    assert models[0]["thresholds"] == detector.thresholds  # the model's own by default
    assert models[0]["limits"]["max_decoded_pixels"] == Settings().max_decoded_pixels


def test_response_shape_and_evidence(detector: Detector, videos: dict[str, bytes]) -> None:
    client = _client(detector)
    r = _post(client, videos["plain"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"request_id", "status", "reason", "model_version", "label", "decided_by",
                         "ai_generated_probability", "thresholds", "segments", "evidence", "video",
                         "timing"}
    assert body["status"] == "completed" and body["reason"] is None
    assert r.headers["x-request-id"] == body["request_id"]
    # The documented example (OpenAPI) has exactly the fields a response has.
    from detectors.api import RESPONSE_EXAMPLE

    assert set(body) == set(RESPONSE_EXAMPLE)
    for part in ("evidence", "video", "timing"):
        assert set(body[part]) == set(RESPONSE_EXAMPLE[part]), part
    assert 0 <= body["ai_generated_probability"] <= 1
    assert body["label"] in ("ai_generated", "not_ai_generated", "inconclusive")
    assert body["decided_by"] == "classifier"
    assert body["label"] == body["evidence"]["classifier"]["label"]
    assert body["segments"][0]["start_s"] == 0.0 and body["segments"][-1]["end_s"] == 2.0
    assert body["evidence"]["c2pa"]["present"] is False
    assert body["evidence"]["watermark"]["detected"] is False

    # The generator's marks: write_video signs a marked clip's C2PA manifest; C2PA decides.
    marked = _post(client, videos["marked"]).json()
    c2pa = marked["evidence"]["c2pa"]
    assert marked["decided_by"] == "c2pa" and marked["label"] == "ai_generated"
    assert c2pa["validation_state"] == "valid" and c2pa["declares_ai"]
    assert c2pa["digital_source_type"] == "trainedAlgorithmicMedia"
    assert c2pa["actions"][0]["software_agent"] == "ref 1"
    wm = marked["evidence"]["watermark"]
    assert wm["detected"] and wm["payload"] == "0x0000cafe" and wm["p_value"] < 1e-6

    # Re-encoded (C2PA gone), the watermark still decides.
    rewritten = _post(client, videos["watermark_only"]).json()
    assert rewritten["evidence"]["c2pa"]["present"] is False
    assert rewritten["decided_by"] == "watermark" and rewritten["label"] == "ai_generated"


def test_thresholds_drive_the_label(detector: Detector, videos: dict[str, bytes]) -> None:
    low = _post(_client(detector, not_ai_generated_below=0.0, ai_generated_at_or_above=0.0),
                videos["plain"]).json()
    assert low["label"] == "ai_generated"
    high = _post(_client(detector, not_ai_generated_below=1.0, ai_generated_at_or_above=1.0),
                 videos["plain"]).json()
    assert high["label"] == "not_ai_generated"
    with pytest.raises(ValueError, match="both thresholds"):
        Settings(not_ai_generated_below=0.2)


@pytest.mark.parametrize("kind,status", [("text", 415), ("truncated", 422)])
def test_bad_inputs_get_4xx_with_message(detector: Detector, videos: dict[str, bytes],
                                         kind: str, status: int) -> None:
    r = _post(_client(detector), videos[kind], name="../../etc/passwd")
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == "unable_to_evaluate" and body["reason"] == body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]
    detail = body["detail"]
    assert "passwd" in detail and "/tmp" not in detail and "etc/" not in detail


def test_form_must_hold_exactly_one_file_field(detector: Detector, videos: dict[str, bytes]) -> None:
    client = _client(detector)
    assert _post(client, b"").status_code == 415
    assert client.post("/v1/detect").status_code == 400
    assert client.post("/v1/detect", data={"file": "/etc/passwd"}).status_code == 400
    two = client.post("/v1/detect", files=[("file", ("a.mp4", videos["plain"], "video/mp4")),
                                            ("file", ("b.mp4", videos["marked"], "video/mp4"))])
    assert two.status_code == 400 and "one" in two.json()["detail"]
    wrong = client.post("/v1/detect", files={"video": ("a.mp4", videos["plain"], "video/mp4")})
    assert wrong.status_code == 400 and "'file'" in wrong.json()["detail"]
    raw = client.post("/v1/detect", content=videos["plain"], headers={"content-type": "video/mp4"})
    assert raw.status_code == 400


def test_error_bodies_never_echo_the_upload(detector: Detector, videos: dict[str, bytes]) -> None:
    client = _client(detector)
    secret = b"SECRET-UPLOAD-BYTES-" * 20
    for r in (_post(client, secret), client.post("/v1/detect", data={"file": secret.decode()}),
              client.post("/v1/detect", files={"video": ("a", secret, "video/mp4")})):
        assert 400 <= r.status_code < 500
        assert b"SECRET" not in r.content


def test_upload_folders_are_removed_also_after_a_crash(detector: Detector, videos: dict[str, bytes],
                                                       tmp_path: Path) -> None:
    import subprocess
    import sys

    root = tmp_path / "evalkit-serve"
    root.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (root / f"req-{dead}-abc").mkdir()  # left by a server that was killed
    (root / f"req-{dead}-abc" / "upload").write_bytes(b"x" * 100)
    client = _client(detector, temp_dir=str(tmp_path))
    assert not any(root.iterdir())
    for kind in ("plain", "text", "truncated"):
        _post(client, videos[kind])
    assert not any(root.iterdir())


def test_limits(detector: Detector, videos: dict[str, bytes]) -> None:
    r = _post(_client(detector, max_upload_bytes=1000), videos["plain"] * 100)
    assert r.status_code == 413
    r = _post(_client(detector, max_frames=4), videos["plain"])
    assert r.status_code == 422 and "max_frames" in r.json()["detail"]
    r = _post(_client(detector, max_duration_s=0.5), videos["plain"])
    assert r.status_code == 422 and "max_duration_s" in r.json()["detail"]


def test_api_key(detector: Detector, videos: dict[str, bytes]) -> None:
    client = _client(detector, api_key="s3cret")
    assert _post(client, videos["plain"]).status_code == 401
    assert _post(client, videos["plain"],
                 headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/v1/models").status_code == 401
    assert client.get("/healthz").json() == {"status": "ok"}  # no counters without the key
    assert "requests" in client.get("/healthz", headers={"Authorization": "Bearer s3cret"}).json()
    ok = _post(client, videos["plain"], headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200


def test_concurrent_requests(detector: Detector, videos: dict[str, bytes]) -> None:
    client = _client(detector)
    single = _post(client, videos["plain"]).json()["ai_generated_probability"]
    kinds = ["plain", "marked", "text", "plain"] * 3
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda k: (k, _post(client, videos[k])), kinds))
    for kind, r in responses:
        assert r.status_code == (415 if kind == "text" else 200)
        if kind == "plain":
            assert r.json()["ai_generated_probability"] == pytest.approx(single, abs=1e-6)
    assert client.get("/healthz").status_code == 200


def test_settings_validation() -> None:
    with pytest.raises(ValueError):
        Settings(not_ai_generated_below=0.8, ai_generated_at_or_above=0.2)


def test_chunked_upload_without_length_is_cut_off(detector: Detector) -> None:
    client = _client(detector, max_upload_bytes=1000)
    boundary = "xyz"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"a.mp4\"\r\nContent-Type: video/mp4\r\n\r\n").encode()

    def body():
        yield head
        for _ in range(200):
            yield b"\0" * 1024
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post("/v1/detect", content=body(),
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413
    assert client.get("/healthz").status_code == 200


def test_a_stream_without_the_promised_frames_is_422_not_500(videos: dict[str, bytes]) -> None:
    class NoFrames:
        version = "stub"
        thresholds = {"not_ai_generated_below": 0.3, "ai_generated_at_or_above": 0.7}

        def predict_file(self, path: object, **limits: object) -> object:
            raise ValueError("no frames to score")

    r = _post(TestClient(create_app(Settings(), detector=NoFrames())), videos["plain"])
    assert r.status_code == 422 and "no decodable frames" in r.json()["reason"]
