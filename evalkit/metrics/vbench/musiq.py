"""MUSIQ, the multi-scale image quality transformer (Ke et al., ICCV 2021), for VBench's
``imaging_quality``.

Written for evalkit from the paper and Google's reference implementation
(google-research/musiq, Apache-2.0): an image becomes patches at several scales (the longer side
resized to 224 and 384, plus the original resolution), each 32x32 patch is embedded by a small
ResNet root (weight-standardised convolutions, group norm, TensorFlow "SAME" padding), a
hash-based 10x10 spatial embedding and a scale embedding are added, and a 14-layer transformer's
class token is regressed to a quality score. Parameter names and numerical details (the -1000
attention mask, the padding, the channels-last flattening) follow IQA-PyTorch's PyTorch port, whose
checkpoint VBench downloads (``musiq_spaq_ckpt-358bb6af.pth``), so that file loads as is and the
scores agree (``tests/test_vbench_imaging.py`` runs both); IQA-PyTorch's code is not copied (its
licence is PolyForm Noncommercial).

Shapes: :meth:`MUSIQ.forward` takes float ``(B, 3, H, W)`` in [0, 1] (all the same size) and
returns ``(B,)`` scores (SPAQ: 0..100).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["MUSIQ", "load_musiq", "multiscale_tokens"]

PATCH = 32
HASH_GRID = 10
SCALES = (224, 384)


# ----------------------------------------------------------------------------------------------
# Multi-scale patch tokens
# ----------------------------------------------------------------------------------------------


def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow's "SAME" zero padding (the extra pixel goes bottom/right)."""
    h, w = x.shape[-2:]
    pad_h = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
    pad_w = max((math.ceil(w / stride) - 1) * stride + kernel - w, 0)
    return F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


def _hash_positions(rows: int, cols: int) -> torch.Tensor:
    """``(rows * cols,)`` hashed spatial index in [0, 100): each patch's row and column mapped to
    the 10-cell grid by nearest-neighbour scaling, row-major."""
    grid = torch.arange(HASH_GRID, dtype=torch.float32).view(1, 1, HASH_GRID)
    col = F.interpolate(grid, size=cols, mode="nearest").view(1, cols)
    row = F.interpolate(grid, size=rows, mode="nearest").view(rows, 1)
    return (row * HASH_GRID + col).reshape(-1)


def _scale_tokens(image: torch.Tensor, scale_id: int, max_len: int | None) -> torch.Tensor:
    """``(B, N, 3 * 32 * 32 + 3)``: patches, hashed position, scale id, mask; padded with zero
    tokens (mask 0) or cut to ``max_len`` when given."""
    b = image.shape[0]
    rows, cols = math.ceil(image.shape[-2] / PATCH), math.ceil(image.shape[-1] / PATCH)
    patches = F.unfold(_same_pad(image, PATCH, PATCH), PATCH, stride=PATCH)  # (B, 3*32*32, N)
    n = patches.shape[-1]
    extra = torch.stack([_hash_positions(rows, cols), torch.full((n,), float(scale_id)), torch.ones(n)])
    tokens = torch.cat([patches, extra.to(patches).unsqueeze(0).expand(b, -1, -1)], dim=1)
    if max_len is not None:
        tokens = F.pad(tokens, (0, max(0, max_len - n)))[..., :max_len]
    return tokens.transpose(1, 2)


def multiscale_tokens(x: torch.Tensor) -> torch.Tensor:
    """float ``(B, 3, H, W)`` in [-1, 1] → ``(B, N, 3075)`` tokens: the image with its longer side
    at 224 and at 384 (bicubic, no antialias; each padded to ``ceil(side / 32)²`` tokens), then
    every patch of the original resolution."""
    h, w = x.shape[-2:]
    parts = []
    for scale_id, longer in enumerate(SCALES):
        ratio = longer / max(h, w)
        size = (round(h * ratio), round(w * ratio))
        resized = F.interpolate(x, size=size, mode="bicubic", align_corners=False)
        parts.append(_scale_tokens(resized, scale_id, math.ceil(longer / PATCH) ** 2))
    parts.append(_scale_tokens(x, len(SCALES), None))
    return torch.cat(parts, dim=1)


# ----------------------------------------------------------------------------------------------
# Network
# ----------------------------------------------------------------------------------------------


class StdConv(nn.Conv2d):
    """Convolution with weight standardisation (per output channel, unbiased std, +1e-5) and
    "SAME" padding."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        w = (w - w.mean(dim=(1, 2, 3), keepdim=True)) / (w.std(dim=(1, 2, 3), keepdim=True) + 1e-5)
        return F.conv2d(_same_pad(x, self.kernel_size[0], self.stride[0]), w, self.bias, self.stride)


class Bottleneck(nn.Module):
    """ResNet v2-style bottleneck with group norm: 64 → 256 channels at stride 1."""

    def __init__(self, channels: int, out: int) -> None:
        super().__init__()
        self.conv1, self.gn1 = StdConv(channels, channels, 1, 1, bias=False), nn.GroupNorm(32, channels, eps=1e-4)
        self.conv2, self.gn2 = StdConv(channels, channels, 3, 1, bias=False), nn.GroupNorm(32, channels, eps=1e-4)
        self.conv3, self.gn3 = StdConv(channels, out, 1, 1, bias=False), nn.GroupNorm(32, out, eps=1e-4)
        self.conv_proj, self.gn_proj = StdConv(channels, out, 1, 1, bias=False), nn.GroupNorm(32, out, eps=1e-4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.gn_proj(self.conv_proj(x))
        y = F.relu(self.gn1(self.conv1(x)))
        y = F.relu(self.gn2(self.conv2(y)))
        return F.relu(self.gn3(self.conv3(y)) + skip)


class Attention(nn.Module):
    """Multi-head self-attention; padded tokens are pushed to -1000 before the softmax (as the
    reference), not -inf."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        logits = (q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5
        pair = mask.view(b, 1, n, 1) * mask.view(b, 1, 1, n)
        logits = logits.masked_fill(pair == 0, -1e3)
        return self.out((logits.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, mlp_dim: int, heads: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attention = Attention(dim, heads)
        self.mlp = Mlp(dim, mlp_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class _PositionEmbedding(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.position_emb = nn.Parameter(torch.zeros(1, HASH_GRID * HASH_GRID, dim))


class _ScaleEmbedding(nn.Module):
    def __init__(self, scales: int, dim: int) -> None:
        super().__init__()
        self.scale_emb = nn.Parameter(torch.zeros(scales, dim))


class Encoder(nn.Module):
    def __init__(self, dim: int, mlp_dim: int, heads: int, layers: int, scales: int) -> None:
        super().__init__()
        self.posembed_input = _PositionEmbedding(dim)
        self.scaleembed_input = _ScaleEmbedding(scales, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.encoder_norm = nn.LayerNorm(dim, eps=1e-6)
        self.transformer = nn.ModuleDict({f"encoderblock_{i}": EncoderBlock(dim, mlp_dim, heads) for i in range(layers)})

    def forward(self, x: torch.Tensor, positions: torch.Tensor, scales: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        x = x + self.posembed_input.position_emb[0][positions.long()] + self.scaleembed_input.scale_emb[scales.long()]
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        for block in self.transformer.values():
            x = block(x, mask)
        return self.encoder_norm(x)


class MUSIQ(nn.Module):
    """MUSIQ with one score output (SPAQ, KonIQ, PaQ-2-PiQ checkpoints); see the module docstring."""

    def __init__(self, dim: int = 384, mlp_dim: int = 1152, heads: int = 6, layers: int = 14) -> None:
        super().__init__()
        self.conv_root = StdConv(3, 64, 7, 2, bias=False)
        self.gn_root = nn.GroupNorm(32, 64, eps=1e-6)
        self.block1 = Bottleneck(64, 256)
        self.embedding = nn.Linear(256 * (PATCH // 4) ** 2, dim)
        self.transformer_encoder = Encoder(dim, mlp_dim, heads, layers, len(SCALES) + 1)
        self.head = nn.Linear(dim, 1)

    def embed_patches(self, patches: torch.Tensor) -> torch.Tensor:
        """``(P, 3, 32, 32)`` → ``(P, dim)``: ResNet root (7x7/2, 3x3/2 max pool) and one
        bottleneck, flattened channels-last (the reference is TensorFlow)."""
        x = F.relu(self.gn_root(self.conv_root(patches)))
        x = F.max_pool2d(_same_pad(x, 3, 2), 3, 2)  # zero padding is exact after the ReLU
        x = self.block1(x)
        return self.embedding(x.permute(0, 2, 3, 1).flatten(1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = multiscale_tokens((images - 0.5) * 2)
        b, n, _ = tokens.shape
        patches = tokens[..., :-3].reshape(b * n, 3, PATCH, PATCH)
        x = self.embed_patches(patches).view(b, n, -1)
        x = self.transformer_encoder(x, tokens[..., -3], tokens[..., -2], tokens[..., -1].bool())
        return self.head(x[:, 0]).view(b)


def load_musiq(path: str | Path, device: str = "cpu") -> MUSIQ:
    """MUSIQ from an IQA-PyTorch checkpoint (``musiq_spaq_ckpt-358bb6af.pth``: a state dict,
    possibly with ``module.`` prefixes or under ``params``)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "params" in state and isinstance(state["params"], dict):
        state = state["params"]
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    layers = len({k.split(".")[2] for k in state if k.startswith("transformer_encoder.transformer.")})
    dim = int(state["embedding.weight"].shape[0])
    mlp_dim = int(state["transformer_encoder.transformer.encoderblock_0.mlp.fc1.weight"].shape[0])
    if state["head.weight"].shape[0] != 1:
        raise ValueError(f"{path}: a MUSIQ with {state['head.weight'].shape[0]} outputs (the AVA "
                         "distribution head); imaging_quality uses a one-score checkpoint (SPAQ)")
    model = MUSIQ(dim=dim, mlp_dim=mlp_dim, heads=max(1, dim // 64), layers=layers)
    model.load_state_dict(state, strict=True)
    return model.eval().to(device)
