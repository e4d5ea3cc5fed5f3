"""Shared helpers for benchmark scripts: environment facts and the JSON result file."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def environment() -> dict[str, Any]:
    """Facts that make a benchmark number interpretable: machine, versions, commit."""
    import numpy

    versions = {"python": platform.python_version(), "numpy": numpy.__version__}
    for name in ("torch", "av", "scipy"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:  # a benchmark may run without an optional package
            pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except Exception:
        commit = None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
        "git_commit": commit,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    On Linux this is ``VmHWM`` of ``/proc/self/status``, the high-water mark of this program's
    own memory: ``getrusage``'s ``ru_maxrss`` survives ``fork`` and ``execve``, so a worker
    started by a large parent would report the parent's peak instead of its own.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_result(name: str, results: dict[str, Any], out: Path | None = None) -> Path:
    """Write ``{"benchmark": name, "results": ..., "environment": ...}`` to JSON and echo it."""
    path = out or RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "results": results, "environment": environment()}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    sys.stdout.write(json.dumps(results, indent=2) + "\n")
    return path
