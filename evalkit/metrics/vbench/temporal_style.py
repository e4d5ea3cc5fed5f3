"""VBench ``temporal_style``: the same ViCLIP clip–prompt cosine as ``overall_consistency``
(:mod:`.overall_consistency`), on VBench's temporal-style prompts (camera motion, slow motion,
time-lapse, ...). VBench 0.1.5's ``vbench/temporal_style.py`` differs from
``overall_consistency.py`` only in the dimension whose prompts it reads."""

from __future__ import annotations

from evalkit.metrics.vbench.overall_consistency import OverallConsistency

__all__ = ["TemporalStyle"]


class TemporalStyle(OverallConsistency):
    name = "temporal_style"
    description = "VBench temporal style: ViCLIP cosine between 8 frames and the prompt"
    primary = "temporal_style"
