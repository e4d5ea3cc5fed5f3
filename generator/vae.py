"""Causal video VAE: ``(B, 3, T, H, W)`` pixels <-> ``(B, z, T/2, H/4, W/4)`` latents.

A small KL-regularised autoencoder in the spirit of the causal video VAEs of Open-Sora /
CogVideoX, sized for CPU: 4x spatial and 2x temporal compression, 4 latent channels. Every
temporal convolution is *causal* (pads only the past), so frame ``k`` of the latent depends
only on frames ``<= 2k + 1`` of the video. The heavy convolutions run at the latent
resolution; full resolution is reached with sub-pixel (depth-to-space) layers, which keep the
cost of the 64 x 64 frames low.

Shapes for the default 16 x 64 x 64 clip: video ``(B, 3, 16, 64, 64)`` in ``[-1, 1]`` ->
posterior mean/logvar ``(B, 4, 8, 16, 16)`` -> reconstruction ``(B, 3, 16, 64, 64)``.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

log = logging.getLogger(__name__)

__all__ = ["CausalConv3d", "VideoVAE", "VAE_models", "DiagonalGaussian"]


#################################################################################
#                                 Building blocks                               #
#################################################################################


class CausalConv3d(nn.Module):
    """3D convolution that pads time on the past side only (replicating the first frame).

    ``(B, C_in, T, H, W)`` -> ``(B, C_out, ceil(T / st), H / ss, W / ss)`` for stride
    ``(st, ss, ss)`` and odd spatial kernels.
    """

    def __init__(self, c_in: int, c_out: int, kernel: tuple[int, int, int] = (3, 3, 3),
                 stride: tuple[int, int, int] = (1, 1, 1)) -> None:
        super().__init__()
        kt, kh, kw = kernel
        self.time_pad = kt - 1
        self.space_pad = (kw // 2, kw // 2, kh // 2, kh // 2) if kh > 1 and stride[1] == 1 else (0,) * 4
        self.conv = nn.Conv3d(c_in, c_out, kernel, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.time_pad:
            x = torch.cat([x[:, :, :1].expand(-1, -1, self.time_pad, -1, -1), x], dim=2)
        if any(self.space_pad):
            x = F.pad(x, self.space_pad)
        return self.conv(x)


class ResBlock(nn.Module):
    """Pre-norm residual block of two causal 3x3x3 convolutions, ``(B, C, T, H, W)`` in/out."""

    def __init__(self, c: int, groups: int = 8) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c)
        self.conv1 = CausalConv3d(c, c)
        self.norm2 = nn.GroupNorm(groups, c)
        self.conv2 = CausalConv3d(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


def space_to_depth(x: torch.Tensor, f: int) -> torch.Tensor:
    """``(B, C, T, H, W)`` -> ``(B, C*f*f, T, H/f, W/f)``."""
    b, c, t, h, w = x.shape
    x = x.view(b, c, t, h // f, f, w // f, f).permute(0, 1, 4, 6, 2, 3, 5)
    return x.reshape(b, c * f * f, t, h // f, w // f)


def depth_to_space(x: torch.Tensor, f: int) -> torch.Tensor:
    """``(B, C*f*f, T, H, W)`` -> ``(B, C, T, H*f, W*f)`` (inverse of :func:`space_to_depth`)."""
    b, cff, t, h, w = x.shape
    c = cff // (f * f)
    x = x.view(b, c, f, f, t, h, w).permute(0, 1, 4, 5, 2, 6, 3)
    return x.reshape(b, c, t, h * f, w * f)


def depth_to_time(x: torch.Tensor, f: int) -> torch.Tensor:
    """``(B, C*f, T, H, W)`` -> ``(B, C, T*f, H, W)``: each latent frame becomes ``f`` frames."""
    b, cf, t, h, w = x.shape
    c = cf // f
    return x.view(b, c, f, t, h, w).permute(0, 1, 3, 2, 4, 5).reshape(b, c, t * f, h, w)


class DiagonalGaussian:
    """Posterior ``N(mean, exp(logvar))`` over latents ``(B, z, t, h, w)``."""

    def __init__(self, moments: torch.Tensor) -> None:
        self.mean, logvar = moments.chunk(2, dim=1)
        self.logvar = logvar.clamp(-30.0, 20.0)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(self.mean.shape, generator=generator, dtype=self.mean.dtype)
        return self.mean + (0.5 * self.logvar).exp() * noise

    def kl(self) -> torch.Tensor:
        """``(B,)`` KL divergence to ``N(0, I)``, mean over latent elements."""
        kl = 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar)
        return kl.flatten(1).mean(1)


#################################################################################
#                                   The VAE                                     #
#################################################################################


class VideoVAE(nn.Module):
    """Causal video VAE, 4x space, 2x time (see the module docstring).

    Args:
        z_channels: latent channels.
        width: channels at the latent resolution (the full-res layers use ``width // 4``).
        depth: residual blocks at the latent resolution, in encoder and decoder each.
    """

    time_factor = 2
    space_factor = 4

    def __init__(self, z_channels: int = 4, width: int = 64, depth: int = 1) -> None:
        super().__init__()
        self.config: dict[str, Any] = {"z_channels": z_channels, "width": width, "depth": depth}
        self.z_channels = z_channels
        c1, c2 = width // 4, width // 2
        # -- encoder: 64x64 -> 32x32 (space-to-depth) -> 16x16 and time/2 (strided causal conv)
        self.enc_in = nn.Conv3d(3, c1, (1, 3, 3), padding=(0, 1, 1))               # (c1, T, 64, 64)
        self.enc_down1 = nn.Conv3d(4 * c1, c2, (1, 3, 3), padding=(0, 1, 1))       # (c2, T, 32, 32)
        self.enc_down2 = CausalConv3d(4 * c2, width, (3, 3, 3), stride=(2, 1, 1))  # (w, T/2, 16, 16)
        self.enc_blocks = nn.Sequential(*[ResBlock(width) for _ in range(depth)])
        self.enc_out = nn.Sequential(nn.GroupNorm(8, width), nn.SiLU(),
                                     CausalConv3d(width, 2 * z_channels, (1, 3, 3)))
        # -- decoder: mirror, with depth-to-time / depth-to-space upsampling
        self.dec_in = CausalConv3d(z_channels, width)
        self.dec_blocks = nn.Sequential(*[ResBlock(width) for _ in range(depth)])
        self.dec_norm = nn.GroupNorm(8, width)
        self.dec_up1 = CausalConv3d(width, 2 * 4 * c2)                               # -> (c2, T, 32, 32)
        self.dec_mid = nn.Conv3d(c2, c2, (1, 3, 3), padding=(0, 1, 1))
        self.dec_up2 = nn.Conv3d(c2, 4 * c1, (1, 3, 3), padding=(0, 1, 1))          # -> (c1, T, 64, 64)
        self.dec_out = nn.Conv3d(c1, 3, (1, 3, 3), padding=(0, 1, 1))

    # -- encoder ---------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        """``(B, 3, T, H, W)`` in ``[-1, 1]`` (T even, H and W multiples of 4) -> posterior."""
        h = F.silu(self.enc_in(x))
        h = F.silu(self.enc_down1(space_to_depth(h, 2)))
        h = F.silu(self.enc_down2(space_to_depth(h, 2)))
        h = self.enc_blocks(h)
        return DiagonalGaussian(self.enc_out(h))

    # -- decoder ---------------------------------------------------------------------------
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, z, t, h, w)`` -> ``(B, 3, 2t, 4h, 4w)`` (not clamped; ~[-1, 1])."""
        h = self.dec_in(z)
        h = F.silu(self.dec_norm(self.dec_blocks(h)))
        h = depth_to_space(depth_to_time(self.dec_up1(h), 2), 2)
        h = F.silu(h)
        h = h + F.silu(self.dec_mid(h))
        h = F.silu(depth_to_space(self.dec_up2(h), 2))
        return self.dec_out(h)

    def forward(self, x: torch.Tensor, sample: bool = True) -> tuple[torch.Tensor, DiagonalGaussian]:
        """Reconstruction ``(B, 3, T, H, W)`` and posterior."""
        post = self.encode(x)
        z = post.sample() if sample else post.mean
        return self.decode(z), post


def VAE_S(**kw: Any) -> VideoVAE:
    return VideoVAE(z_channels=4, width=64, depth=1, **kw)


def VAE_XS(**kw: Any) -> VideoVAE:
    return VideoVAE(z_channels=4, width=32, depth=1, **kw)


#: Named sizes, as DiT's ``DiT_models``.
VAE_models = {"VAE-S": VAE_S, "VAE-XS": VAE_XS}
