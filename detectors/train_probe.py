"""Train and evaluate the real-video detector (``evalkit-detector-3``): I3D features + linear probe.

Three steps, each resumable from its cache::

    python -m detectors.train_probe features --data ../shared/data --cache runs/probe_cache
    python -m detectors.train_probe evaluate --cache runs/probe_cache --out detectors/weights/detector_v3_eval.json
    python -m detectors.train_probe train --cache runs/probe_cache --out detectors/weights/detector_v3.pt

or all three in one command (``reproduce``: the same steps and defaults, the outputs in one folder)::

    python -m detectors.train_probe reproduce --data ../shared/data --cache runs/probe_cache --out-dir runs/detector_v3

**Data.** The manifests of ``ai_videos_train`` (label 1, grouped by generator family) and
``real_videos`` + ``real_videos_extra`` (label 0, grouped by source repository); or your own
folders, ``--real DIR... --fake DIR...`` (a sub-folder is a family or a source, see
:func:`list_folder_clips`). Every clip gives
up to ``--windows`` normalised windows (:mod:`detectors.probe`); each window is also seen through
``--augment`` random degradations drawn for both classes alike (H.264 CRF 18-40, a GIF palette,
halving the size, blur), so that none of them can carry the label.

**Evaluation** (``evaluate``), the protocol of the field:

- *leave one family out*: for each generator family, a probe trained on every other family and
  on the real clips outside one held-out fold of real sources is tested on the family's clips
  against that fold's real clips (clean windows; a clip scores the mean logit of its windows);
  because one fold holds only 8-29 real clips, each family is also tested against every other
  fold of real sources (by a probe trained without the family and that fold), and the mean AUC
  over the folds is reported beside it (``auc_all_real_folds``);
- calibration and thresholds of each such probe come from an inner split of its own training
  data (grouped 4-fold out-of-fold logits), never from the test clips;
- *real sources held out*: each fold of real sources is scored by a probe that never saw it; the
  share labelled ``ai_generated`` is the false-positive rate on unseen cameras, also after
  converting those clips to 8 fps 256 x 256 GIFs;
- robustness: the same held-out scores after H.264 CRF 23/28/35, halving the size, a GIF palette
  and a 75 % centre crop of the original clip.

**Training** (``train``): all the data, L2 strength and thresholds from the grouped out-of-fold
logits, Platt calibration on them; the file holds the probe (a few hundred kB), the thresholds
and the training facts.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import io
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("detectors.train_probe")

AI_FOLDER, REAL_FOLDERS = "ai_videos_train", ("real_videos", "real_videos_extra")


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ClipEntry:
    path: str
    label: int
    group: str  # generator family (AI) or source repository (real)
    clip_id: str


def list_clips(data: Path) -> list[ClipEntry]:
    """Every clip of the three manifests, with its label and group."""
    out = []
    for folder, label in ((AI_FOLDER, 1), *((f, 0) for f in REAL_FOLDERS)):
        manifest = data / folder / "manifest.tsv"
        if not manifest.is_file():
            raise FileNotFoundError(f"manifest not found: {manifest}")
        with open(manifest, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                group = row.get("family") or row["file"].split("/")[0]
                out.append(ClipEntry(str(data / folder / row["file"]), label, f"{folder}:{group}" if label == 0
                                     else group, f"{folder}/{row['file']}"))
    return out


def list_folder_clips(real: list[Path], fake: list[Path]) -> list[ClipEntry]:
    """Clips of your own folders (``--real DIR... --fake DIR...``): every video under each folder,
    sub-folders included. A clip's group (its generator family, or its camera source, which the
    evaluation holds out together) is its first sub-folder, or the folder itself for files directly
    in it; so ``fake/wan/*.mp4`` and ``fake/cogvideox/*.mp4`` are two families."""
    from evalkit.video import find_videos

    out = []
    for folders, label in ((fake, 1), (real, 0)):
        for folder in folders:
            folder = Path(folder)
            videos = find_videos(folder, recursive=True)
            if not videos:
                raise ValueError(f"no video files in '{folder}'")
            for path in videos:
                rel = path.relative_to(folder)
                group = rel.parts[0] if len(rel.parts) > 1 else folder.resolve().name
                out.append(ClipEntry(str(path), label, group if label == 1 else f"real:{folder.resolve().name}/{group}",
                                     f"{'fake' if label else 'real'}:{path.resolve()}"))
    return out


def _check_groups(labels: np.ndarray, groups: np.ndarray, fakes: int, reals: int, what: str) -> None:
    """A clear error instead of a degenerate split when there are too few groups to hold out
    (training holds groups out for its inner validation, so it needs 2 families; the evaluation
    holds one more out, so 3)."""
    n_fake, n_real = len(set(groups[labels == 1])), len(set(groups[labels == 0]))
    if n_fake < fakes or n_real < reals:
        raise ValueError(f"{what} needs at least {fakes} generator families and {reals} real sources "
                         f"(sub-folders), found {n_fake} and {n_real}")


def gif_palette(window: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Each frame through an adaptive 256-colour palette with Floyd-Steinberg dithering (a GIF)."""
    from PIL import Image

    out = []
    for frame in window:
        img = Image.fromarray(frame).quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                              dither=Image.Dither.FLOYDSTEINBERG)
        out.append(np.asarray(img.convert("RGB")))
    return np.stack(out)


def _h264(window: np.ndarray, crf: int) -> np.ndarray:
    from detectors.degrade import h264

    return h264(window, crf, fps=8.0)


def _half(window: np.ndarray) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(window).permute(0, 3, 1, 2).float()
    small = F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True, align_corners=False)
    back = F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return back.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def random_augment(window: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One random degradation of a normalised window (the same draw for both classes)."""
    from detectors.degrade import gaussian_blur

    kind = rng.choice(["h264", "h264", "gif", "half", "blur"])
    if kind == "h264":
        crf = int(rng.integers(18, 41))
        return _h264(window, crf), f"h264_crf{crf}"
    if kind == "gif":
        return gif_palette(window), "gif"
    if kind == "half":
        return _half(window), "half"
    sigma = float(rng.uniform(0.5, 1.5))
    return gaussian_blur(window, sigma), f"blur{sigma:.1f}"


# Degradations of the original clip for the robustness table (then normalised as usual).
def _clip_condition(name: str) -> Callable[[np.ndarray, float], tuple[np.ndarray, float]]:
    from detectors.degrade import center_crop, h264, resize_factor

    def gif_8fps_256(frames: np.ndarray, fps: float) -> tuple[np.ndarray, float]:
        from detectors.preprocess import area_resize

        step = max(1, int(round(fps / 8.0)))
        return gif_palette(area_resize(frames[::step], 256, 256)), fps / step

    table: dict[str, Callable[[np.ndarray, float], tuple[np.ndarray, float]]] = {
        "h264_crf23": lambda f, r: (h264(f, 23, r), r),
        "h264_crf28": lambda f, r: (h264(f, 28, r), r),
        "h264_crf35": lambda f, r: (h264(f, 35, r), r),
        "resize_0.5": lambda f, r: (resize_factor(f, 0.5), r),
        "crop_0.75": lambda f, r: (center_crop(f, 0.75), r),
        "gif_8fps_256": gif_8fps_256,
    }
    return table[name]


CONDITIONS = ("h264_crf23", "h264_crf28", "h264_crf35", "resize_0.5", "crop_0.75", "gif_8fps_256")


# ----------------------------------------------------------------------------------------------
# Features (cached per clip)
# ----------------------------------------------------------------------------------------------


def _clip_windows(entry: ClipEntry, max_windows: int) -> tuple[list[np.ndarray], float, int]:
    from detectors.probe import read_file_windows, window_plan
    from evalkit.video import VideoFile, probe_video

    info = probe_video(entry.path)
    vf = VideoFile(Path(entry.path))
    total = vf.count_frames()
    plan = window_plan(total, info.fps, max_windows)
    return read_file_windows(vf, info, total, plan), info.fps, total


def _condition_windows(entry: ClipEntry, condition: str) -> list[np.ndarray]:
    """The first window of a degraded copy of the original clip (decoded up to ~3 s)."""
    from detectors.probe import WINDOW, read_windows, window_plan, window_stride
    from evalkit.video import probe_video, read_video

    fps = probe_video(entry.path).fps
    frames = read_video(entry.path, first_frames=(WINDOW - 1) * window_stride(fps) + 1).frames
    frames, fps = _clip_condition(condition)(frames, fps)
    plan = window_plan(len(frames), fps, 1)
    return read_windows(lambda start, stride: frames[start::stride], plan)


def _entries(args: argparse.Namespace) -> list[ClipEntry]:
    """The clips of ``--real``/``--fake`` folders, or of the manifests under ``--data``."""
    if bool(args.real) != bool(args.fake):
        raise ValueError("give both --real and --fake folders (or neither, to read the manifests of --data)")
    return list_folder_clips(args.real, args.fake) if args.real else list_clips(args.data)


def cmd_features(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from detectors.probe import WINDOW, FeatureExtractor

    entries = _entries(args)
    args.cache.mkdir(parents=True, exist_ok=True)
    extractor = FeatureExtractor.from_installed()
    for entry in tqdm(entries, desc="features", unit="clip"):
        key = hashlib.sha1(entry.clip_id.encode()).hexdigest()[:16]
        path = args.cache / f"{key}.npz"
        if path.is_file():
            continue
        rng = np.random.default_rng([args.seed, int(key[:8], 16)])
        windows, fps, total = _clip_windows(entry, args.windows)
        rows, names, index = [], [], []
        for w_i, window in enumerate(windows):
            rows.append(window)
            names.append("clean")
            index.append(w_i)
            # Generated clips are often shorter than a window (padded with their last frame);
            # real windows cut short the same way keep the padding from marking AI clips.
            rows.append(np.concatenate([window[: WINDOW // 2], np.repeat(window[WINDOW // 2 - 1 : WINDOW // 2],
                                                                          WINDOW - WINDOW // 2, axis=0)]))
            names.append("short8")
            index.append(w_i)
            for _ in range(args.augment):
                aug, name = random_augment(window, rng)
                rows.append(aug)
                names.append(name)
                index.append(w_i)
        for condition in CONDITIONS:
            for window in _condition_windows(entry, condition):
                rows.append(window)
                names.append(f"cond:{condition}")
                index.append(0)
        feats = extractor(np.stack(rows))
        np.savez(path, features=feats.astype(np.float32), variant=np.array(names), window=np.array(index),
                 meta=np.array(json.dumps({**dataclasses.asdict(entry), "fps": fps, "frames": total})))


def load_cache(cache: Path) -> dict[str, np.ndarray]:
    """All cached windows as arrays: features, label, group, clip, variant, window."""
    cols: dict[str, list[Any]] = {k: [] for k in ("features", "label", "group", "clip", "variant", "window")}
    for path in sorted(cache.glob("*.npz")):
        with np.load(path, allow_pickle=False) as d:
            meta = json.loads(str(d["meta"]))
            n = len(d["variant"])
            cols["features"].append(d["features"].astype(np.float64))
            cols["variant"] += d["variant"].tolist()
            cols["window"] += d["window"].tolist()
        cols["label"] += [meta["label"]] * n
        cols["group"] += [meta["group"]] * n
        cols["clip"] += [meta["clip_id"]] * n
    if not cols["features"]:
        raise FileNotFoundError(f"no cached features in {cache}; run the 'features' step first")
    return {"features": np.concatenate(cols["features"]), **{k: np.array(v) for k, v in cols.items() if k != "features"}}


# ----------------------------------------------------------------------------------------------
# Scores
# ----------------------------------------------------------------------------------------------


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(-scores)
    hits = labels[order] == 1
    if not hits.any():
        return float("nan")
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def tpr_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr: float) -> float:
    neg = np.sort(scores[labels == 0])[::-1]
    if len(neg) == 0:
        return float("nan")
    k = int(np.floor(fpr * len(neg)))
    threshold = neg[k] if k < len(neg) else -np.inf
    return float((scores[labels == 1] > threshold).mean())


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (probs >= lo) & (probs < hi if hi < 1 else probs <= hi)
        if sel.any():
            total += sel.mean() * abs(probs[sel].mean() - labels[sel].mean())
    return float(total)


# ----------------------------------------------------------------------------------------------
# Fitting with inner validation
# ----------------------------------------------------------------------------------------------


def _clip_logits(probe: Any, data: dict[str, np.ndarray], mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean window logit per clip over the selected rows: (clips, logits, labels)."""
    logits = probe.logit(data["features"][mask])
    clips = data["clip"][mask]
    labels = data["label"][mask]
    uniq, inv = np.unique(clips, return_inverse=True)
    sums = np.bincount(inv, weights=logits)
    counts = np.bincount(inv)
    lab = np.zeros(len(uniq))
    lab[inv] = labels
    return uniq, sums / counts, lab


def _group_folds(groups: np.ndarray, labels: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """k folds of groups, AI families and real sources dealt separately (both in every fold)."""
    rng = np.random.default_rng(seed)
    folds: list[list[str]] = [[] for _ in range(k)]
    for label in (1, 0):
        names = sorted(set(groups[labels == label]))
        for i, name in enumerate(rng.permutation(names)):
            folds[i % k].append(name)
    return [np.array(f) for f in folds]


#: Feature sets the inner validation chooses from (names of :data:`detectors.probe.FEATURE_PARTS`).
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "low": ("i3d_mixed_3c_mean", "i3d_mixed_3c_std", "residual"),
    "mid": ("i3d_mixed_4f_mean", "i3d_mixed_4f_std", "residual"),
    "low+mid": ("i3d_mixed_3c_mean", "i3d_mixed_3c_std", "i3d_mixed_4f_mean", "i3d_mixed_4f_std", "residual"),
    "high": ("i3d_mixed_5c_mean", "i3d_mixed_5c_std", "i3d_logits", "residual"),
}


def fit_with_validation(data: dict[str, np.ndarray], train: np.ndarray, l2_grid: tuple[float, ...],
                        seed: int, inner_k: int = 4,
                        feature_sets: dict[str, tuple[str, ...]] | None = None) -> tuple[Any, dict[str, Any]]:
    """A probe on ``train`` rows (every variant but the robustness conditions), with its feature
    set and L2 strength, Platt calibration and thresholds all chosen on grouped out-of-fold clip
    logits of those same rows (clean windows): the rows it is tested on never choose anything."""
    from detectors.probe import LinearProbe, part_columns

    feature_sets = feature_sets or FEATURE_SETS
    groups, labels = data["group"], data["label"]
    folds = _group_folds(groups[train], labels[train], inner_k, seed)
    variant = data["variant"].astype(str)
    clean = variant == "clean"
    fit_rows = train & ~np.char.startswith(variant, "cond:")  # robustness rows: evaluation only
    best: tuple[float, str, float, np.ndarray, np.ndarray] | None = None
    scores: dict[str, float] = {}
    for set_name, parts in feature_sets.items():
        columns = part_columns(parts)
        for l2 in l2_grid:
            oof_z, oof_y = [], []
            for fold in folds:
                inner = np.isin(groups, fold)
                probe = LinearProbe.fit(data["features"][fit_rows & ~inner], labels[fit_rows & ~inner], l2,
                                        columns=columns)
                _, z, y = _clip_logits(probe, data, train & inner & clean)
                oof_z.append(z)
                oof_y.append(y)
            z, y = np.concatenate(oof_z), np.concatenate(oof_y)
            auc = roc_auc(z, y)
            scores[f"{set_name}/l2={l2:g}"] = round(auc, 4)
            if best is None or auc > best[0]:
                best = (auc, set_name, l2, z, y)
    assert best is not None
    auc, set_name, l2, z, y = best
    probe = LinearProbe.fit(data["features"][fit_rows], labels[fit_rows], l2,
                            columns=part_columns(feature_sets[set_name]))
    probe.fit_platt(z, y)  # out-of-fold logits: calibration never sees its own training clips
    thresholds = choose_thresholds(probe.calibrated(z), y)
    return probe, {"features": set_name, "l2": l2, "validation_auc": auc, "validation_clips": int(len(y)),
                   "validation_grid": scores, "thresholds": thresholds}


def choose_thresholds(probs: np.ndarray, labels: np.ndarray, high_precision_fpr: float = 0.02) -> dict[str, float]:
    """Balanced: the threshold with the best balanced accuracy; high precision: the lowest
    threshold whose false-positive rate on real clips stays at most ``high_precision_fpr``."""
    candidates = np.unique(np.concatenate([probs, [0.5]]))
    def bal(t: float) -> float:
        return 0.5 * ((probs[labels == 1] >= t).mean() + (probs[labels == 0] < t).mean())
    balanced = max(candidates, key=lambda t: (bal(t), -abs(t - 0.5)))
    neg = probs[labels == 0]
    ok = [t for t in candidates if (neg >= t).mean() <= high_precision_fpr]
    high = float(min(ok)) if ok else 1.0
    return {"not_ai_generated_below": float(min(balanced, high)), "ai_generated_at_or_above": float(max(balanced, high)),
            "balanced": float(balanced), "high_precision": high, "high_precision_target_fpr": high_precision_fpr}


def label_of(p: np.ndarray, t: dict[str, float]) -> np.ndarray:
    return np.where(p >= t["ai_generated_at_or_above"], "ai_generated",
                    np.where(p < t["not_ai_generated_below"], "not_ai_generated", "inconclusive"))


# ----------------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------------

L2_GRID = (10.0, 100.0, 1000.0)
VARIANTS = ("clean", *(f"cond:{c}" for c in CONDITIONS))


def _curve(scores: np.ndarray, labels: np.ndarray, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """ROC and PR curves (at most ~200 points) for the leaderboard's Detector page."""
    order = np.argsort(-scores, kind="stable")
    y = labels[order]
    tp, fp = np.cumsum(y == 1), np.cumsum(y == 0)
    tpr, fpr = tp / max(tp[-1], 1), fp / max(fp[-1], 1)
    precision = tp / np.arange(1, len(y) + 1)
    keep = np.unique(np.linspace(0, len(y) - 1, min(len(y), 200)).round().astype(int))
    roc = {"name": name, "auc": roc_auc(scores, labels), "fpr": [0.0, *np.round(fpr[keep], 6).tolist()],
           "tpr": [0.0, *np.round(tpr[keep], 6).tolist()]}
    pr = {"name": name, "ap": average_precision(scores, labels), "recall": np.round(tpr[keep], 6).tolist(),
          "precision": np.round(precision[keep], 6).tolist()}
    return roc, pr


def _summary(p: np.ndarray, z: np.ndarray, y: np.ndarray, t: dict[str, float]) -> dict[str, Any]:
    labels = label_of(p, t)
    out = {"n_fake": int((y == 1).sum()), "n_real": int((y == 0).sum()),
           "auc": roc_auc(z, y), "ap": average_precision(z, y),
           "tpr_at_1pct_fpr": tpr_at_fpr(z, y, 0.01), "tpr_at_5pct_fpr": tpr_at_fpr(z, y, 0.05),
           "ece": ece(p, y)}
    if (y == 1).any() and (y == 0).any():
        out["balanced_accuracy"] = float(0.5 * ((p[y == 1] >= t["balanced"]).mean() + (p[y == 0] < t["balanced"]).mean()))
    if (y == 1).any():
        out["fake_labelled_ai_generated"] = float((labels[y == 1] == "ai_generated").mean())
    if (y == 0).any():
        out["real_labelled_ai_generated"] = float((labels[y == 0] == "ai_generated").mean())
        out["real_labelled_inconclusive"] = float((labels[y == 0] == "inconclusive").mean())
    return out


def _family_auc_per_real_fold(data: dict[str, np.ndarray], family: str, real_folds: list[np.ndarray],
                              paired: int, paired_probe: Any, seed: int) -> list[float]:
    """AUC of ``family``'s clips against each fold of real sources (clean windows), each fold
    scored by a probe trained without the family and that fold (``paired_probe`` for fold
    ``paired``, fitted already). One fold holds 8-29 real clips, so a single fold's AUC moves by
    0.05-0.1 per clip; the mean over all folds uses every real clip."""
    groups, variant = data["group"], data["variant"].astype(str)
    out = []
    for k, fold in enumerate(real_folds):
        test_groups = np.concatenate([[family], fold])
        probe = paired_probe if k == paired else fit_with_validation(
            data, ~np.isin(groups, test_groups), L2_GRID, seed)[0]
        _, z, y = _clip_logits(probe, data, np.isin(groups, test_groups) & (variant == "clean"))
        out.append(roc_auc(z, y))
    return out


def _mean_over(per_family: dict[str, Any], names: list[str], key: str) -> float | None:
    """Mean of ``key`` over the named families that were evaluated (None when none was: a
    user's own folders need not hold the issue's families)."""
    values = [per_family[f][key] for f in names if f in per_family]
    return float(np.mean(values)) if values else None


def cmd_evaluate(args: argparse.Namespace) -> None:
    data = load_cache(args.cache)
    labels, groups, variant = data["label"], data["group"], data["variant"].astype(str)
    _check_groups(labels, groups, 3, args.real_folds, "leave-one-family-out evaluation (--real-folds "
                  f"{args.real_folds})")
    families = sorted(set(groups[labels == 1]))
    real_folds = _group_folds(groups[labels == 0], labels[labels == 0], args.real_folds, args.seed)
    start = time.time()

    # Leave one family out (with one fold of real sources held out beside it).
    rows: list[dict[str, Any]] = []
    per_family: dict[str, Any] = {}
    for i, family in enumerate(families):
        held_real = real_folds[i % len(real_folds)]
        test_groups = np.concatenate([[family], held_real])
        probe, val = fit_with_validation(data, ~np.isin(groups, test_groups), L2_GRID, args.seed)
        fold_aucs = _family_auc_per_real_fold(data, family, real_folds, i % len(real_folds), probe, args.seed)
        t = val["thresholds"]
        for name in VARIANTS:
            _, z, y = _clip_logits(probe, data, np.isin(groups, test_groups) & (variant == name))
            p = probe.calibrated(z)
            rows += [{"family": family, "condition": name.replace("cond:", ""), "z": zz, "p": pp, "y": yy,
                      "label": lab} for zz, pp, yy, lab in zip(z, p, y, label_of(p, t))]
            if name == "clean":
                per_family[family] = {"held_out": family, **_summary(p, z, y, t),
                                      "real_sources": held_real.tolist(),
                                      "auc_all_real_folds": float(np.mean(fold_aucs)),
                                      "auc_per_real_fold": fold_aucs, "features": val["features"],
                                      "l2": val["l2"],
                                      "validation_auc": val["validation_auc"], "thresholds": t}
        log.info("%s: AUC %.3f (%d clips vs %d real), over all real folds %.3f (%s), features %s, l2 %g, "
                 "%.0f s", family, per_family[family]["auc"], per_family[family]["n_fake"],
                 per_family[family]["n_real"], np.mean(fold_aucs), " ".join(f"{a:.2f}" for a in fold_aucs),
                 val["features"], val["l2"], time.time() - start)

    # Unseen cameras: each fold of real sources scored by a probe trained on everything else.
    unseen: list[dict[str, Any]] = []
    for fold in real_folds:
        probe, val = fit_with_validation(data, ~np.isin(groups, fold), L2_GRID, args.seed)
        for name in VARIANTS:
            _, z, _ = _clip_logits(probe, data, np.isin(groups, fold) & (variant == name))
            p = probe.calibrated(z)
            unseen += [{"condition": name.replace("cond:", ""), "p": pp, "label": lab}
                       for pp, lab in zip(p, label_of(p, val["thresholds"]))]
    unseen_table = {}
    for name in VARIANTS:
        cond = name.replace("cond:", "")
        labs = np.array([r["label"] for r in unseen if r["condition"] == cond])
        unseen_table[cond] = {"real_clips": int(len(labs)),
                              "labelled_ai_generated": float((labs == "ai_generated").mean()),
                              "labelled_inconclusive": float((labs == "inconclusive").mean())}

    robustness, roc, pr = [], [], []
    for name in VARIANTS:
        cond = name.replace("cond:", "")
        sel = [r for r in rows if r["condition"] == cond]
        fam_aucs = [roc_auc(np.array([r["z"] for r in sel if r["family"] == f]),
                            np.array([r["y"] for r in sel if r["family"] == f])) for f in families]
        p = np.array([r["p"] for r in sel])
        y = np.array([r["y"] for r in sel])
        lab = np.array([r["label"] for r in sel])
        robustness.append({
            "condition": cond, "mean_lofo_auc": float(np.nanmean(fam_aucs)), "min_lofo_auc": float(np.nanmin(fam_aucs)),
            "pooled_auc": roc_auc(p, y), "fake_labelled_ai_generated": float((lab[y == 1] == "ai_generated").mean()),
            "real_labelled_ai_generated": float((lab[y == 0] == "ai_generated").mean()),
            "ece": ece(p, y), "n": int(len(y))})
        c_roc, c_pr = _curve(p, y, cond)
        roc.append(c_roc)
        pr.append(c_pr)

    aucs = np.array([v["auc"] for v in per_family.values()])
    aucs_all = np.array([v["auc_all_real_folds"] for v in per_family.values()])
    listed = ["show1", "text2video_zero", "vchitect2", "lavie", "seine", "hotshot_xl", "gen_l_video",
              "zeroscope", "runway_gen2", "mimicmotion", "musev", "magicdance", "allegro"]
    result = {
        "model_version": "evalkit-detector-3 (I3D features + linear probe), leave-one-family-out",
        "split": f"leave one generator family out (with one of {len(real_folds)} folds of real sources held "
                 "out beside it); calibration, L2 and thresholds from inner grouped out-of-fold predictions of the "
                 "training data only",
        "families": len(families),
        "mean_lofo_auc": float(aucs.mean()), "min_lofo_auc": float(aucs.min()),
        "families_below_0.70": int((aucs < 0.70).sum()),
        "mean_lofo_auc_13_issue_families": _mean_over(per_family, listed, "auc"),
        "all_real_folds": "each family also tested against every fold of real sources, each time by a probe "
                          "trained without the family and that fold; its AUC is the mean over the folds "
                          "(every real clip counts, not only one fold's)",
        "mean_lofo_auc_all_real_folds": float(aucs_all.mean()), "min_lofo_auc_all_real_folds": float(aucs_all.min()),
        "families_below_0.70_all_real_folds": int((aucs_all < 0.70).sum()),
        "mean_lofo_auc_all_real_folds_13_issue_families": _mean_over(per_family, listed, "auc_all_real_folds"),
        "auc": roc[0]["auc"], "ap": pr[0]["ap"],
        "leave_one_family_out": list(per_family.values()),
        "unseen_real_sources": unseen_table,
        "robustness": robustness,
        "roc": roc, "pr": pr,
        "wall_s": round(time.time() - start, 1),
        "seed": args.seed,
        "command": "python -m detectors.train_probe " + " ".join(args.argv),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=float) + "\n")
    brief = {k: v for k, v in result.items() if k not in ("leave_one_family_out", "roc", "pr")}
    brief["per_family_auc"] = {f: round(v["auc"], 3) for f, v in per_family.items()}
    brief["per_family_auc_all_real_folds"] = {f: round(v["auc_all_real_folds"], 3) for f, v in per_family.items()}
    print(json.dumps(brief, indent=1, default=float))


def cmd_train(args: argparse.Namespace) -> None:
    import torch

    data = load_cache(args.cache)
    _check_groups(data["label"], data["group"], 2, 2, "training (its inner validation holds groups out)")
    train = np.ones(len(data["label"]), dtype=bool)
    probe, val = fit_with_validation(data, train, L2_GRID, args.seed)
    extractor_info = None
    from detectors.probe import FeatureExtractor

    extractor_info = FeatureExtractor.from_installed().weights
    state = {
        "format": 2, "kind": "i3d-probe", "version": args.version, "probe": probe.state(),
        "features": val["features"],
        "thresholds": {k: val["thresholds"][k] for k in ("not_ai_generated_below", "ai_generated_at_or_above")},
        "operating_points": val["thresholds"],
        "info": {"features": val["features"], "l2": val["l2"], "validation_auc": val["validation_auc"],
                 "validation_grid": val["validation_grid"], "clips": int(len(np.unique(data["clip"]))),
                 "windows": int(len(data["label"])), "i3d_weights": extractor_info.describe() if extractor_info else None,
                 "command": "python -m detectors.train_probe " + " ".join(args.argv), "seed": args.seed},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    print(json.dumps({"out": str(args.out), **state["info"], "thresholds": state["operating_points"]}, indent=2))


def cmd_reproduce(args: argparse.Namespace) -> None:
    """``features``, ``evaluate`` and ``train`` in turn, writing ``eval.json`` and ``detector.pt``
    into ``--out-dir`` (the cache is reused where it exists)."""
    entries = _entries(args)  # too few groups is said now, not after an hour of features
    _check_groups(np.array([e.label for e in entries]), np.array([e.group for e in entries]), 3,
                  max(2, args.real_folds), f"leave-one-family-out evaluation (--real-folds {args.real_folds})")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    cmd_features(args)
    cmd_evaluate(argparse.Namespace(**{**vars(args), "out": args.out_dir / "eval.json"}))
    cmd_train(argparse.Namespace(**{**vars(args), "out": args.out_dir / "detector.pt"}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    f, rep = sub.add_parser("features"), sub.add_parser("reproduce", help="features, evaluate and train")
    for p in (f, rep):
        p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
        p.add_argument("--windows", type=int, default=3)
        p.add_argument("--augment", type=int, default=2)
        p.add_argument("--real", type=Path, nargs="+", help="your own camera folders (instead of --data's manifests)")
        p.add_argument("--fake", type=Path, nargs="+", help="your own generated-video folders; a sub-folder is a family")
    for p in (f, sub.add_parser("evaluate"), sub.add_parser("train"), rep):
        p.add_argument("--cache", type=Path, required=True)
        p.add_argument("--seed", type=int, default=0)
    for p in (sub.choices["evaluate"], rep):
        p.add_argument("--real-folds", type=int, default=5)
    ev = sub.choices["evaluate"]
    ev.add_argument("--out", type=Path, default=Path("detectors/weights/detector_v3_eval.json"))
    tr = sub.choices["train"]
    tr.add_argument("--out", type=Path, default=Path("detectors/weights/detector_v3.pt"))
    for p in (tr, rep):
        p.add_argument("--version", default="evalkit-detector-3")
    rep.add_argument("--out-dir", type=Path, required=True, help="where eval.json and detector.pt go")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # recorded in the outputs as the command that made them
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    {"features": cmd_features, "evaluate": cmd_evaluate, "train": cmd_train, "reproduce": cmd_reproduce}[args.step](args)


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as exc:  # bad input: one line, not a traceback
        print(f"train_probe: error: {exc}", file=sys.stderr)
        sys.exit(2)
