"""Command line: ``detectors make-data | train | eval | detect | provenance | mark | serve``, and
:func:`add_detector_commands`, which adds ``serve`` and ``detect`` to ``evalkit``.

Only argparse is imported at module level: torch, FastAPI and uvicorn are imported inside the
handlers, so ``evalkit --help`` stays light.

Exit codes: 0 done; 1 some files failed (each gets a JSON line with ``error``); 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("detectors")

__all__ = ["add_detector_commands", "build_parser", "main"]

DEFAULT_HOST = "127.0.0.1"
API_KEY_ENV = "EVALKIT_API_KEY"


# ----------------------------------------------------------------------------------------------
# Handlers
# ----------------------------------------------------------------------------------------------


def _threads(n: int | None) -> None:
    import torch

    if n:
        torch.set_num_threads(n)


def _load_detector(path: str | None) -> Any:
    """The detector, or None after printing one line (missing weights, a bad file)."""
    from detectors.detector import Detector
    from evalkit.metrics.i3d import I3DCheckpointError

    try:
        return Detector.load(path)
    except (FileNotFoundError, I3DCheckpointError, KeyError, RuntimeError) as exc:
        print(f"evalkit: error: cannot load the detector: {exc}", file=sys.stderr)
        return None


def cmd_detect(args: argparse.Namespace) -> int:
    """One JSON line per file in the API's response shape (:mod:`detectors.analysis`).

    Every file's header is checked before the model is loaded: a missing file, one that is not a
    video or one over ``--max-frames`` / ``--max-duration-s`` is bad input (one line on stderr
    each, exit 2, nothing scored). A file that fails later, while decoding, gets a JSON line with
    ``"status": "unable_to_evaluate"`` and its reason, and the exit code is 1.
    """
    from detectors.analysis import Limits, analyse_file, check_video, unable_to_evaluate
    from evalkit.video import VideoReadError

    limits = Limits(max_frames=args.max_frames, max_duration_s=args.max_duration_s)
    infos: dict[str, Any] = {}
    bad = 0
    for name in args.files:
        try:
            infos[name] = check_video(name, limits)
        except VideoReadError as exc:
            print(f"evalkit: error: {exc}", file=sys.stderr)
            bad += 1
    if bad:
        print(f"evalkit: error: {bad} of {len(args.files)} file(s) cannot be analysed; nothing "
              f"was scored", file=sys.stderr)
        return 2
    _threads(getattr(args, "threads", None))
    model = _load_detector(args.model)
    if model is None:
        return 2
    failed = 0
    for name in args.files:
        try:
            result = analyse_file(name, model, limits=limits, info=infos[name],
                                  trust_anchors=args.c2pa_trust_anchors)
        except VideoReadError as exc:
            print(json.dumps(unable_to_evaluate(str(exc), file=name)), flush=True)
            failed += 1
            continue
        result.pop("timing", None)
        print(json.dumps({"file": name, **result}), flush=True)
    return 1 if failed else 0


def cmd_provenance(args: argparse.Namespace) -> int:
    """One JSON line per file: C2PA Content Credentials, the watermark test and the legacy
    metadata label."""
    from evalkit.content_credentials import read_content_credentials
    from evalkit.provenance import read_marks
    from evalkit.video import VideoReadError, probe_video

    failed = 0
    for name in args.files:
        try:
            info = probe_video(name)
            c2pa = read_content_credentials(name, container_format=info.format)
            print(json.dumps({"file": name, "c2pa": c2pa, **read_marks(name)}), flush=True)
        except VideoReadError as exc:
            print(json.dumps({"file": name, "error": str(exc)}), flush=True)
            failed += 1
    return 1 if failed else 0


def cmd_mark(args: argparse.Namespace) -> int:
    from evalkit.provenance import mark_clip
    from evalkit.video import read_video, write_video

    payload = int(args.payload, 0) if args.payload is not None else None
    clip = mark_clip(read_video(args.input), generator=args.generator, version=args.version,
                     payload=payload)
    write_video(args.output, clip, crf=args.crf)
    print(json.dumps({"file": str(args.output), **clip.metadata.get("provenance", {})}))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from detectors.api import Settings, serve

    _threads(getattr(args, "threads", None))
    if _load_detector(args.model) is None:  # fail here, in one line, not inside the server
        return 2
    key = os.environ.get(args.api_key_env) or None
    settings = Settings(model_path=args.model, api_key=key,
                        max_upload_bytes=int(args.max_upload_mb * (1 << 20)),
                        max_frames=args.max_frames, max_duration_s=args.max_duration_s,
                        max_concurrent_analyses=args.max_concurrent,
                        upload_idle_timeout_s=args.upload_idle_timeout_s,
                        c2pa_trust_anchors=args.c2pa_trust_anchors)
    log.info("serving on http://%s:%d (API key %s)", args.host, args.port,
             "required" if key else "not required")
    serve(settings, host=args.host, port=args.port)
    return 0


def cmd_make_data(args: argparse.Namespace) -> int:
    from detectors.make_data import build_default_data

    _threads(args.threads)
    try:
        counts = build_default_data(Path(args.real_videos), Path(args.out),
                                    per_file=args.per_file, n_world=args.world,
                                    ae_seconds=args.ae_seconds, seed=args.seed,
                                    n_reference=args.reference_clips,
                                    reference_checkpoint=args.reference_checkpoint,
                                    reference_eta=args.reference_eta,
                                    only=args.only)
    except (ValueError, FileNotFoundError) as exc:
        log.error("%s", exc)
        return 2
    print(json.dumps(counts))
    return 0


def _train_config(args: argparse.Namespace) -> Any:
    from detectors.train import TrainConfig

    cfg = TrainConfig(spatial_seconds=args.spatial_seconds,
                      temporal_seconds=args.temporal_seconds, seed=args.seed)
    if getattr(args, "version", None):
        cfg.version = args.version
    return cfg


def cmd_train(args: argparse.Namespace) -> int:
    from detectors.data import load_sources
    from detectors.train import train_detector

    _threads(args.threads)
    data = load_sources(args.real, args.fake, seed=args.seed,
                        windows_per_file=args.windows_per_file)
    detector, report = train_detector(data, _train_config(args))
    path = detector.save(args.out)
    print(json.dumps({"model": str(path), **report}))
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    """``detectors probe STEP ...``: the steps of :mod:`detectors.train_probe`."""
    from detectors.train_probe import main as probe_main

    probe_main(list(args.step_args))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from detectors.data import load_sources
    from detectors.detector import Detector
    from detectors.evaluate import evaluate, markdown_table

    _threads(args.threads)
    data = load_sources(args.real, args.fake, seed=args.seed,
                        windows_per_file=args.windows_per_file)
    loso = _train_config(args) if args.loso else None
    if loso is not None:
        loso.max_calibration_clips = args.loso_calibration_clips
    model = Detector.load(args.model)
    if getattr(model, "kind", None) == "i3d-probe":
        raise ValueError("'detectors eval' evaluates the window-CNN detectors (evalkit-detector-2); "
                         "the real-video detector is evaluated leave-one-family-out with "
                         "'detectors probe evaluate'")
    result = evaluate(model, data, loso_config=loso,
                      max_robustness_clips=args.max_robustness_clips)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    table = markdown_table(result)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")
    print(table)
    return 0


# ----------------------------------------------------------------------------------------------
# Parsers
# ----------------------------------------------------------------------------------------------


def _add_detect(sub: Any) -> None:
    p = sub.add_parser("detect", help="is a video AI-generated? (JSON lines: label, evidence, segments)",
                       description="Print one JSON line per file, in the API's response shape: "
                                   "label and the evidence that decided it (C2PA Content "
                                   "Credentials, the evalkit watermark, the classifier), "
                                   "probability, per-window segments. Exit 2 on bad input "
                                   "(checked before the model loads), 1 if a file fails while "
                                   "decoding.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--model", help="detector weights (default: the shipped detector)")
    p.add_argument("--max-frames", type=int, default=None,
                   help="refuse files with more frames (default: no limit; memory does not grow "
                        "with length)")
    p.add_argument("--max-duration-s", type=float, default=None,
                   help="refuse files longer than this (default: no limit)")
    p.add_argument("--c2pa-trust-anchors", default=None, metavar="PEM",
                   help="trusted C2PA root certificates (default: $EVALKIT_C2PA_TRUST_ANCHORS; "
                        "without them a valid signature reads as 'valid', not 'trusted')")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: fastest on shared cores)")
    p.set_defaults(func=cmd_detect)


def _add_serve(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the moderation HTTP API (FastAPI)",
                       description="POST /v1/detect, GET /healthz, GET /v1/models. Set the "
                                   f"environment variable {API_KEY_ENV} to require a Bearer key.")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", help="detector weights (default: the shipped detector)")
    p.add_argument("--api-key-env", default=API_KEY_ENV,
                   help=f"environment variable holding the API key (default {API_KEY_ENV})")
    p.add_argument("--max-upload-mb", type=float, default=64.0)
    p.add_argument("--max-frames", type=int, default=2000)
    p.add_argument("--max-duration-s", type=float, default=300.0)
    p.add_argument("--max-concurrent", type=int, default=2,
                   help="uploads analysed at once (default 2; each needs about 250 MB)")
    p.add_argument("--upload-idle-timeout-s", type=float, default=30.0,
                   help="answer 408 when an upload sends nothing for this long (default 30)")
    p.add_argument("--c2pa-trust-anchors", default=None, metavar="PEM",
                   help="trusted C2PA root certificates (default: $EVALKIT_C2PA_TRUST_ANCHORS)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: fastest on shared cores)")
    p.set_defaults(func=cmd_serve)


def add_detector_commands(subparsers: Any) -> None:
    """Add ``serve`` and ``detect`` to ``evalkit``'s sub-command parsers (from
    ``evalkit.cli.build_parser``)."""
    _add_serve(subparsers)
    _add_detect(subparsers)


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--real", nargs="+", required=True, metavar="DIR",
                   help="folders of real clips (videos and/or .npz shards); one source each")
    p.add_argument("--fake", nargs="+", required=True, metavar="DIR",
                   help="folders of AI-generated clips; one source each")
    p.add_argument("--windows-per-file", type=int, default=8)
    p.add_argument("--spatial-seconds", type=float, default=240.0)
    p.add_argument("--temporal-seconds", type=float, default=240.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="detectors",
                                     description="AI-generated video detection and provenance.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_detect(sub)
    _add_serve(sub)

    p = sub.add_parser("provenance", help="read provenance marks of video files (JSON lines)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_provenance)

    p = sub.add_parser("mark", help="add the provenance label and watermark to a video")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--generator", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--payload", help="32-bit payload, e.g. 0xDEADBEEF (default: a hash)")
    p.add_argument("--crf", type=int, default=18)
    p.set_defaults(func=cmd_mark)

    p = sub.add_parser("make-data", help="build the default training sources")
    p.add_argument("--real-videos", required=True, help="folder of real camera clips")
    p.add_argument("--out", required=True, help="output folder of source folders")
    p.add_argument("--per-file", type=int, default=32)
    p.add_argument("--world", type=int, default=600)
    p.add_argument("--ae-seconds", type=float, default=150.0)
    p.add_argument("--reference-clips", type=int, default=700,
                   help="reference-generator samples (two 8-frame windows each)")
    p.add_argument("--reference-checkpoint", default=None,
                   help="generator checkpoint (default: the shipped one)")
    p.add_argument("--reference-eta", type=float, default=None,
                   help="sampler noise of the reference samples (default: the generator's)")
    p.add_argument("--only", nargs="+", metavar="SOURCE",
                   help="build only these sources (real ones are read back from --out)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_make_data)

    p = sub.add_parser("train", help="train a detector on real and fake folders")
    _data_args(p)
    p.add_argument("--out", required=True, metavar="MODEL", help="weights file to write")
    p.add_argument("--version", default=None,
                   help="model version string (default: the shipped detector's family name)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a window-CNN detector (in-domain, leave-one-out, robustness)")
    _data_args(p)
    p.add_argument("--model", default="evalkit-detector-2",
                   help="detector weights or shipped name (default: evalkit-detector-2)")
    p.add_argument("--out", default="detector_eval.json", help="evaluation JSON")
    p.add_argument("--markdown", help="also write the table as Markdown")
    p.add_argument("--loso", action="store_true",
                   help="retrain once per held-out fake source (uses the --*-seconds budgets)")
    p.add_argument("--loso-calibration-clips", type=int, default=1200,
                   help="calibration clips used by each leave-one-out detector")
    p.add_argument("--max-robustness-clips", type=int,
                   help="score degraded conditions on a random test subset of this size")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("probe", help="the real-video detector: features, leave-one-family-out evaluation, training",
                       description="Steps of detectors/train_probe.py: 'features', 'evaluate', 'train' "
                                   "(see 'detectors probe STEP --help').")
    p.add_argument("step_args", nargs=argparse.REMAINDER, metavar="STEP ...")
    p.set_defaults(func=cmd_probe)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="detectors: %(message)s", stream=sys.stderr)
    from evalkit.errors import EvalkitError

    try:
        return int(args.func(args))
    except (EvalkitError, FileNotFoundError, ValueError) as exc:
        print(f"detectors: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
