"""The ideas tried for the real-video detector after its evaluation existed, and not shipped.

Reproduces the table "More ideas were tried ..." of ``detectors/MODEL_CARD.md``. Two steps::

    python scripts/detector_ideas.py features --data ../shared/data --cache runs/ideas_cache   # ~20 min, 2 cores
    python scripts/detector_ideas.py table --cache runs/ideas_cache --probe-cache runs/probe_cache

``features`` decodes every clip's windows exactly as ``detectors.train_probe features`` does
(up to 3 per clip, plus the ``short8`` copy; no random degradations) and stores per window:

- the shipped detector's 5,091 features (:class:`detectors.probe.FeatureExtractor`);
- ``time_axis`` (21): ReStraV / D3 statistics of the trajectory along I3D's own time axis in
  ``Mixed_3c`` (8 steps), ``Mixed_4f`` (4) and ``Mixed_5c`` (2): step length, its spread,
  curvature, second-order differences, local motion energy;
- ``frame_appearance`` (1,856): the mean over the 16 frames of a **per-frame** encoder's
  ``Mixed_4f`` and ``Mixed_5c`` embeddings. The per-frame encoder is I3D with every 3D kernel
  summed over time (:func:`per_frame_encoder`), which is exactly I3D's response to a still frame;
- ``frame_trajectory`` (21): the ReStraV / D3 statistics of the 16-frame trajectories of that
  encoder's ``Mixed_3c``, ``Mixed_4f`` and ``Mixed_5c`` embeddings.

``table`` scores each idea leave-one-family-out against every fold of real sources (as
``auc_all_real_folds`` of the shipped evaluation), with a fixed feature set and L2 instead of the
inner choice: the rows differ only in the idea. Two ideas need the shipped training rows (with
their random degradations) and read ``--probe-cache``: equal weights per family and source, and
the one-class distance from the real clips.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

log = logging.getLogger("detector_ideas")

BASE = 5091  # detectors.probe.FEATURE_DIM
TIME_AXIS, FRAME_APPEARANCE, FRAME_TRAJECTORY = 21, 832 + 1024, 21


# ----------------------------------------------------------------------------------------------
# A per-frame image encoder from I3D
# ----------------------------------------------------------------------------------------------


def per_frame_encoder(model: nn.Module) -> nn.Module:
    """A copy of a batch-norm-fused :class:`~evalkit.metrics.i3d.InceptionI3d` whose every
    kernel is summed over time (temporal kernel and stride 1). Fed ``(N, 3, 1, H, W)`` (one frame
    each), its endpoints equal the full network's on that frame held still for ever (away from the
    clip's ends): for a constant input a 3D convolution is the 2D one with the summed kernel."""
    from evalkit.metrics.i3d import MaxPool3dSame, Unit3D

    net = copy.deepcopy(model).eval()
    for module in net.modules():
        if isinstance(module, Unit3D):
            if module.bn is not None:
                raise ValueError("fuse the batch norm first (model.fuse_batch_norm_())")
            conv = module.conv3d
            _, kh, kw = conv.kernel_size
            flat = nn.Conv3d(conv.in_channels, conv.out_channels, (1, kh, kw), stride=(1, *conv.stride[1:]),
                             padding=(0, *conv.padding[1:]) if module.pad_in_conv else 0,
                             bias=conv.bias is not None)
            with torch.no_grad():
                flat.weight.copy_(conv.weight.sum(2, keepdim=True))
                if conv.bias is not None:
                    flat.bias.copy_(conv.bias)
            module.conv3d, module.kernel, module.stride = flat, (1, kh, kw), (1, *module.stride[1:])
        elif isinstance(module, MaxPool3dSame):
            module.kernel, module.stride = (1, *module.kernel[1:]), (1, *module.stride[1:])
    return net


# ----------------------------------------------------------------------------------------------
# Trajectory statistics (ReStraV's straightness, D3's second-order differences)
# ----------------------------------------------------------------------------------------------


def trajectory_statistics(emb: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """7 statistics of a trajectory ``(T, C)`` of embeddings (T >= 3): log mean step length
    (relative to the mean norm), its coefficient of variation, log largest step; log mean
    second-order difference and its coefficient of variation; mean and spread of the turning
    angle between consecutive steps."""
    scale = emb.norm(dim=1).mean() + eps
    step = emb[1:] - emb[:-1]
    length = step.norm(dim=1) / scale
    accel = (step[1:] - step[:-1]).norm(dim=1) / scale
    cos = (step[1:] * step[:-1]).sum(1) / (step[1:].norm(dim=1) * step[:-1].norm(dim=1) + eps)
    angle = torch.arccos(cos.clamp(-1, 1))
    return torch.stack([torch.log(length.mean() + eps), length.std() / (length.mean() + eps),
                        torch.log(length.max() + eps), torch.log(accel.mean() + eps),
                        accel.std() / (accel.mean() + eps), angle.mean(), angle.std()])


def time_axis_statistics(block: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Statistics of an I3D block ``(B, C, T, H, W)`` along its time axis → ``(B, k)``: of the
    spatially pooled trajectory (log step length and its spread; with T >= 3 also mean and
    spread of the turning angle, log second-order difference and its spread), the local motion
    energy relative to the block's, and (T >= 3) local second-order energy and the spread of
    motion over positions. 9 + 9 + 3 = 21 over Mixed_3c, Mixed_4f and Mixed_5c; a statistic
    undefined for the block's length is NaN (and dropped by ``table``)."""
    emb = block.mean(dim=(3, 4)).transpose(1, 2)  # (B, T, C)
    scale = emb.norm(dim=2).mean(1, keepdim=True) + eps
    step = emb[:, 1:] - emb[:, :-1]
    length = step.norm(dim=2) / scale
    feats = [torch.log(length.mean(1) + eps), length.std(1) / (length.mean(1) + eps)]
    if step.shape[1] >= 2:
        cos = (step[:, 1:] * step[:, :-1]).sum(2) / (step[:, 1:].norm(dim=2) * step[:, :-1].norm(dim=2) + eps)
        angle = torch.arccos(cos.clamp(-1, 1))
        accel = (step[:, 1:] - step[:, :-1]).norm(dim=2) / scale
        feats += [angle.mean(1), angle.std(1) if angle.shape[1] > 1 else torch.zeros_like(angle[:, 0]),
                  torch.log(accel.mean(1) + eps), accel.std(1) / (accel.mean(1) + eps)]
    local = block[:, :, 1:] - block[:, :, :-1]
    e0, e1 = block.pow(2).mean(dim=(1, 2, 3, 4)), local.pow(2).mean(dim=(1, 2, 3, 4))
    feats.append(torch.log(e1 + eps) - torch.log(e0 + eps))
    if local.shape[2] >= 2:
        local2 = local[:, :, 1:] - local[:, :, :-1]
        feats.append(torch.log(local2.pow(2).mean(dim=(1, 2, 3, 4)) + eps) - torch.log(e1 + eps))
        where = local.pow(2).mean(dim=(1, 2)).flatten(1)  # (B, H*W)
        feats.append(torch.log(where.std(1) + eps) - torch.log(where.mean(1) + eps))
    return torch.stack(feats, 1)


# ----------------------------------------------------------------------------------------------
# features
# ----------------------------------------------------------------------------------------------


def _short8(window: np.ndarray) -> np.ndarray:
    from detectors.probe import WINDOW

    half = WINDOW // 2
    return np.concatenate([window[:half], np.repeat(window[half - 1 : half], WINDOW - half, axis=0)])


@torch.inference_mode()
def window_features(extractor: Any, frame_net: nn.Module, windows: np.ndarray) -> np.ndarray:
    """``(N, 16, 224, 224, 3)`` uint8 → ``(N, 5091 + 21 + 1856 + 21)``: the shipped detector's
    features (:meth:`~detectors.probe.FeatureExtractor.features`), then the ideas', from the same
    I3D pass."""
    out = []
    for window in windows:
        x, ends = extractor.endpoints(window[None])
        parts = [torch.from_numpy(extractor.features(window[None], ends))]
        parts += [time_axis_statistics(ends[n]) for n in ("Mixed_3c", "Mixed_4f", "Mixed_5c")]
        frames = x[0].permute(1, 0, 2, 3).unsqueeze(2)  # (16, 3, 1, H, W): each frame on its own
        per_frame = frame_net.endpoints(frames.contiguous(memory_format=torch.channels_last_3d))
        emb = {n: per_frame[n].mean(dim=(2, 3, 4)) for n in ("Mixed_3c", "Mixed_4f", "Mixed_5c")}  # (16, C)
        parts += [emb["Mixed_4f"].mean(0)[None], emb["Mixed_5c"].mean(0)[None]]
        parts += [trajectory_statistics(emb[n])[None] for n in ("Mixed_3c", "Mixed_4f", "Mixed_5c")]
        out.append(torch.cat([p.double() for p in parts], dim=1).numpy())
    return np.concatenate(out)


def cmd_features(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from detectors.probe import FeatureExtractor
    from detectors.train_probe import _clip_windows, list_clips

    extractor = FeatureExtractor.from_installed()
    frame_net = per_frame_encoder(extractor.model).to(memory_format=torch.channels_last_3d)
    args.cache.mkdir(parents=True, exist_ok=True)
    for entry in tqdm(list_clips(args.data), desc="features", unit="clip"):
        key = hashlib.sha1(entry.clip_id.encode()).hexdigest()[:16]
        path = args.cache / f"{key}.npz"
        if path.is_file():
            continue
        windows, fps, total = _clip_windows(entry, args.windows)
        rows, names, index = [], [], []
        for i, window in enumerate(windows):
            rows += [window, _short8(window)]
            names += ["clean", "short8"]
            index += [i, i]
        feats = window_features(extractor, frame_net, np.stack(rows))
        np.savez(path, features=feats.astype(np.float32), variant=np.array(names), window=np.array(index),
                 meta=np.array(json.dumps({"path": entry.path, "label": entry.label, "group": entry.group,
                                           "clip_id": entry.clip_id, "fps": fps, "frames": total})))


# ----------------------------------------------------------------------------------------------
# table
# ----------------------------------------------------------------------------------------------


def all_fold_aucs(data: dict[str, np.ndarray], fit_rows: np.ndarray, score: Any, seed: int = 0) -> dict[str, float]:
    """Per family: mean AUC over the 5 folds of real sources, each (family, fold) scored by
    ``score(train_mask, test_mask) -> (clip_scores, clip_labels)`` trained without both."""
    from detectors.train_probe import _group_folds, roc_auc

    labels, groups = data["label"], data["group"]
    folds = _group_folds(groups[labels == 0], labels[labels == 0], 5, seed)
    out = {}
    for family in sorted(set(groups[labels == 1])):
        aucs = []
        for fold in folds:
            test = np.isin(groups, np.concatenate([[family], fold]))
            s, y = score(fit_rows & ~test, test & (data["variant"].astype(str) == "clean"))
            aucs.append(roc_auc(s, y))
        out[family] = float(np.mean(aucs))
    return out


def _probe_score(data: dict[str, np.ndarray], columns: np.ndarray, l2: float, balanced: bool = False) -> Any:
    from detectors.probe import LinearProbe
    from detectors.train_probe import _clip_logits

    def score(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        weights = None
        if balanced:  # every family and every real source weighs the same
            _, inverse, counts = np.unique(data["group"][train], return_inverse=True, return_counts=True)
            weights = 1.0 / counts[inverse]
        probe = LinearProbe.fit(data["features"][train], data["label"][train], l2, columns=columns,
                                sample_weight=weights)
        _, z, y = _clip_logits(probe, data, test)
        return z, y
    return score


def _one_class_score(data: dict[str, np.ndarray], columns: np.ndarray, components: int = 64) -> Any:
    def score(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        real = data["features"][train & (data["label"] == 0)][:, columns]
        mean, std = real.mean(0), real.std(0) + 1e-6
        z = (real - mean) / std
        _, s, vt = np.linalg.svd(z, full_matrices=False)
        basis, var = vt[:components], s[:components] ** 2 / len(z)
        rest = (s[components:] ** 2 / len(z)).mean()
        t = (data["features"][test][:, columns] - mean) / std
        p = t @ basis.T
        dist = np.log((p**2 / var).sum(1) + ((t - p @ basis) ** 2).sum(1) / rest)
        clips = data["clip"][test]
        uniq, inv = np.unique(clips, return_inverse=True)
        y = np.zeros(len(uniq))
        y[inv] = data["label"][test]
        return np.bincount(inv, weights=dist) / np.bincount(inv), y
    return score


def cmd_table(args: argparse.Namespace) -> None:
    from detectors.probe import part_columns
    from detectors.train_probe import load_cache

    torch.set_num_threads(args.threads)
    mid = part_columns(("i3d_mixed_4f_mean", "i3d_mixed_4f_std", "residual"))
    residual = part_columns(("residual",))
    data = load_cache(args.cache)
    x = data["features"]
    time_axis = np.arange(BASE, BASE + TIME_AXIS)
    time_axis = time_axis[np.isfinite(x[:, time_axis]).all(0)]  # Mixed_5c's 2 steps leave one undefined
    appearance = np.arange(BASE + TIME_AXIS, BASE + TIME_AXIS + FRAME_APPEARANCE)
    frame_traj = np.arange(BASE + TIME_AXIS + FRAME_APPEARANCE, x.shape[1])
    every = np.ones(len(x), dtype=bool)
    rows: list[tuple[str, Any, dict[str, float]]] = []
    ideas = [
        ("baseline: mid (clean + short8 windows)", mid, 1000.0),
        ("time-axis trajectory statistics + mid", np.r_[mid, time_axis], 1000.0),
        ("time-axis trajectory statistics + residual", np.r_[residual, time_axis], 10.0),
        ("per-frame trajectory statistics + mid", np.r_[mid, frame_traj], 1000.0),
        ("per-frame appearance + residual", np.r_[residual, appearance], 1000.0),
        ("mid + per-frame appearance + per-frame trajectory", np.r_[mid, appearance, frame_traj], 1000.0),
    ]
    start = time.time()
    for name, columns, l2 in ideas:
        rows.append((name, len(columns), all_fold_aucs(data, every, _probe_score(data, columns, l2))))
        log.info("%s: %.0f s", name, time.time() - start)
    if args.probe_cache:
        full = load_cache(args.probe_cache)
        fit = ~np.char.startswith(full["variant"].astype(str), "cond:")
        for name, score in (("baseline: mid (all training rows)", _probe_score(full, mid, 1000.0)),
                            ("every family and source weighted equally", _probe_score(full, mid, 1000.0, True)),
                            ("one-class distance from the real clips (64 components of mid)",
                             _one_class_score(full, mid))):
            rows.append((name, len(mid), all_fold_aucs(full, fit, score)))
            log.info("%s: %.0f s", name, time.time() - start)
    table = []
    for name, n, per in rows:
        v = np.array(list(per.values()))
        table.append({"idea": name, "features": n, "mean_auc": round(float(v.mean()), 3),
                      "min_auc": round(float(v.min()), 3), "hotshot_xl": round(per.get("hotshot_xl", float("nan")), 3),
                      "per_family": {k: round(a, 3) for k, a in per.items()}})
    print("| idea | features | mean AUC (all real folds) | min | Hotshot-XL |\n|---|---:|---:|---:|---:|")
    for r in table:
        print(f"| {r['idea']} | {r['features']} | {r['mean_auc']:.3f} | {r['min_auc']:.3f} | {r['hotshot_xl']:.3f} |")
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(sys.argv), "ideas": table}, indent=1) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    f = sub.add_parser("features")
    f.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    f.add_argument("--windows", type=int, default=3)
    t = sub.add_parser("table")
    t.add_argument("--probe-cache", type=Path, help="the cache of 'detectors probe features' (two more ideas)")
    t.add_argument("--out", type=Path, help="also write the table as JSON")
    t.add_argument("--threads", type=int, default=2)
    for p in (f, t):
        p.add_argument("--cache", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    {"features": cmd_features, "table": cmd_table}[args.step](args)


if __name__ == "__main__":
    main()
