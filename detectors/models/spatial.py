"""Spatial detector: a small CNN on the high-pass residuals of single frames.

Generated and decoded frames differ from camera frames mostly in their fine structure (no
sensor noise, decoder upsampling patterns, over-smooth texture). The network sees only the
residual ``x - blur3x3(x)`` of each frame (content is largely removed), and a clip's logit is the
mean of its frames' logits.

Shapes: frames ``(B, 3, H, W)`` in ``[0, 1]`` → logits ``(B,)``; clips ``(B, 3, T, H, W)`` →
``(B,)`` via :meth:`SpatialResidualCNN.forward_clip`.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["SpatialConfig", "SPATIAL_CONFIGS", "SpatialResidualCNN", "highpass"]


@dataclasses.dataclass(frozen=True)
class SpatialConfig:
    """``widths``: channels of the stride-2 stages; ``stem``: channels of the first conv;
    ``residual_gain``: scale of the residual input (residuals are small numbers)."""

    name: str
    stem: int = 24
    widths: tuple[int, ...] = (32, 64, 96)
    residual_gain: float = 8.0


SPATIAL_CONFIGS: dict[str, SpatialConfig] = {
    "SRes-S": SpatialConfig("SRes-S"),
    "SRes-XS": SpatialConfig("SRes-XS", stem=16, widths=(24, 48, 64)),
}


def highpass(x: torch.Tensor) -> torch.Tensor:
    """``x - mean3x3(x)`` per channel (replicate padding), same shape as ``x`` (…, H, W)."""
    shape = x.shape
    flat = x.reshape(-1, 1, shape[-2], shape[-1])
    blur = F.avg_pool2d(F.pad(flat, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return (flat - blur).reshape(shape)


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.GELU())


class SpatialResidualCNN(nn.Module):
    """Frame-level residual CNN (see module docstring)."""

    def __init__(self, config: SpatialConfig) -> None:
        super().__init__()
        self.config = config
        layers = [_block(3, config.stem, 1), _block(config.stem, config.stem, 1)]
        c = config.stem
        for w in config.widths:
            layers += [_block(c, w, 2), _block(w, w, 1)]
            c = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * c, 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` in [0, 1] → ``(B,)`` logits."""
        h = self.body(highpass(frames) * self.config.residual_gain)
        pooled = torch.cat([h.mean(dim=(2, 3)), h.flatten(2).std(dim=2)], dim=1)
        return self.head(pooled).squeeze(1)

    def forward_clip(self, clips: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` → ``(B,)``: mean of the frames' logits."""
        b, c, t, h, w = clips.shape
        frames = clips.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        return self.forward(frames).reshape(b, t).mean(dim=1)
