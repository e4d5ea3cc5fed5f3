"""Local pool against Ray on this machine: clips/s, seconds per item, scheduling overhead.

Two measurements, each for ``local`` (in-process), ``local`` with 2 worker processes and
``ray`` with 2 workers (a private ``ray.init()`` instance):

- **suite**: ``physics-basic`` (48 prompts, the ``world`` generator, ``temporal_flickering``
  and ``motion_magnitude``) into a fresh run folder: 48 generate items and 48 score items.
  Wall time of :func:`evalkit.runner.run_suite` includes starting the pool or Ray and its
  workers' imports and model loads, as a user pays them.
- **overhead**: ``--noop-items`` items of a function that returns at once, through
  ``Executor.map`` on already started workers: what scheduling costs per item; and the time to
  start the workers (a pool's processes, or Ray and its actors) and run 8 such items.

Configurations are interleaved ``--repeats`` times (the machine is shared); medians are kept.

Usage:
    python benchmarks/bench_executors.py [--repeats 2] [--noop-items 400] [--out PATH]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write_result  # noqa: E402

log = logging.getLogger("bench_executors")

SUITE = {
    "name": "bench",
    "prompts": {"builtin": "physics-basic"},
    "generators": [{"name": "world"}],
    "metrics": [{"name": "temporal_flickering"}, {"name": "motion_magnitude"}],
}
CONFIGS: dict[str, dict[str, Any]] = {
    "local_1": {"kind": "local", "workers": 1},
    "local_2": {"kind": "local", "workers": 2},
    "ray_2": {"kind": "ray", "workers": 2},
}


def noop(item: int) -> int:
    """A work item that does nothing: its time through an executor is pure scheduling."""
    return item


def _suite_run(config: dict[str, Any], folder: Path) -> dict[str, float]:
    from evalkit.runner import run_suite
    from evalkit.suite import load_suite

    resolved = load_suite({**SUITE, "executor": config}, output=folder)
    start = time.perf_counter()
    report = run_suite(resolved, progress=False)
    wall = time.perf_counter() - start
    assert report.ok and report.clips_made == 48, report
    items = 48 + 48
    return {"wall_s": wall, "clips_per_s": 48 / wall, "s_per_item": wall / items}


def _overhead(config: dict[str, Any], n: int) -> tuple[float, float]:
    """(seconds to start the workers and run 8 no-op items, seconds per no-op item after)."""
    from evalkit.executor import make_executor

    options = {"address": None} if config["kind"] == "ray" else {}
    t0 = time.perf_counter()
    executor = make_executor(config["kind"], config["workers"], **options)
    start_fn = getattr(executor, "start", None)
    if start_fn is not None:
        start_fn()
    # warm: the pool's or actors' processes exist and have imported the work function
    list(executor.map(noop, list(range(8))))
    started = time.perf_counter() - t0
    start = time.perf_counter()
    done = sum(1 for _ in executor.map(noop, list(range(n))))
    seconds = time.perf_counter() - start
    close = getattr(executor, "close", None)
    if close is not None:
        close()
    assert done == n
    return started, seconds / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--noop-items", type=int, default=400)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    runs: dict[str, list[dict[str, float]]] = {k: [] for k in CONFIGS}
    overhead: dict[str, list[float]] = {k: [] for k in CONFIGS}
    startup: dict[str, list[float]] = {k: [] for k in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for name, config in CONFIGS.items():
                runs[name].append(_suite_run(config, Path(tmp) / f"{name}-{r}"))
                started, per_item = _overhead(config, args.noop_items)
                startup[name].append(started)
                overhead[name].append(per_item)
                print(f"repeat {r} {name}: {runs[name][-1]}, overhead "
                      f"{overhead[name][-1] * 1e3:.3f} ms/item", file=sys.stderr)
    results: dict[str, Any] = {"suite": "physics-basic: 48 clips (world), 2 clip metrics; "
                                        "48 generate + 48 score items",
                               "repeats": args.repeats, "noop_items": args.noop_items}
    for name in CONFIGS:
        results[name] = {
            "executor": CONFIGS[name],
            "wall_s_median": round(statistics.median(x["wall_s"] for x in runs[name]), 3),
            "clips_per_s_median": round(statistics.median(x["clips_per_s"] for x in runs[name]), 3),
            "s_per_item_median": round(statistics.median(x["s_per_item"] for x in runs[name]), 4),
            "scheduling_overhead_ms_per_item_median": round(
                statistics.median(overhead[name]) * 1e3, 4),
            "start_workers_s_median": round(statistics.median(startup[name]), 3),
            "all_wall_s": [round(x["wall_s"], 3) for x in runs[name]],
        }
    write_result("executors", results, args.out)


if __name__ == "__main__":
    main()
