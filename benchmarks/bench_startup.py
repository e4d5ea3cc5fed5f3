"""Benchmark a new user's first commands: wall time and what their imports cost.

Times, each in a fresh interpreter as a user runs them (``python -m evalkit ...``):
``evalkit --help``, ``evalkit ls metrics``, ``evalkit validate suites/quickstart.yaml`` and
``evalkit validate suites/physics-basic.yaml`` (median and best of ``--repeats``), and the
quickstart (``evalkit run suites/quickstart.yaml`` into a fresh folder, ``--quickstart-repeats``
times). For the listing and validating commands it also records the import-time breakdown of
``python -X importtime``: the top-level packages by cumulative import time, and whether torch
was imported at all. Goal (issue 17): listing and validating under 2 s.

``--source LABEL=DIR`` (repeatable) measures another checkout too, e.g. the code before a change
(``git worktree add /tmp/before COMMIT``), with the same interpreter in the same run, so the
numbers compare on the same machine at the same load.

Usage:
    python benchmarks/bench_startup.py [--repeats 5] [--quickstart-repeats 2]
                                       [--source before=/tmp/before] [--out PATH]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write_result  # noqa: E402

log = logging.getLogger("bench_startup")

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 2.0
COMMANDS: dict[str, list[str]] = {
    "help": ["--help"],
    "ls_metrics": ["ls", "metrics"],
    "validate_quickstart": ["validate", "suites/quickstart.yaml"],
    "validate_physics_basic": ["validate", "suites/physics-basic.yaml"],
}
HEAVY = ("torch", "torchmetrics", "transformers", "streamlit", "av", "scipy", "pandas")


def _env(source: Path) -> dict[str, str]:
    # The checkout's own packages first (the venv's editable install points at this one).
    return {**os.environ, "PYTHONPATH": str(source), "PYTHONDONTWRITEBYTECODE": "1"}


def _run(source: Path, argv: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "evalkit", *argv], cwd=cwd or source, env=_env(source),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
    return time.perf_counter() - start


def import_breakdown(source: Path, argv: list[str], top: int = 12) -> dict[str, Any]:
    """``python -X importtime`` of a command: top-level packages by cumulative time (ms)."""
    code = f"from evalkit.cli import main; main({argv!r})"
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=source,
                         env=_env(source), capture_output=True, text=True, timeout=900)
    packages: dict[str, float] = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        if not cumulative.strip().isdigit():
            continue  # the header line
        # "| " then two spaces per nesting level: a top-level import counts its whole subtree
        if name[1:].startswith(" "):
            continue
        root = name.strip().split(".")[0]
        packages[root] = packages.get(root, 0.0) + int(cumulative) / 1000.0
    ranked = sorted(packages.items(), key=lambda kv: -kv[1])
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    return {
        "total_import_ms": round(sum(packages.values()), 1),
        "top_packages_ms": {k: round(v, 1) for k, v in ranked[:top]},
        "heavy_imported": [m for m in HEAVY if m in imported],
    }


def measure(source: Path, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {"source": str(source)}
    for name, argv in COMMANDS.items():
        _run(source, argv)  # warm the file cache: the numbers are for a second look, not a cold disk
        times = [_run(source, argv) for _ in range(repeats)]
        out[name] = {"command": "evalkit " + " ".join(argv),
                     "median_s": round(statistics.median(times), 3),
                     "best_s": round(min(times), 3), "runs": len(times),
                     "under_goal": statistics.median(times) < GOAL_S,
                     "imports": import_breakdown(source, argv)}
        log.info("%s: median %.2f s", name, out[name]["median_s"])
    return out


def quickstart(sources: dict[str, Path], repeats: int) -> dict[str, dict[str, Any]]:
    """The quickstart into a fresh folder, the sources taking turns (the machine is shared:
    interleaving spreads a change of load over all of them)."""
    times: dict[str, list[float]] = {label: [] for label in sources}
    for _ in range(repeats):
        for label, source in sources.items():
            with tempfile.TemporaryDirectory() as tmp:
                times[label].append(_run(source, ["run", str(source / "suites" / "quickstart.yaml"),
                                                  "--out", str(Path(tmp) / "qs"), "--no-progress"],
                                         cwd=Path(tmp)))
    out = {}
    for label, values in times.items():
        out[label] = {"command": "evalkit run suites/quickstart.yaml (fresh folder)",
                      "median_s": round(statistics.median(values), 2),
                      "best_s": round(min(values), 2), "runs": len(values)}
        log.info("%s quickstart: median %.1f s", label, out[label]["median_s"])
    return out


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quickstart-repeats", type=int, default=2)
    parser.add_argument("--source", action="append", default=[], metavar="LABEL=DIR",
                        help="also measure another checkout (e.g. before=/tmp/before)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    sources = {"current": REPO}
    for item in args.source:
        label, _, folder = item.partition("=")
        sources[label] = Path(folder).resolve()
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    results: dict[str, Any] = {"goal_s": GOAL_S, "load_average_at_start": load,
                               "note": "wall time of a fresh interpreter per command, file cache "
                                       "warm; all sources measured in one run"}
    for label, folder in sources.items():
        results[label] = measure(folder, args.repeats)
    for label, timing in quickstart(sources, args.quickstart_repeats).items():
        results[label]["quickstart"] = timing
    with open("/proc/loadavg") as fh:
        results["load_average_at_end"] = fh.read().split()[:3]
    write_result("startup", results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
