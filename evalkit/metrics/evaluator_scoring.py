"""Loading the bundled evaluator and scoring with it: embeddings, alignment, retrieval ranks.

:class:`Evaluator` wraps a trained :class:`~evalkit.metrics.evaluator_model.EvaluatorModel`
with the frozen text tower and the preprocessing (16 uniformly spaced frames, bilinear to
64 x 64, ``[-1, 1]``). The maths of the metrics lives here once; the torchmetrics classes and
the evalkit adapters in :mod:`evalkit.metrics.evaluator` only accumulate and report.

- alignment(clip, prompt) = cosine of the unit video and text embeddings, in ``[-1, 1]``.
- retrieval rank of a clip = 1 + the number of candidate prompts scoring strictly above the
  true one (ties count for the true prompt); R-precision@k = mean of ``rank <= k``.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evalkit.metrics.evaluator_model import EvaluatorModel, shared_text_encoder
from evalkit.metrics.video_features.preprocess import VideoInput, to_model_input

log = logging.getLogger(__name__)

__all__ = ["BUNDLED_WEIGHTS", "Evaluator", "load_evaluator", "retrieval_ranks"]

#: The checkpoint trained by ``python -m evalkit.metrics.train_evaluator`` and shipped.
BUNDLED_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "evaluator_v1.pt"


def retrieval_ranks(video_emb: torch.Tensor, candidate_emb: torch.Tensor) -> torch.Tensor:
    """Rank of the true prompt (candidate 0) for each clip.

    Args:
        video_emb: ``(N, D)`` unit vectors.
        candidate_emb: ``(N, K, D)`` unit vectors; ``[:, 0]`` is each clip's own prompt.
    Returns:
        int64 ``(N,)`` ranks in ``1..K``.
    """
    sims = torch.einsum("nd,nkd->nk", video_emb, candidate_emb)
    return 1 + (sims[:, 1:] > sims[:, :1]).sum(dim=1)


class Evaluator:
    """The trained video–text model, ready to score (eval mode, no gradients)."""

    def __init__(self, model: EvaluatorModel, device: str | torch.device = "cpu",
                 batch_size: int = 32, meta: dict[str, Any] | None = None) -> None:
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.batch_size = batch_size
        self.frames = model.config["frames"]
        self.size = model.config["size"]
        self.dim = model.config["embed_dim"]
        self.meta = meta or {}

    def _video_batches(self, videos: VideoInput):
        x = to_model_input(videos, self.frames, self.size, sampling="uniform")
        for i in range(0, x.shape[0], self.batch_size):
            yield x[i : i + self.batch_size].to(self.device)

    @torch.no_grad()
    def video_embeddings(self, videos: VideoInput) -> torch.Tensor:
        """``(N, embed_dim)`` unit vectors."""
        raw = torch.cat([self.model.video(x).float().cpu() for x in self._video_batches(videos)])
        return torch.nn.functional.normalize(raw, dim=-1)

    def video_features(self, videos: VideoInput) -> torch.Tensor:
        """``(N, embed_dim)`` FVD/KVD features: unit embeddings scaled by ``sqrt(embed_dim)``.

        The model only ever compares directions (cosine), so the raw norm carries no meaning;
        the scaling gives coordinates of unit variance on average, and makes KVD's kernel
        ``(x·y / d + 1)^3`` a function of the cosine, ``(cos + 1)^3``, as KID intends.
        """
        return self.video_embeddings(videos) * self.dim**0.5

    @torch.no_grad()
    def text_embeddings(self, prompts: list[str]) -> torch.Tensor:
        """``(N, embed_dim)`` unit vectors for ``N`` prompts."""
        sentence = shared_text_encoder(str(self.device))(prompts).to(self.device)
        return self.model.embed_text(sentence).float().cpu()

    def alignment(self, videos: VideoInput, prompts: list[str]) -> torch.Tensor:
        """``(N,)`` cosine between each clip and its prompt."""
        return (self.video_embeddings(videos) * self.text_embeddings(prompts)).sum(-1)

    def ranks(self, videos: VideoInput, candidates: list[list[str]]) -> torch.Tensor:
        """``(N,)`` rank of ``candidates[i][0]`` among ``candidates[i]`` for clip ``i``."""
        k = len(candidates[0])
        if any(len(c) != k for c in candidates):
            raise ValueError("every clip needs the same number of candidate prompts")
        flat = [p for c in candidates for p in c]
        text = self.text_embeddings(flat).view(len(candidates), k, -1)
        return retrieval_ranks(self.video_embeddings(videos), text)


def _load(path: Path, device: str) -> Evaluator:
    if not path.is_file():
        raise FileNotFoundError(
            f"evaluator weights not found at {path}; train them with "
            "'python -m evalkit.metrics.train_evaluator --out PATH' or pass weights=PATH"
        )
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model = EvaluatorModel(**ckpt["config"])
    model.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    log.info("loaded evaluator weights %s", path)
    return Evaluator(model, device=device, meta=ckpt.get("meta", {}))


@functools.lru_cache(maxsize=4)
def _cached(path: str, device: str) -> Evaluator:
    return _load(Path(path), device)


def load_evaluator(weights: str | Path | None = None, device: str = "cpu") -> Evaluator:
    """The bundled evaluator (or the checkpoint at ``weights``); cached per process."""
    from evalkit.devices import metric_device

    path = Path(weights).expanduser().resolve() if weights else BUNDLED_WEIGHTS
    return _cached(str(path), metric_device(str(device)))


def heldout_r_precision(evaluator: Evaluator, n: int = 512, seed: int = 0, k: int = 32) -> dict[str, float]:
    """Top-1 / top-3 R-precision on ``n`` held-out world clips, ``k`` prompts each.

    The candidates of a clip are its prompt plus ``k - 1`` prompts of other held-out clips.
    """
    from evalkit.metrics.evaluator_data import distractor_prompts, split_rng, world_examples

    videos, prompts, _ = world_examples(split_rng(seed, "heldout"), n)
    candidates = [[p, *distractor_prompts(p, k - 1, seed=i, pool=prompts)] for i, p in enumerate(prompts)]
    ranks = evaluator.ranks(videos, candidates).numpy()
    return {"top1": float(np.mean(ranks <= 1)), "top3": float(np.mean(ranks <= 3)), "n": n, "k": k}
