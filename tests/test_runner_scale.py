"""The runner where it broke at scale (issue 16): orphaned workers after kill -9, two runs on
one folder, a full or read-only disk, corrupt clips from a folder."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.cli import EXIT_STORAGE, main
from evalkit.generators.base import GenerationRequest
from evalkit.generators.world import WorldGenerator
from evalkit.results import generator_table
from evalkit.runlock import LOCK_FILE, RunLock, RunLockedError, storage_error
from evalkit.runner import run_suite
from evalkit.store import RunStore, read_jsonl
from evalkit.suite import load_suite
from evalkit.video import write_video

SUITE = {
    "name": "t",
    "prompts": ["a red ball falls from the upper left", "a blue box moves right across the center",
                "a green ball bounces on the floor"],
    "samples_per_prompt": 2,
    "generators": [{"name": "world"}],
    "metrics": [{"name": "temporal_flickering"}],
}


def _children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_after_main_process_is_killed(in_tmp: Path) -> None:
    suite_file = in_tmp / "s.yaml"
    suite_file.write_text(yaml.safe_dump({**SUITE, "prompts": {"builtin": "physics-basic"},
                                          "samples_per_prompt": 1,
                                          "metrics": [{"name": "motion_magnitude"}]}))
    cmd = [sys.executable, "-m", "evalkit", "run", str(suite_file), "--no-progress", "--out", "r",
           "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=in_tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(workers) < 2:
            workers = [p for p in _children(proc.pid) if _alive(p)]
            time.sleep(0.05)
        assert len(workers) >= 2, "the pool never started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.1)
        assert not [p for p in workers if _alive(p)], "workers outlived the main process"
    finally:
        for pid in workers:  # only the processes this test started
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    # and the folder is not left locked: the same command resumes
    rerun = subprocess.run(cmd, cwd=in_tmp, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert not (in_tmp / "r" / LOCK_FILE).exists()


def test_second_run_on_a_locked_folder_says_who_holds_it(
        in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite_file = in_tmp / "s.yaml"
    suite_file.write_text(yaml.safe_dump(SUITE))
    with RunLock(in_tmp / "r"):
        code = main(["run", str(suite_file), "--no-progress", "--out", "r"])
        err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    assert f"in use by another evalkit run: pid {os.getpid()} on {socket.gethostname()}, " \
           "started 20" in err[0]
    assert not (in_tmp / "r" / "run.json").exists()  # nothing done twice
    assert main(["run", str(suite_file), "--no-progress", "--out", "r"]) == 0
    assert not (in_tmp / "r" / LOCK_FILE).exists()


def test_lock_of_a_dead_process_is_taken_over(in_tmp: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from evalkit.runlock import RunLock; "
         "RunLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(600)",
         str(in_tmp / "runs" / "t")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"pid {holder.pid} on "):
            run_suite(load_suite(SUITE), progress=False)
    finally:
        holder.kill()
        holder.wait()
    lock = in_tmp / "runs" / "t" / LOCK_FILE
    assert json.loads(lock.read_text())["pid"] == holder.pid  # left behind by kill -9
    with caplog.at_level("WARNING"):
        report = run_suite(load_suite(SUITE), progress=False)
    assert report.ok and report.clips_made == 6
    assert f"left by pid {holder.pid}" in caplog.text and "no longer running" in caplog.text


def test_full_disk_is_one_line_and_a_distinct_exit_code_and_resumes(
        in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    suite_file = in_tmp / "s.yaml"
    suite_file.write_text(yaml.safe_dump(SUITE))
    real_append = RunStore.append
    calls = {"n": 0}

    def append(self: RunStore, path: Path, record: dict[str, Any]) -> None:
        calls["n"] += 1
        if calls["n"] > 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_append(self, path, record)

    monkeypatch.setattr(RunStore, "append", append)
    code = main(["run", str(suite_file), "--no-progress", "--out", "r"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_STORAGE == 74
    assert err[-1].startswith("evalkit: error: cannot write to run folder ")
    assert "No space left on device" in err[-1] and "run the same command again" in err[-1]
    assert not any("Traceback" in line for line in err)

    monkeypatch.setattr(RunStore, "append", real_append)
    report = run_suite(load_suite(suite_file, output="r"), progress=False)
    assert report.ok and (report.clips_reused, report.clips_made) == (4, 2)
    gens = list(read_jsonl(in_tmp / "r" / "generations.jsonl"))
    assert len(gens) == 6 and all(g["status"] == "ok" for g in gens)


def test_read_only_clip_folder_stops_the_run(in_tmp: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails with EROFS inside a work item stops the run (not 6 failed clips)."""
    import evalkit.video

    suite_file = in_tmp / "s.yaml"
    suite_file.write_text(yaml.safe_dump(SUITE))

    def read_only(path: Any, *args: Any, **kwargs: Any) -> Path:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(evalkit.video, "write_video", read_only)
    code = main(["run", str(suite_file), "--no-progress", "--out", "r"])
    err = capsys.readouterr().err
    assert code == EXIT_STORAGE, err
    assert "Read-only file system" in err
    assert not list(read_jsonl(in_tmp / "r" / "generations.jsonl"))  # no clip marked failed


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_really_read_only_run_folder(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite_file = in_tmp / "s.yaml"
    suite_file.write_text(yaml.safe_dump(SUITE))
    assert main(["run", str(suite_file), "--no-progress", "--out", "r"]) == 0
    (in_tmp / "r").chmod(0o555)
    try:
        code = main(["run", str(suite_file), "--no-progress", "--out", "r", "--seed", "0",
                     "--samples-per-prompt", "3"])
    finally:
        (in_tmp / "r").chmod(0o755)
    assert code == EXIT_STORAGE, capsys.readouterr().err


def test_storage_error_tells_folder_problems_from_item_problems(tmp_path: Path) -> None:
    root = tmp_path / "run"
    assert storage_error(OSError(errno.ENOSPC, "full"), root)
    assert storage_error(OSError(errno.EROFS, "ro", "/anywhere"), root)
    assert storage_error(OSError(errno.EACCES, "denied", str(root / "clips" / "x.mp4")), root)
    # an unreadable source clip elsewhere fails that clip only
    assert not storage_error(OSError(errno.EACCES, "denied", str(tmp_path / "src.mp4")), root)
    assert not storage_error(FileNotFoundError(errno.ENOENT, "gone"), root)
    assert not storage_error(ValueError("x"), root)


def test_corrupt_and_empty_folder_clips_count_as_failed(in_tmp: Path) -> None:
    clips_dir = in_tmp / "external"
    world = WorldGenerator()
    prompts = SUITE["prompts"]
    for prompt in prompts:
        write_video(clips_dir / f"{prompt}-0.mp4",
                    world.generate(GenerationRequest(prompt, "x", 0, seed=1)))
    good = (clips_dir / f"{prompts[0]}-0.mp4").read_bytes()
    (clips_dir / f"{prompts[0]}-1.mp4").write_bytes(b"")  # empty
    (clips_dir / f"{prompts[1]}-1.mp4").write_bytes(os.urandom(4000))  # not a video
    (clips_dir / f"{prompts[2]}-1.mp4").write_bytes(good[: len(good) // 2])  # truncated
    suite = {**SUITE, "generators": [{"name": "folder", "label": "ext",
                                      "options": {"path": str(clips_dir)}}]}
    report = run_suite(load_suite(suite), progress=False)
    assert (report.clips_made, report.clips_failed) == (3, 3)
    assert report.scores_made == 3 and report.scores_failed == 0  # failed clips are not scored
    table = generator_table(report.output_dir)
    assert int(table.loc["ext", "clips"]) == 3 and int(table.loc["ext", "clips_failed"]) == 3
    assert table["temporal_flickering ↑"].notna().all()
    summary = report.summaries["ext"]
    assert summary["n_clips"] == 3 and summary["n_clips_failed"] == 3
    errors = [g["error"] for g in read_jsonl(report.output_dir / "generations.jsonl")
              if g["status"] == "error"]
    assert len(errors) == 3 and all("cannot read video" in e for e in errors)

    from app.data import leaderboard, load_run

    board = leaderboard([load_run(report.output_dir)])
    row = board.frame.reset_index().iloc[0]
    assert (int(row["N"]), int(row["failed"])) == (3, 3)
