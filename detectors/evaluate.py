"""``detectors eval``: the evaluation protocol of a detector on labelled sources.

On the *test* split (groups never seen in training or calibration):

- **in-domain**: all sources, clean;
- **per source**: real test clips against each fake source's test clips;
- **leave-one-fake-source-out** (optional, needs training): for each fake source, a detector
  trained without it, scored on real test clips against that source's test clips;
- **robustness**: every test clip (real and fake) degraded by H.264 CRF 23/28/35, resize x0.5,
  centre crop 75 % and Gaussian blur σ=1 (:data:`detectors.degrade.CONDITIONS`) before the
  detector sees it.

Each row has AUC, AP, accuracy at the 0.5 threshold, TPR at 1 % FPR, ECE and counts. The JSON
matches what the leaderboard's Detector page reads (``roc``/``pr`` curve lists, ``robustness``
rows with ``condition``), and :func:`markdown_table` renders the model-card table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from detectors.data import LabelledClips, split_groups
from detectors.degrade import CONDITIONS, apply_condition
from detectors.detector import Detector
from detectors.preprocess import WORK_SIZE, to_working
from detectors.scores import curve_points, summary

__all__ = ["evaluate", "markdown_table"]

log = logging.getLogger(__name__)


def _degrade_all(clips: np.ndarray, condition: str) -> np.ndarray:
    if condition == "clean":
        return clips
    return np.stack([to_working(apply_condition(c, condition), WORK_SIZE) for c in clips])


def evaluate(detector: Detector, data: LabelledClips, *,
             conditions: Sequence[str] = tuple(CONDITIONS),
             loso_config: Any = None, max_robustness_clips: int | None = None
             ) -> dict[str, Any]:
    """Evaluate ``detector`` on the test split of ``data`` (see module docstring).

    ``loso_config``: a :class:`detectors.train.TrainConfig` to train one detector per held-out
    fake source (skipped when None).
    """
    t0 = time.time()
    split = split_groups(data.groups)
    test = data.subset(split == 2)
    if len(np.unique(test.labels)) < 2:
        raise ValueError("the test split needs real and fake clips")
    fake_sources = sorted(set(test.sources[test.labels == 1]))
    result: dict[str, Any] = {"model_version": detector.version, "split": "test",
                              "threshold": 0.5, "sources": {
                                  s: int((test.sources == s).sum())
                                  for s in sorted(set(test.sources))}}
    roc, pr, robustness = [], [], []
    sub = test
    if max_robustness_clips and len(test) > max_robustness_clips:
        pick = np.random.default_rng(0).choice(len(test), max_robustness_clips, replace=False)
        sub = test.subset(np.sort(pick))
    for condition in conditions:
        part = test if condition == "clean" else sub
        probs = detector.predict_proba(_degrade_all(part.clips, condition))
        row = {"condition": condition, **summary(part.labels, probs)}
        robustness.append(row)
        curves = curve_points(part.labels, probs)
        roc.append({"name": condition, "auc": row["auc"], **curves["roc"]})
        pr.append({"name": condition, "ap": row["ap"], **curves["pr"]})
        if condition == "clean":
            result["in_domain"] = {k: v for k, v in row.items() if k != "condition"}
            result["auc"], result["ap"] = row["auc"], row["ap"]
            real = test.labels == 0
            result["per_source"] = [
                {"source": s, **summary(test.labels[real | (test.sources == s)],
                                        probs[real | (test.sources == s)])}
                for s in fake_sources]
        log.info("%-12s AUC %.4f AP %.4f acc %.3f", condition, row["auc"], row["ap"],
                 row["accuracy"])
    result["robustness"], result["roc"], result["pr"] = robustness, roc, pr
    if loso_config is not None:
        import dataclasses

        from detectors.train import degraded_copies, train_detector

        rows = []
        copies = degraded_copies(data.clips, loso_config.seed)  # shared by the retrainings
        for held in fake_sources:
            cfg = dataclasses.replace(loso_config, exclude_fake_sources=(held,))
            model, _ = train_detector(data, cfg, copies=copies)
            mask = (test.labels == 0) | (test.sources == held)
            probs = model.predict_proba(test.clips[mask])
            rows.append({"held_out": held, **summary(test.labels[mask], probs)})
            log.info("held out %-16s AUC %.4f", held, rows[-1]["auc"])
        result["leave_one_source_out"] = rows
    result["wall_s"] = round(time.time() - t0, 1)
    return result


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def markdown_table(result: dict[str, Any]) -> str:
    """The evaluation as a Markdown table (one row per setting)."""
    cols = ["auc", "ap", "accuracy", "balanced_accuracy", "tpr_at_1pct_fpr", "ece",
            "ece_balanced", "n_real", "n_fake"]
    lines = ["| setting | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]

    def row(name: str, values: dict[str, Any]) -> None:
        lines.append(f"| {name} | " + " | ".join(_fmt(values.get(c)) for c in cols) + " |")

    row("in-domain (all sources)", result["in_domain"])
    for r in result.get("per_source", []):
        row(f"in-domain, fake = {r['source']}", r)
    for r in result.get("leave_one_source_out", []):
        row(f"leave-one-out: {r['held_out']}", r)
    for r in result["robustness"]:
        if r["condition"] != "clean":
            row(f"robustness: {r['condition']}", r)
    return "\n".join(lines)
