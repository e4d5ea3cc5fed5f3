"""``evalkit fvd`` and ``evalkit fvd-stats``: FVD between folders, reference statistics, self-check.

Wired into the main parser with :func:`add_fvd_command`; heavy modules (torch, the backbones,
video decoding) are imported inside the handlers only, so ``evalkit --help`` stays fast.

- ``evalkit fvd DIR_A DIR_B``: FVD and KVD, one JSON object on stdout::

    {"fvd": ..., "kvd": ..., "kvd_std": ..., "n_a": 64, "n_b": 64, "backbone": "i3d",
     "protocol": "styleganv", "frames": 16, "weights": "i3d-kinetics-400.ckpt",
     "weights_sha256": "af5c50f0...", "fvd_bias_estimate": ..., ...}

  ``DIR_A`` may instead be a statistics file from ``evalkit fvd-stats``.
- ``evalkit fvd-stats DIR -o ref.npz``: the reference statistics of a folder, computed once.
- ``evalkit fvd --check [quick|full]``: reproduce the published anchors (:mod:`.fvd_check`).

Exit codes: 0 done; 1 a self-check missed its anchor; 2 invalid input (missing folder, no
videos, unequal N without ``--allow-unequal-n``, missing or mismatched weights or statistics,
unreadable or too short video), message on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("evalkit")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

__all__ = ["add_fvd_command", "cmd_fvd", "cmd_fvd_stats"]

_PROTOCOLS = ("styleganv", "tf", "cdfvd")  # evalkit.metrics.video_features.protocols.PROTOCOLS


def _add_backbone_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backbone", choices=("i3d", "evaluator"), default="i3d",
                   help="i3d: DeepMind's Kinetics-400 I3D, the FVD papers report (default); "
                        "evaluator: the bundled model, for physics-world clips only")
    p.add_argument("--protocol", choices=_PROTOCOLS, default="styleganv",
                   help="i3d: which public FVD implementation to reproduce (default styleganv)")
    p.add_argument("--frames", type=int, default=16, help="i3d: frames per video (default 16)")
    p.add_argument("--weights", type=Path, default=None,
                   help="backbone weights (default: the installed i3d-kinetics-400.ckpt)")
    p.add_argument("--seed", type=int, default=0, help="seed of random windows (cdfvd) and KVD subsets")
    p.add_argument("--recursive", action="store_true", help="also look in subfolders")
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda, ...")
    p.add_argument("--batch-size", type=int, default=8)


def add_fvd_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``fvd`` and ``fvd-stats`` to ``build_parser``'s subparsers; returns the fvd parser."""
    p = subparsers.add_parser(
        "fvd",
        help="FVD and KVD between two folders of videos (prints JSON)",
        description="Fréchet and kernel video distance between the videos of two folders, with "
        "DeepMind's Kinetics-400 I3D under a named protocol (styleganv, tf, cdfvd). DIR_A may be a "
        "statistics file from 'evalkit fvd-stats'. --check reproduces published FVD numbers.",
    )
    p.add_argument("dir_a", type=Path, nargs="?", help="reference videos (the 'real' side), or a stats file")
    p.add_argument("dir_b", type=Path, nargs="?", help="generated videos")
    _add_backbone_args(p)
    p.add_argument("--allow-unequal-n", action="store_true",
                   help="compute FVD although the two sides hold different numbers of videos")
    p.add_argument("--kvd-subsets", type=int, default=100)
    p.add_argument("--kvd-subset-size", type=int, default=1000)
    p.add_argument("--check", nargs="?", const="full", choices=("quick", "full"), default=None,
                   help="reproduce the published anchors: quick (black vs white, seconds) or full "
                        "(also fvd-comparison's 128 vs 128 random videos, minutes on a CPU)")
    p.set_defaults(func=cmd_fvd)

    s = subparsers.add_parser(
        "fvd-stats",
        help="precompute a reference set's FVD statistics to a file",
        description="Features, mean and covariance of a folder of videos, saved with how they were "
        "made (backbone, protocol, frames, weights sha256), for use as a suite's "
        "'reference: {kind: stats, path: FILE}' or as DIR_A of 'evalkit fvd'.",
    )
    s.add_argument("folder", type=Path, help="reference videos")
    s.add_argument("-o", "--output", type=Path, required=True, help="statistics file to write (.npz)")
    _add_backbone_args(s)
    s.set_defaults(func=cmd_fvd_stats)
    return p


def _paths(folder: Path, recursive: bool) -> list[Path]:
    from evalkit.video import find_videos

    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    paths = find_videos(folder, recursive=recursive)
    if len(paths) < 2:
        raise ValueError(f"{folder} holds {len(paths)} videos; FVD needs at least 2 per side")
    return paths


def _feed(metric: Any, paths: list[Path], real: bool, label: str) -> None:
    """Stream the videos of ``paths`` through the metric's backbone, with a progress bar."""
    from tqdm import tqdm

    from evalkit.video import VideoFile

    step = max(1, getattr(metric.backbone, "batch_size", 8))
    with tqdm(total=len(paths), desc=label, unit="video", file=sys.stderr) as bar:
        for i in range(0, len(paths), step):
            chunk = paths[i : i + step]
            metric.update([VideoFile(p) for p in chunk], real=real)
            bar.update(len(chunk))


def _metric(args: argparse.Namespace, cls: Any, **extra: Any) -> Any:
    return cls(backbone=args.backbone, weights=args.weights, device=args.device, batch_size=args.batch_size,
               protocol=args.protocol, frames=args.frames, seed=args.seed, **extra)


def _compute(args: argparse.Namespace) -> dict[str, Any]:
    from evalkit.metrics.fvd import FrechetVideoDistance
    from evalkit.metrics.video_features.distances import kernel_distance
    from evalkit.metrics.video_features.stats import load_stats

    if args.dir_a is None or args.dir_b is None:
        raise ValueError("give two folders (DIR_A DIR_B), or --check")
    stats = load_stats(args.dir_a) if args.dir_a.is_file() else None
    paths_b = _paths(args.dir_b, args.recursive)
    paths_a = [] if stats else _paths(args.dir_a, args.recursive)
    n_a = stats.n if stats else len(paths_a)
    if n_a != len(paths_b) and not args.allow_unequal_n:
        raise ValueError(
            f"{args.dir_a} has {n_a} videos and {args.dir_b} has {len(paths_b)}; FVD is "
            "biased by N: use equal numbers or pass --allow-unequal-n"
        )
    metric = _metric(args, FrechetVideoDistance, allow_unequal_n=args.allow_unequal_n)
    if stats:
        metric.set_reference(stats)
    else:
        _feed(metric, paths_a, True, "A")
    _feed(metric, paths_b, False, "B")
    summary = metric.summary()
    real, fake = metric.features()
    out: dict[str, Any] = {"fvd": summary["fvd"]}
    if real.shape[0] >= 2:
        kvd, kvd_std, _ = kernel_distance(real.numpy(), fake.numpy(), args.kvd_subsets,
                                          args.kvd_subset_size, args.seed)
        out.update(kvd=kvd, kvd_std=kvd_std)
    out.update(n_a=summary.pop("n_real"), n_b=summary.pop("n_fake"))
    out.update({k: v for k, v in summary.items() if k != "fvd"})
    return out


def _usage_errors() -> tuple[type[BaseException], ...]:
    from evalkit.errors import EvalkitError
    from evalkit.metrics.i3d import I3DCheckpointError

    return FileNotFoundError, I3DCheckpointError, ValueError, EvalkitError


def cmd_fvd(args: argparse.Namespace) -> int:
    """Handler of ``evalkit fvd``: prints JSON; returns the exit code."""
    try:
        errors = _usage_errors()
    except ImportError as exc:  # torch / torchmetrics missing in a slim install
        print(f"evalkit: error: 'evalkit fvd' needs torch and torchmetrics: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.check:
        from evalkit.metrics.fvd_check import run_checks

        try:
            results = run_checks(args.check, args.weights)
        except errors as exc:
            print(f"evalkit: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        for result in results:
            print(json.dumps(result))
        return EXIT_OK if all(r["ok"] for r in results) else EXIT_FAILED
    try:
        result = _compute(args)
    except errors as exc:
        print(f"evalkit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(result))
    return EXIT_OK


def cmd_fvd_stats(args: argparse.Namespace) -> int:
    """Handler of ``evalkit fvd-stats``: writes the file, prints its header as JSON."""
    try:
        errors = _usage_errors()
        from evalkit.metrics.fvd import FrechetVideoDistance
        from evalkit.metrics.video_features.stats import save_stats
    except ImportError as exc:
        print(f"evalkit: error: 'evalkit fvd-stats' needs torch and torchmetrics: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if not args.output.parent.is_dir():
            raise FileNotFoundError(f"output folder does not exist: {args.output.parent}")
        paths = _paths(args.folder, args.recursive)
        metric = _metric(args, FrechetVideoDistance)
        _feed(metric, paths, True, "reference")
        real, _ = metric.features()
        made_by = {k: v for k, v in metric.backbone.describe().items()}
        made_by["source"] = str(args.folder)
        stats = save_stats(args.output, real.numpy(), made_by, metric.backbone.ddof)
    except errors as exc:
        print(f"evalkit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps({"path": str(args.output), **stats.meta}))
    return EXIT_OK
