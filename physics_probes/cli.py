"""``evalkit probe FILE...``: run the physics probes on video files, one JSON line per result.

:func:`add_probe_command` adds the sub-command to evalkit's argument parser. Importing this
module costs nothing heavy (no numpy, scipy or PyAV): ``evalkit --help`` stays fast; the handler
imports what it needs.

Each line is ``{"file", "probe", "status", "reason", "measured", "expected"}``. The motion probe
comes from ``--probe``, else from the scene or prompt stored in the file's metadata (world clips
carry them); without either only ``permanence`` and ``constancy`` run. A file that cannot be read
gives ``{"file", "error"}`` and the command exits with 2 after the other files.

Camera footage (anything larger than the world's renders) is streamed one frame at a time
through the OpenCV tracker (:mod:`physics_probes.footage`) with the container's frame times, so
memory stays bounded whatever the clip's length; ``--start``/``--end`` pick a window.
``--object X,Y,W,H@FRAME`` names the object to measure (or ``--detector`` finds what the prompt
or ``--object-query`` names), ``--object-size`` its width in metres (the camera scale then comes
from it), ``--plot-dir`` writes each motion probe's trajectory drawn
on the clip as a PNG.
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
    p.add_argument("--object", metavar="X,Y,W,H@FRAME", type=parse_object_box,
                   help="the object to measure: a box in pixels of frame FRAME (counted from "
                        "--start; default: chosen by colour or by its motion)")
    p.add_argument("--object-size", type=float, metavar="M", dest="object_size_m",
                   help="width of the measured object in metres (gives the camera scale)")
    p.add_argument("--tracker", choices=("auto", "world", "footage"), default="auto",
                   help="world extractor or OpenCV footage tracker (default: world for world "
                        "clips and clips of at most 128 px, else footage)")
    p.add_argument("--start", type=float, metavar="S", help="analyse from S seconds")
    p.add_argument("--end", type=float, metavar="S", help="analyse up to S seconds")
    p.add_argument("--detector", metavar="SRC",
                   help="open-vocabulary detector (hub id or folder, e.g. "
                        "google/owlv2-base-patch16-ensemble) that finds the object to measure")
    p.add_argument("--object-query", metavar="TEXT",
                   help="what the detector looks for (default: the file's prompt)")
    p.add_argument("--detector-threshold", type=float, default=0.1, metavar="S",
                   help="least detector score (default 0.1)")
    p.add_argument("--plot-dir", metavar="DIR",
                   help="write each motion probe's trajectory on the clip as DIR/<file>_<probe>.png")
    p.set_defaults(func=cmd_probe)
    return p


def parse_object_box(text: str) -> tuple[tuple[float, float, float, float], int]:
    """``"X,Y,W,H@FRAME"`` (``@FRAME`` optional, default 0) -> ``((x, y, w, h), frame)``."""
    box_text, _, frame_text = text.partition("@")
    try:
        parts = [float(v) for v in box_text.split(",")]
        frame = int(frame_text) if frame_text else 0
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y,W,H@FRAME, got {text!r}") from None
    if len(parts) != 4 or parts[2] <= 0 or parts[3] <= 0 or frame < 0:
        raise argparse.ArgumentTypeError(f"expected X,Y,W,H@FRAME with W, H > 0, got {text!r}")
    return (parts[0], parts[1], parts[2], parts[3]), frame


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
    for name in ("object_size_m", "start", "end"):
        value = getattr(args, name, None)
        if value is not None and value < 0:
            return _bad(f"--{name.replace('_m', '').replace('_', '-')} must not be negative")
    if args.start is not None and args.end is not None and args.end <= args.start:
        return _bad("--end must be after --start")
    from physics_probes.probes import ProbeSettings

    box, frame = args.object if args.object is not None else (None, 0)
    settings = ProbeSettings(tolerance=args.tolerance, pixels_per_metre=args.pixels_per_metre,
                             g_mps2=args.g_mps2, object_box=box, object_frame=frame,
                             object_size_m=args.object_size_m, tracker=args.tracker,
                             detector=args.detector, object_query=args.object_query,
                             detector_threshold=args.detector_threshold)
    if args.detector is not None:
        from evalkit.open_vocab import check_available

        try:
            check_available(args.detector)
        except Exception as exc:  # noqa: BLE001 - one line before any decoding
            return _bad(str(exc))
    failed = 0
    for path in args.files:
        try:
            results, clip_info = _probe_file(path, args, settings)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
            failed += 1
            _emit({"file": str(path), "error": str(exc) or type(exc).__name__})
            continue
        for result in results:
            record = {"file": str(path), **result.record()}
            if args.plot_dir and result.plot.get("object_boxes_px") is not None:
                from physics_probes.plot import save_probe_plot

                record["plot"] = str(save_probe_plot(path, result, args.plot_dir,
                                                     start_frame=clip_info["start_frame"]))
            _emit(record)
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _probe_file(path: str, args: argparse.Namespace, settings: Any) -> tuple[list, dict]:
    """Probe one file: world clips through the world extractor (decoded whole: they are
    small), camera footage streamed through the footage tracker."""
    from types import SimpleNamespace

    from evalkit.metrics.base import ClipContext
    from evalkit.video import probe_video, read_video
    from physics_probes.probes import WORLD_MAX_SIDE, probe_clip

    info = probe_video(path)
    prompt = str(info.metadata.get("prompt", ""))
    context = ClipContext(prompt=prompt, probe=args.probe)
    tracker = settings.tracker
    if tracker == "auto":
        small = max(info.width, info.height) <= WORLD_MAX_SIDE
        tracker = "world" if small or "scene" in info.metadata else "footage"
    fps = args.fps or info.fps
    start = int(round((args.start or 0.0) * fps))
    if tracker == "world":
        clip = read_video(path)
        if args.fps is not None:
            clip = clip.with_frames(clip.frames, fps=args.fps)
        if start or args.end is not None:
            stop = int(round(args.end * fps)) if args.end is not None else clip.num_frames
            clip = clip.with_frames(clip.frames[start:stop])
        analysis = None
    else:
        from physics_probes.footage import analyse_video_file

        count = int(round((args.end - (args.start or 0.0)) * fps)) if args.end is not None \
            else None
        analysis, facts = analyse_video_file(path, fps=args.fps, start_frame=start,
                                             max_count=count)
        clip = SimpleNamespace(height=analysis.height, width=analysis.width,
                               num_frames=analysis.num_frames, fps=analysis.fps,
                               metadata=info.metadata)
    names = _names(clip, context, args)
    if tracker == "footage" and settings.detector is not None and settings.object_box is None:
        import dataclasses

        import numpy as np

        from evalkit.video import iter_video_frames
        from physics_probes.probes import detect_object

        def read(idx: list[int]) -> np.ndarray:
            return np.stack(list(iter_video_frames(path, start_frame=start, only=set(idx),
                                                   first_frames=max(idx) + 1)))

        settings = dataclasses.replace(settings, grounding=detect_object(
            settings, context, read, analysis.num_frames))
    results = probe_clip(clip, context, names, settings, analysis=analysis)
    if tracker == "footage":
        note = facts["timing"].get("note")
        for r in results:
            r.measured["tracker"] = "footage"
            if note:
                r.measured["timing_note"] = note
    return results, {"start_frame": start}


def _names(clip: Any, context: Any, args: argparse.Namespace) -> list[str]:
    from physics_probes.select import plan_clip

    if args.probe is None or args.probe == "physics":
        plan = plan_clip(clip, context, pixels_per_metre=args.pixels_per_metre, g_mps2=args.g_mps2)
        return [*plan.motion_targets, "permanence", "constancy"]
    return [args.probe]


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
