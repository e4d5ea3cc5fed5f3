"""Temporal detector: a 3D CNN on how frames change.

Inputs are turned into three motion-residual channels per time step (luma only):
first-order difference ``g[t+1] - g[t]``, second-order difference
``g[t+1] - 2 g[t] + g[t-1]`` and the spatial high-pass of ``g[t]``. Interpolated or decoded
frames change too smoothly (or in lock-step with the decoder's texture), which these channels
expose; a small 3D CNN reads them.

Shapes: clips ``(B, 3, T, H, W)`` in ``[0, 1]``, ``T >= 3`` → features ``(B, 3, T-2, H, W)`` →
logits ``(B,)``.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn as nn

from detectors.models.spatial import highpass

__all__ = ["TemporalConfig", "TEMPORAL_CONFIGS", "TemporalResidual3D", "motion_residuals"]


@dataclasses.dataclass(frozen=True)
class TemporalConfig:
    """``widths``: channels of the 3D stages (each halves H and W; the last also halves T);
    ``gain``: scale of the residual inputs."""

    name: str
    stem: int = 16
    widths: tuple[int, ...] = (32, 48, 64)
    gain: float = 8.0


TEMPORAL_CONFIGS: dict[str, TemporalConfig] = {
    "TRes3D-S": TemporalConfig("TRes3D-S"),
}


def motion_residuals(clips: torch.Tensor) -> torch.Tensor:
    """``(B, 3, T, H, W)`` RGB in [0, 1] → ``(B, 3, T-2, H, W)``: [d1, d2, spatial high-pass]
    of the luma at times ``1 .. T-2``."""
    g = 0.299 * clips[:, 0] + 0.587 * clips[:, 1] + 0.114 * clips[:, 2]  # (B, T, H, W)
    d1 = g[:, 2:] - g[:, 1:-1]
    d2 = g[:, 2:] - 2 * g[:, 1:-1] + g[:, :-2]
    hp = highpass(g[:, 1:-1])
    return torch.stack([d1, d2, hp], dim=1)


def _block3d(c_in: int, c_out: int, stride: tuple[int, int, int]) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm3d(c_out), nn.GELU())


class TemporalResidual3D(nn.Module):
    """3D CNN on motion residuals (see module docstring)."""

    def __init__(self, config: TemporalConfig) -> None:
        super().__init__()
        self.config = config
        layers = [_block3d(3, config.stem, (1, 1, 1))]
        c = config.stem
        for i, w in enumerate(config.widths):
            st = 2 if i == len(config.widths) - 1 else 1
            layers += [_block3d(c, w, (st, 2, 2))]
            c = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * c, 1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` in [0, 1] → ``(B,)`` logits."""
        h = self.body(motion_residuals(clips) * self.config.gain)
        pooled = torch.cat([h.mean(dim=(2, 3, 4)), h.flatten(2).std(dim=2)], dim=1)
        return self.head(pooled).squeeze(1)
