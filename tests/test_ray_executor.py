"""The Ray executor: in-process ``ray.init()`` and a real local cluster (``ray start --head``)
give the same rows as the local executor; resume works across executors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.errors import ConfigError
from evalkit.runner import run_suite
from evalkit.store import read_jsonl
from evalkit.suite import load_suite

SUITE = {
    "name": "t",
    "prompts": {"builtin": "physics-basic", "limit": 6},
    "generators": [{"name": "world"}],
    "metrics": [{"name": "temporal_flickering"}, {"name": "motion_magnitude"}],
}


def _rows(run: Path) -> dict[tuple[Any, ...], Any]:
    return {(r["generator"], r["prompt_id"], r["sample"], r["metric"]): r["values"]
            for r in read_jsonl(run / "results.jsonl")}


def test_ray_settings_belong_to_ray_and_a_missing_ray_is_one_line(
        in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="executor: 'address' is a setting of executor kind "
                                          "'ray'"):
        load_suite({**SUITE, "executor": {"address": "auto"}})
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(ConfigError, match=r"executor kind 'ray' needs the ray package: "
                                          r"pip install 'evalkit\[ray\]'"):
        run_suite(load_suite({**SUITE, "executor": {"kind": "ray"}}), progress=False)
    assert not (in_tmp / "runs").exists()


ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")


@pytest.fixture
def local_rows(in_tmp: Path) -> dict[tuple[Any, ...], Any]:
    report = run_suite(load_suite(SUITE, output="local"), progress=False)
    assert report.ok
    return _rows(report.output_dir)


def test_in_process_ray_gives_the_same_rows_and_resumes(
        in_tmp: Path, local_rows: dict[tuple[Any, ...], Any]) -> None:
    suite = {**SUITE, "executor": {"kind": "ray", "workers": 2}}
    report = run_suite(load_suite(suite, output="ray"), progress=False)
    assert report.ok and report.clips_made == 6 and report.scores_made == 12
    assert _rows(report.output_dir) == local_rows
    assert not ray.is_initialized()  # the private instance is shut down with the run

    # a run folder made locally resumes under Ray (and the other way round): nothing redone
    again = run_suite(load_suite(suite, output="local"), progress=False)
    assert (again.clips_made, again.scores_made) == (0, 0)
    assert (again.clips_reused, again.scores_reused) == (6, 12)


def test_a_cluster_without_the_gpus_asked_for_is_refused(in_tmp: Path) -> None:
    suite = {**SUITE, "executor": {"kind": "ray", "workers": 1, "num_gpus": 1}}
    with pytest.raises(ConfigError, match=r"1 Ray workers need 1 GPU in all, the cluster has 0"):
        run_suite(load_suite(suite), progress=False)
    assert not (in_tmp / "runs" / "t" / "run.json").exists()
    assert not ray.is_initialized()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@pytest.fixture
def ray_cluster() -> Any:
    """A real one-node Ray cluster on 127.0.0.1 (``ray start --head --block``), stopped by pid."""
    if not sys.platform.startswith("linux"):
        pytest.skip("stops the cluster's processes through /proc")
    ray_cli = Path(sys.executable).with_name("ray")
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="rayek-", dir="/tmp")  # short: Ray's socket paths are limited
    proc = subprocess.Popen(
        [str(ray_cli), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
         f"--port={port}", "--num-cpus=2", "--num-gpus=0", "--include-dashboard=false",
         "--disable-usage-stats", f"--temp-dir={temp}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, "ray start --head exited"
                time.sleep(0.2)
        time.sleep(2)  # the raylet registers after the GCS listens
        yield f"127.0.0.1:{port}"
    finally:
        family = _descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        time.sleep(1)
        for pid in family:  # only the processes this cluster started
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_real_local_cluster_gives_the_same_rows(
        in_tmp: Path, local_rows: dict[tuple[Any, ...], Any], ray_cluster: str) -> None:
    suite_file = in_tmp / "s.yaml"
    suite_file.write_text(yaml.safe_dump(
        {**SUITE, "executor": {"kind": "ray", "workers": 2, "address": ray_cluster}}))
    run = subprocess.run([sys.executable, "-m", "evalkit", "run", str(suite_file),
                          "--no-progress", "--out", "cluster"], cwd=in_tmp,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"ray: 2 workers (1 CPU, 0 GPU each) on {ray_cluster}" in run.stderr
    assert _rows(in_tmp / "cluster") == local_rows
