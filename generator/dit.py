"""Diffusion transformer on spacetime patches of video latents (DiT with text cross-attention).

Follows facebookresearch/DiT ``models.py``: patch embedding, fixed sin-cos positions, DiT
blocks with adaLN-Zero modulation from (timestep + pooled text), a zero-initialised final
layer, and named sizes (:data:`DiT_models`). Added for text-to-video, as in Sora-style models
(PixArt, Open-Sora): 3D (t, h, w) patches and positions, and cross-attention from every block
to the frozen text encoder's token states.

Shapes (default ``DiT-T/1x4`` on the 16 x 64 x 64 clip's latent):
    x ``(B, 4, 8, 16, 16)`` latent -> patches (1, 4, 4) -> ``(B, 128, 192)`` tokens
    text tokens ``(B, L, 384)``, mask ``(B, L)``, pooled ``(B, 384)``, timestep ``(B,)`` in [0, 1]
    output ``(B, 4, 8, 16, 16)``: the rectified-flow velocity.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["DiT", "DiT_models", "TextCondition", "get_3d_sincos_pos_embed",
           "retarget_temporal_patch"]


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``x (B, N, D)`` * (1 + scale) + shift, with ``shift, scale (B, D)``."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


#################################################################################
#               Embedding Layers for Timesteps and Text Conditioning            #
#################################################################################


class TimestepEmbedder(nn.Module):
    """Scalar timesteps ``(B,)`` in [0, 1] -> ``(B, D)`` (sinusoidal features of 1000 t + MLP)."""

    def __init__(self, hidden_size: int, frequency_embedding_size: int = 256) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size), nn.SiLU(),
            nn.Linear(hidden_size, hidden_size),
        )
        self.frequency_embedding_size = frequency_embedding_size

    @staticmethod
    def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000) -> torch.Tensor:
        """``(B,)`` -> ``(B, dim)`` sinusoidal embedding (as in DiT / GLIDE)."""
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
        args = t[:, None].float() * freqs[None]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.timestep_embedding(1000.0 * t, self.frequency_embedding_size))


class TextEmbedder(nn.Module):
    """Frozen-encoder outputs -> conditioning, with a learned null text for classifier-free guidance.

    ``tokens (B, L, E)``, ``mask (B, L)``, ``pooled (B, E)``, ``drop (B,)`` bool ->
    context ``(B, L, D)``, mask ``(B, L)``, pooled ``(B, D)``. Dropped rows get the null text.
    """

    def __init__(self, text_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.token_proj = nn.Sequential(nn.LayerNorm(text_dim), nn.Linear(text_dim, hidden_size))
        self.pooled_proj = nn.Sequential(nn.Linear(text_dim, hidden_size), nn.SiLU(),
                                         nn.Linear(hidden_size, hidden_size))
        self.null_token = nn.Parameter(torch.randn(text_dim) * 0.02)
        self.null_pooled = nn.Parameter(torch.randn(text_dim) * 0.02)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor,
                drop: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if drop is not None and bool(drop.any()):
            d = drop.view(-1, 1, 1)
            tokens = torch.where(d, self.null_token.expand_as(tokens), tokens)
            first = torch.zeros_like(mask)
            first[:, 0] = True
            mask = torch.where(drop.view(-1, 1), first, mask)
            pooled = torch.where(drop.view(-1, 1), self.null_pooled.expand_as(pooled), pooled)
        return self.token_proj(tokens), mask, self.pooled_proj(pooled)


#################################################################################
#                                 Core DiT Model                                #
#################################################################################


class Attention(nn.Module):
    """Multi-head attention; self-attention when ``context`` is None.

    ``x (B, N, D)``, ``context (B, L, D)``, ``mask (B, L)`` bool (True = attend) -> ``(B, N, D)``.
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def keys_values(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``context (B, L, D)`` -> keys and values, each ``(B, heads, L, D / heads)``."""
        b, n, d = context.shape
        h = self.num_heads
        k, v = self.kv(context).view(b, n, 2, h, d // h).permute(2, 0, 3, 1, 4)
        return k, v

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                mask: torch.Tensor | None = None,
                kv: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """``kv``: :meth:`keys_values` of ``context`` computed beforehand (a sampler reuses the
        text's keys and values at every step)."""
        b, n, d = x.shape
        h = self.num_heads
        q = self.q(x).view(b, n, h, d // h).transpose(1, 2)
        k, v = kv if kv is not None else self.keys_values(x if context is None else context)
        attn_mask = None if mask is None else mask[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class DiTBlock(nn.Module):
    """Self-attention and MLP with adaLN-Zero conditioning, plus cross-attention to the text.

    ``x (B, N, D)``, ``c (B, D)``, ``context (B, L, D)``, ``mask (B, L)`` -> ``(B, N, D)``.
    """

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden_size, num_heads)
        self.norm_cross = nn.LayerNorm(hidden_size, eps=1e-6)
        self.cross = Attention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        mlp_hidden = int(hidden_size * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(hidden_size, mlp_hidden), nn.GELU(approximate="tanh"),
                                 nn.Linear(mlp_hidden, hidden_size))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))

    def forward(self, x: torch.Tensor, c: torch.Tensor, context: torch.Tensor,
                mask: torch.Tensor,
                context_kv: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = \
            self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        x = x + self.cross(self.norm_cross(x), context, mask, kv=context_kv)
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x


class FinalLayer(nn.Module):
    """adaLN + linear: ``(B, N, D)`` -> ``(B, N, prod(patch) * C)``."""

    def __init__(self, hidden_size: int, patch_dim: int) -> None:
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden_size, patch_dim)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


@dataclasses.dataclass(frozen=True)
class TextCondition:
    """What the DiT makes of a batch's text, the same at every sampler step.

    Attributes:
        context: ``(B, L, D)`` projected text tokens; mask: ``(B, L)`` bool.
        pooled: ``(B, D)`` projected sentence vector (added to the timestep embedding).
        keys_values: per block, the cross-attention keys and values of ``context``.
    """

    context: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor
    keys_values: tuple[tuple[torch.Tensor, torch.Tensor], ...]


class DiT(nn.Module):
    """Diffusion transformer over (t, h, w) patches of a video latent, conditioned on text.

    Args:
        latent_shape: ``(C, T, H, W)`` of the latent.
        patch: ``(pt, ph, pw)`` patch size; tokens = ``T/pt * H/ph * W/pw``.
        hidden_size, depth, num_heads, mlp_ratio: transformer size.
        text_dim: width of the text encoder's states.
    """

    def __init__(self, latent_shape: tuple[int, int, int, int] = (4, 8, 16, 16),
                 patch: tuple[int, int, int] = (1, 4, 4), hidden_size: int = 192, depth: int = 6,
                 num_heads: int = 3, mlp_ratio: float = 4.0, text_dim: int = 384) -> None:
        super().__init__()
        self.config: dict[str, Any] = dict(latent_shape=tuple(latent_shape), patch=tuple(patch),
                                           hidden_size=hidden_size, depth=depth,
                                           num_heads=num_heads, mlp_ratio=mlp_ratio,
                                           text_dim=text_dim)
        c, t, h, w = latent_shape
        pt, ph, pw = patch
        if t % pt or h % ph or w % pw:
            raise ValueError(f"latent {latent_shape} is not divisible by patch {patch}")
        self.latent_shape, self.patch = tuple(latent_shape), tuple(patch)
        self.grid = (t // pt, h // ph, w // pw)
        self.num_tokens = int(np.prod(self.grid))
        patch_dim = c * pt * ph * pw
        self.x_embedder = nn.Linear(patch_dim, hidden_size)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.text_embedder = TextEmbedder(text_dim, hidden_size)
        self.register_buffer("pos_embed", torch.from_numpy(
            get_3d_sincos_pos_embed(hidden_size, self.grid)).float()[None], persistent=False)
        self.blocks = nn.ModuleList([DiTBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)])
        self.final_layer = FinalLayer(hidden_size, patch_dim)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        def _basic_init(module: nn.Module) -> None:
            if isinstance(module, nn.Linear):
                torch.nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.constant_(module.bias, 0)

        self.apply(_basic_init)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        # Zero-out adaLN modulation layers in DiT blocks (adaLN-Zero):
        for block in self.blocks:
            nn.init.constant_(block.adaLN_modulation[-1].weight, 0)
            nn.init.constant_(block.adaLN_modulation[-1].bias, 0)
            nn.init.constant_(block.cross.proj.weight, 0)  # cross-attention starts as identity
            nn.init.constant_(block.cross.proj.bias, 0)
        # Zero-out output layers:
        nn.init.constant_(self.final_layer.adaLN_modulation[-1].weight, 0)
        nn.init.constant_(self.final_layer.adaLN_modulation[-1].bias, 0)
        nn.init.constant_(self.final_layer.linear.weight, 0)
        nn.init.constant_(self.final_layer.linear.bias, 0)

    # -- patches ---------------------------------------------------------------------------
    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> ``(B, N, pt*ph*pw*C)``, tokens in (t, h, w) raster order."""
        b, c = x.shape[:2]
        (gt, gh, gw), (pt, ph, pw) = self.grid, self.patch
        x = x.reshape(b, c, gt, pt, gh, ph, gw, pw).permute(0, 2, 4, 6, 3, 5, 7, 1)
        return x.reshape(b, gt * gh * gw, pt * ph * pw * c)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, pt*ph*pw*C)`` -> ``(B, C, T, H, W)``."""
        b = x.shape[0]
        c = self.latent_shape[0]
        (gt, gh, gw), (pt, ph, pw) = self.grid, self.patch
        x = x.reshape(b, gt, gh, gw, pt, ph, pw, c).permute(0, 7, 1, 4, 2, 5, 3, 6)
        return x.reshape(b, c, gt * pt, gh * ph, gw * pw)

    def encode_text(self, tokens: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor,
                    drop: torch.Tensor | None = None) -> TextCondition:
        """The text's part of :meth:`forward`, to compute once per batch and reuse at every
        sampler step (``forward(x, t, text=...)``): projections and cross-attention keys and
        values. Same arguments as :meth:`forward`."""
        context, mask, pooled_emb = self.text_embedder(tokens, mask, pooled, drop)
        kv = tuple(block.cross.keys_values(context) for block in self.blocks)
        return TextCondition(context, mask, pooled_emb, kv)

    def forward(self, x: torch.Tensor, t: torch.Tensor, tokens: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, pooled: torch.Tensor | None = None,
                drop: torch.Tensor | None = None, *, text: TextCondition | None = None,
                ) -> torch.Tensor:
        """Velocity ``(B, C, T, H, W)`` for latents ``x`` at times ``t (B,)`` given the text:
        the encoder's ``tokens``, ``mask``, ``pooled`` (and ``drop``), or their
        :meth:`encode_text` as ``text``."""
        if text is None:
            if tokens is None or mask is None or pooled is None:
                raise ValueError("give the text as tokens, mask and pooled, or as text=")
            text = self.encode_text(tokens, mask, pooled, drop)
        h = self.x_embedder(self.patchify(x)) + self.pos_embed
        c = self.t_embedder(t) + text.pooled
        for block, kv in zip(self.blocks, text.keys_values):
            h = block(h, c, text.context, text.mask, kv)
        return self.unpatchify(self.final_layer(h, c))


#################################################################################
#                  Warm start across temporal patch sizes                       #
#################################################################################


def retarget_temporal_patch(state: dict[str, torch.Tensor], src_patch: tuple[int, int, int],
                            dst_patch: tuple[int, int, int], channels: int,
                            ) -> dict[str, torch.Tensor]:
    """A ``src_patch`` model's weights as a ``dst_patch`` model's starting point.

    Only the temporal patch may shrink (``src_pt`` a multiple of ``dst_pt``, same ``ph, pw``):
    every other tensor has the same shape for both. Token features are ordered
    ``(pt, ph, pw, C)`` (:meth:`DiT.patchify`), so the ``src_pt / dst_pt`` temporal slices of
    the patch embedding are summed (a token of one frame embeds like a source token whose
    frames are all that frame) and those of the output layer are averaged (each frame gets the
    mean of the source's per-frame predictions). Training then adapts the rest, including the
    finer temporal positions.
    """
    (spt, sph, spw), (dpt, dph, dpw) = tuple(src_patch), tuple(dst_patch)
    if (sph, spw) != (dph, dpw) or spt % dpt:
        raise ValueError(f"cannot retarget patch {src_patch} to {dst_patch}: only the temporal "
                         "patch may shrink, by an integer factor")
    k, per = spt // dpt, dpt * dph * dpw * channels
    out = dict(state)
    w = state["x_embedder.weight"]  # (D, spt*ph*pw*C)
    out["x_embedder.weight"] = w.view(w.shape[0], k, per).sum(1)
    w = state["final_layer.linear.weight"]  # (spt*ph*pw*C, D)
    out["final_layer.linear.weight"] = w.view(k, per, w.shape[1]).mean(0)
    out["final_layer.linear.bias"] = state["final_layer.linear.bias"].view(k, per).mean(0)
    return out


#################################################################################
#                      Sine/Cosine Positional Embedding Functions               #
#################################################################################


def get_1d_sincos_pos_embed(embed_dim: int, pos: np.ndarray) -> np.ndarray:
    """``(M,)`` positions -> ``(M, embed_dim)`` (embed_dim even)."""
    omega = np.arange(embed_dim // 2, dtype=np.float64) / (embed_dim / 2.0)
    omega = 1.0 / 10000**omega
    out = np.einsum("m,d->md", pos.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def get_3d_sincos_pos_embed(embed_dim: int, grid: tuple[int, int, int]) -> np.ndarray:
    """``(T*H*W, embed_dim)`` sin-cos positions of a (t, h, w) grid in raster order.

    A third of the width (rounded down to even) encodes each axis; leftover columns are zero.
    """
    d = (embed_dim // 3) // 2 * 2
    gt, gh, gw = grid
    tt, hh, ww = np.meshgrid(np.arange(gt), np.arange(gh), np.arange(gw), indexing="ij")
    emb = np.concatenate([get_1d_sincos_pos_embed(d, tt), get_1d_sincos_pos_embed(d, hh),
                          get_1d_sincos_pos_embed(d, ww)], axis=1)
    return np.pad(emb, ((0, 0), (0, embed_dim - 3 * d)))


#################################################################################
#                                   DiT Configs                                 #
#################################################################################


def DiT_S_1x4(**kw: Any) -> DiT:
    return DiT(hidden_size=256, depth=8, num_heads=4, patch=(1, 4, 4), **kw)


def DiT_T_1x4(**kw: Any) -> DiT:
    return DiT(hidden_size=192, depth=6, num_heads=3, patch=(1, 4, 4), **kw)


def DiT_T_2x2(**kw: Any) -> DiT:
    return DiT(hidden_size=192, depth=6, num_heads=3, patch=(2, 2, 2), **kw)


def DiT_T_2x4(**kw: Any) -> DiT:
    return DiT(hidden_size=192, depth=6, num_heads=3, patch=(2, 4, 4), **kw)


def DiT_XT_2x4(**kw: Any) -> DiT:
    return DiT(hidden_size=128, depth=4, num_heads=4, patch=(2, 4, 4), **kw)


def DiT_XT_1x4(**kw: Any) -> DiT:
    return DiT(hidden_size=128, depth=4, num_heads=4, patch=(1, 4, 4), **kw)


#: Named sizes, as DiT's ``DiT_models`` ("name/patch": T x H x W patch of the latent).
DiT_models = {
    "DiT-S/1x4": DiT_S_1x4,
    "DiT-T/1x4": DiT_T_1x4,
    "DiT-T/2x2": DiT_T_2x2,
    "DiT-T/2x4": DiT_T_2x4,
    "DiT-XT/1x4": DiT_XT_1x4,
    "DiT-XT/2x4": DiT_XT_2x4,
}
