"""The ``evalkit`` command line: ``run``, ``validate``, ``ls``, ``results``, and the commands of
the other parts (``probe``, ``fvd``, ``leaderboard``, ...).

Exit codes: 0 success; 1 the run finished but some items failed (listed in the log and the
results files); 2 invalid input, or the run folder is in use by another run (a one-line
message, nothing written); 74 the run folder cannot be written (full disk, quota, read-only:
one line; what was done is kept); 130 interrupted (what was done is kept: run the same command
again to resume).

Heavy modules are imported inside the commands so ``evalkit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("evalkit")

EXIT_OK, EXIT_FAILED_ITEMS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_STORAGE = 74  # sysexits' EX_IOERR: the run folder cannot be written (full, read-only)


def _parse_value(text: str) -> Any:
    """``--set key=VALUE``: VALUE is read as YAML (numbers, booleans, lists), else a string."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _overrides(pairs: Sequence[str]) -> dict[str, Any]:
    from evalkit.errors import ConfigError

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got '{pair}'")
        out[key.strip()] = _parse_value(value)
    return out


# ----------------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------------


def _load(args: argparse.Namespace) -> Any:
    from evalkit.suite import load_suite

    overrides = _overrides(args.set or [])
    if getattr(args, "samples_per_prompt", None) is not None:
        overrides["samples_per_prompt"] = args.samples_per_prompt
    if getattr(args, "seed", None) is not None:
        overrides["seed"] = args.seed
    if getattr(args, "workers", None) is not None:
        overrides["executor.workers"] = args.workers
    return load_suite(args.suite, overrides=overrides, output=getattr(args, "out", None),
                      limit=getattr(args, "limit", None))


def cmd_validate(args: argparse.Namespace) -> int:
    from evalkit.runner import plan_run

    resolved = _load(args)
    plan = plan_run(resolved)
    suite = resolved.suite
    print(
        f"ok: {suite.name}: {len(resolved.prompts)} prompts x {suite.samples_per_prompt} samples"
        f" x {len(plan.generators)} generators = {plan.n_clips} clips; metrics: "
        f"{', '.join([*plan.clip_metrics, *plan.set_metrics]) or 'none'}; "
        f"output: {resolved.output_dir}; config hash {resolved.config_hash()}"
    )
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from concurrent.futures.process import BrokenProcessPool

    from evalkit.runlock import RunStorageError
    from evalkit.runner import run_suite

    resolved = _load(args)
    try:
        report = run_suite(resolved, progress=not args.no_progress)
    except RunStorageError as exc:
        print(f"evalkit: error: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    except KeyboardInterrupt:
        log.error("interrupted; finished work is saved in %s: run the same command again to "
                  "resume", resolved.output_dir)
        return EXIT_INTERRUPTED
    except BrokenProcessPool:
        log.error("a worker process died (out of memory?); finished work is saved in %s: run "
                  "again (with fewer --workers) to resume", resolved.output_dir)
        return EXIT_FAILED_ITEMS
    log.info(
        "clips: %d made, %d reused, %d failed; scores: %d made, %d reused, %d failed",
        report.clips_made, report.clips_reused, report.clips_failed,
        report.scores_made, report.scores_reused, report.scores_failed,
    )
    from evalkit.results import display_table, generator_table

    _print_table(display_table(generator_table(report.output_dir)))
    print(f"\nrun folder: {report.output_dir}")
    return EXIT_OK if report.ok else EXIT_FAILED_ITEMS


def cmd_ls(args: argparse.Namespace) -> int:
    from evalkit import registry

    if args.what == "suites":
        from evalkit.builtin_suites import BUILTIN_SUITES

        for name, suite in BUILTIN_SUITES.items():
            print(f"{name:<20} {len(suite.prompts()):>4} prompts  {suite.description}")
        return EXIT_OK
    kind = "generator" if args.what == "generators" else "metric"
    for name in registry.available(kind):
        try:
            cls = registry.load(kind, name)
            extra = ""
            if kind == "metric":
                arrow = {True: "higher is better", False: "lower is better"}.get(
                    cls.higher_is_better, "no direction")
                extra = f" [{cls.scope}, {arrow}]"
            print(f"{name:<22} {cls.description}{extra}")
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not hide the others
            print(f"{name:<22} (cannot be loaded: {exc})")
    return EXIT_OK


def cmd_results(args: argparse.Namespace) -> int:
    from evalkit.results import clip_table, display_table, export_table, generator_table

    table = clip_table(args.run_dir) if args.per_clip else generator_table(args.run_dir)
    if args.output:
        path = export_table(table, args.output)
        print(f"wrote {len(table)} rows to {path}")
    else:
        _print_table(table if args.per_clip else display_table(table))
    return EXIT_OK


def _print_table(table: Any) -> None:
    import pandas as pd

    with pd.option_context("display.max_columns", None, "display.width", 200,
                           "display.float_format", "{:.4g}".format):
        print(table.to_string())


# ----------------------------------------------------------------------------------------------
# Parser
# ----------------------------------------------------------------------------------------------


def _suite_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", help="suite YAML file")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a suite key (dotted, e.g. executor.workers=2); repeatable")
    p.add_argument("--samples-per-prompt", type=int, help="override samples_per_prompt")
    p.add_argument("--seed", type=int, help="override the base seed")
    p.add_argument("--limit", type=int, help="use only the first N prompts")
    p.add_argument("--out", help="run folder (overrides the suite's output)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalkit",
        description="Evaluate text-to-video generators and detect AI-generated video, offline.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="generate, score and summarise a suite (resumable)")
    _suite_args(p)
    p.add_argument("--workers", type=int, help="local worker processes (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a suite without running it")
    _suite_args(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("ls", help="list generators, metrics or built-in suites")
    p.add_argument("what", choices=["generators", "metrics", "suites"])
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("results", help="print or export the results of a run folder")
    p.add_argument("run_dir", help="run folder")
    p.add_argument("--per-clip", action="store_true", help="one row per clip and metric")
    p.add_argument("-o", "--output", help="write CSV or Parquet (by extension) instead")
    p.set_defaults(func=cmd_results)

    # Commands of the other parts register themselves (each imports its heavy modules lazily).
    from physics_probes.cli import add_probe_command

    add_probe_command(sub)
    from evalkit.metrics.fvd_cli import add_fvd_command

    add_fvd_command(sub)
    from detectors.cli import add_detector_commands

    add_detector_commands(sub)
    from app.cli import add_leaderboard_command

    add_leaderboard_command(sub)
    return parser


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="evalkit: %(message)s", stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from evalkit import __version__

        print(f"evalkit {__version__}")
        return EXIT_OK
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    _setup_logging(args.verbose, args.quiet)
    from evalkit.errors import EvalkitError

    try:
        return int(args.func(args))
    except EvalkitError as exc:
        print(f"evalkit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("evalkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `evalkit results RUN | head`
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
