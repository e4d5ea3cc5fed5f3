"""``evalkit fvd DIR_A DIR_B``: FVD and KVD between two folders of videos, as one JSON object.

Wired into the main parser with :func:`add_fvd_command`; heavy modules (torch, the backbones,
video decoding) are imported inside the handler only, so ``evalkit --help`` stays fast.

Output (stdout, one line)::

    {"fvd": ..., "kvd": ..., "kvd_std": ..., "n_a": 64, "n_b": 64, "backbone": "evaluator",
     "frames": 16, "resolution": [64, 64], "feature_dim": 256, "frame_sampling": "uniform"}

Exit codes: 0 done; 2 invalid input (missing folder, no videos, unequal N without
``--allow-unequal-n``, missing or mismatched weights, unreadable video), message on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("evalkit")

EXIT_OK, EXIT_USAGE = 0, 2

__all__ = ["add_fvd_command", "cmd_fvd"]


def add_fvd_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``fvd`` subcommand to ``build_parser``'s subparsers; returns its parser."""
    p = subparsers.add_parser(
        "fvd",
        help="FVD and KVD between two folders of videos (prints JSON)",
        description="Fréchet and kernel video distance between the videos of two folders. "
        "Backbone 'evaluator' (default) is bundled and works offline; 'i3d' is the original "
        "FVD network and needs --weights i3d_pretrained_400.pt.",
    )
    p.add_argument("dir_a", type=Path, help="reference videos (the 'real' side)")
    p.add_argument("dir_b", type=Path, help="generated videos")
    p.add_argument("--backbone", choices=("evaluator", "i3d"), default="evaluator")
    p.add_argument("--weights", type=Path, default=None, help="backbone weights (required for i3d)")
    p.add_argument("--allow-unequal-n", action="store_true",
                   help="compute FVD although the folders hold different numbers of videos")
    p.add_argument("--recursive", action="store_true", help="also look in subfolders")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--kvd-subsets", type=int, default=100)
    p.add_argument("--kvd-subset-size", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0, help="seed of the KVD subsets")
    p.set_defaults(func=cmd_fvd)
    return p


def _paths(folder: Path, recursive: bool) -> list[Path]:
    from evalkit.video import find_videos

    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    paths = find_videos(folder, recursive=recursive)
    if len(paths) < 2:
        raise ValueError(f"{folder} holds {len(paths)} videos; FVD needs at least 2 per side")
    return paths


def _compute(args: argparse.Namespace) -> dict[str, Any]:
    from evalkit.metrics.fvd import FrechetVideoDistance
    from evalkit.metrics.video_features.distances import kernel_distance
    from evalkit.video import read_video

    paths_a, paths_b = _paths(args.dir_a, args.recursive), _paths(args.dir_b, args.recursive)
    if len(paths_a) != len(paths_b) and not args.allow_unequal_n:
        raise ValueError(
            f"{args.dir_a} has {len(paths_a)} videos and {args.dir_b} has {len(paths_b)}; FVD is "
            "biased by N: use equal numbers or pass --allow-unequal-n"
        )
    metric = FrechetVideoDistance(backbone=args.backbone, weights=args.weights, device=args.device,
                                  batch_size=args.batch_size, allow_unequal_n=args.allow_unequal_n)
    for paths, real in ((paths_a, True), (paths_b, False)):
        # Decode in chunks so memory holds one chunk of frames, not the whole folder.
        for i in range(0, len(paths), 32):
            metric.update([read_video(p) for p in paths[i : i + 32]], real=real)
        log.info("%s: %d videos", "A" if real else "B", len(paths))
    summary = metric.summary()
    real, fake = metric.features()
    kvd, kvd_std, _ = kernel_distance(real.numpy(), fake.numpy(), args.kvd_subsets, args.kvd_subset_size, args.seed)
    return {
        "fvd": summary["fvd"], "kvd": kvd, "kvd_std": kvd_std,
        "n_a": summary["n_real"], "n_b": summary["n_fake"],
        **{k: summary[k] for k in ("backbone", "frames", "resolution", "feature_dim", "frame_sampling")},
    }


def cmd_fvd(args: argparse.Namespace) -> int:
    """Handler of ``evalkit fvd``: prints one JSON object; returns the exit code."""
    from evalkit.errors import EvalkitError

    try:
        from evalkit.metrics.i3d import I3DCheckpointError

        try:
            result = _compute(args)
        except (FileNotFoundError, I3DCheckpointError, ValueError, EvalkitError) as exc:
            print(f"evalkit: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    except ImportError as exc:  # torch / torchmetrics missing in a slim install
        print(f"evalkit: error: 'evalkit fvd' needs torch and torchmetrics: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(result))
    return EXIT_OK
