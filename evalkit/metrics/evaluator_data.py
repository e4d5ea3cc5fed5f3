"""Physics-world clips with prompts, rendered on the fly, for the evaluator's training and tests.

Each example is one scene drawn by :func:`evalkit.world.sample_scene` from the in-distribution
ranges and rendered at the evaluator's size (16 frames, 64 x 64) with its English prompt. A
numpy ``Generator`` is the only randomness, so a seed gives the same examples everywhere.
Training and held-out data use disjoint seed streams (:func:`split_rng`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["split_rng", "world_examples", "distractor_prompts"]

# Offsets of the seed streams: training, held-out evaluation, distractor prompts.
_STREAMS = {"train": 0, "heldout": 1, "distractors": 2}


def split_rng(seed: int, split: str) -> np.random.Generator:
    """An independent generator per (seed, split) so held-out scenes never occur in training."""
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAMS[split]]))


def world_examples(
    rng: np.random.Generator, n: int, frames: int = 16, size: int = 64, **scene_kwargs: Any
) -> tuple[np.ndarray, list[str], list[Any]]:
    """``n`` rendered scenes.

    Returns:
        videos: uint8 ``(n, frames, size, size, 3)``; prompts: ``n`` strings; specs: the
        ``SceneSpec`` of each clip.
    """
    from evalkit.world import IN_DISTRIBUTION, render, sample_scene

    videos = np.empty((n, frames, size, size, 3), dtype=np.uint8)
    prompts, specs = [], []
    for i in range(n):
        spec = sample_scene(rng, IN_DISTRIBUTION, frames=frames, width=size, height=size, **scene_kwargs)
        videos[i] = render(spec, seed=int(rng.integers(2**31))).clip.frames
        prompts.append(spec.prompt)
        specs.append(spec)
    return videos, prompts, specs


def distractor_prompts(true_prompt: str, k: int, seed: int = 0, pool: Sequence[str] | None = None) -> list[str]:
    """``k`` prompts different from ``true_prompt``, the same list for the same arguments.

    Drawn from ``pool`` when given (e.g. the other prompts of an evaluation set), else from
    random world scenes of a fixed stream, so a single clip can be scored on its own.
    """
    candidates: list[str] = []
    seen = {true_prompt}
    if pool is not None:
        order = np.random.default_rng(np.random.SeedSequence([seed, _STREAMS["distractors"]])).permutation(len(pool))
        for i in order:
            if pool[i] not in seen:
                seen.add(pool[i])
                candidates.append(pool[i])
            if len(candidates) == k:
                return candidates
    from evalkit.world import IN_DISTRIBUTION, sample_scene

    rng = split_rng(seed, "distractors")
    for _ in range(100 * k):
        if len(candidates) == k:
            break
        p = sample_scene(rng, IN_DISTRIBUTION).prompt
        if p not in seen:
            seen.add(p)
            candidates.append(p)
    return candidates
