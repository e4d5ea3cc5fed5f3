"""``evalkit probe FILE...``: run the physics probes on video files, one JSON line per result.

:func:`add_probe_command` adds the sub-command to evalkit's argument parser. Importing this
module costs nothing heavy (no numpy, scipy or PyAV): ``evalkit --help`` stays fast; the handler
imports what it needs.

Each line is ``{"file", "probe", "status", "reason", "measured", "expected"}``. The motion probe
comes from ``--probe``, else from the scene or prompt stored in the file's metadata (world clips
carry them); without either only ``permanence`` and ``constancy`` run. A file that cannot be read
gives ``{"file", "error"}`` and the command exits with 2 after the other files.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_probe_command", "cmd_probe", "PROBE_CHOICES"]

#: Names --probe accepts (mirrors physics_probes.select.PROBES plus "physics" = all that apply).
PROBE_CHOICES = ("freefall", "projectile", "uniform_motion", "bounce", "permanence", "constancy",
                 "physics")
EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_probe_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``probe`` to evalkit's sub-parsers (``subparsers = parser.add_subparsers(...)``)."""
    p = subparsers.add_parser(
        "probe", help="physics probes on video files (one JSON line per file and probe)",
        description="Track the objects in each video and test their motion against physical "
                    "law. Prints one JSON object per line: file, probe, status, measured, "
                    "expected.")
    p.add_argument("files", nargs="+", metavar="FILE", help="video files")
    p.add_argument("--probe", choices=PROBE_CHOICES,
                   help="probe to run (default: the motion probe the file's scene or prompt "
                        "implies, plus permanence and constancy)")
    p.add_argument("--pixels-per-metre", type=float, metavar="P",
                   help="camera scale, to check g in m/s^2 (default: from the file's scene)")
    p.add_argument("--fps", type=float, metavar="F", help="override the file's frame rate")
    p.add_argument("--g", type=float, metavar="G", dest="g_mps2",
                   help="gravity to expect in m/s^2 (default: the scene's, else 9.81)")
    p.add_argument("--tolerance", type=float, default=0.1,
                   help="relative tolerance of the motion probes (default 0.1)")
    p.set_defaults(func=cmd_probe)
    return p


def _bad(message: str) -> int:
    print(f"evalkit: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_probe(args: argparse.Namespace) -> int:
    """Handler of ``evalkit probe``; returns the exit code (0 ok, 2 bad input)."""
    for name in ("pixels_per_metre", "fps", "g_mps2", "tolerance"):
        value = getattr(args, name, None)
        if value is not None and not value > 0:
            return _bad(f"--{name.replace('_', '-').replace('g-mps2', 'g')} must be positive, "
                        f"got {value}")
    from evalkit.metrics.base import ClipContext
    from evalkit.video import read_video
    from physics_probes.probes import ProbeSettings, probe_clip
    from physics_probes.select import MOTION_PROBES, PROBES, plan_clip

    settings = ProbeSettings(tolerance=args.tolerance, pixels_per_metre=args.pixels_per_metre,
                             g_mps2=args.g_mps2)
    failed = 0
    for path in args.files:
        try:
            clip = read_video(path)
            if args.fps is not None:
                clip = clip.with_frames(clip.frames, fps=args.fps)
            context = ClipContext(prompt=str(clip.metadata.get("prompt", "")), probe=args.probe)
            if args.probe is None or args.probe == "physics":
                plan = plan_clip(clip, context, pixels_per_metre=args.pixels_per_metre,
                                 g_mps2=args.g_mps2)
                names = [*plan.motion_targets, "permanence", "constancy"]
            else:
                names = [args.probe]
            results = probe_clip(clip, context, names, settings)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
            failed += 1
            _emit({"file": str(path), "error": str(exc) or type(exc).__name__})
            continue
        for result in results:
            _emit({"file": str(path), **result.record()})
    assert set(MOTION_PROBES) <= set(PROBES)
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
