"""Frame autoencoders that make *fake* training clips (VAE-style round trips of real clips).

Latent video generators decode a latent with a learned decoder; a real clip passed through a
small encoder/decoder pair carries the same decoder fingerprint while keeping the real clip's
content, so a detector trained on such pairs cannot separate the classes by content. Two
decoder families with different upsampling (so leave-one-source-out evaluation means
something):

- ``AE-F4-PS``: 4x downsampling to 4 latent channels, sub-pixel (pixel-shuffle) decoder — the
  upsampling of the reference generator's VAE.
- ``AE-F8-TC``: 8x downsampling to 8 latent channels, transposed-convolution decoder (the
  source of checkerboard artifacts).

Shapes: frames ``(B, 3, 64, 64)`` in ``[0, 1]`` → latent ``(B, z, 64/f, 64/f)`` → frames.
"""

from __future__ import annotations

import dataclasses
import logging

import torch
import torch.nn as nn

__all__ = ["AEConfig", "FrameAutoencoder", "AE_CONFIGS"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class AEConfig:
    """``name``: config name; ``factor``: spatial downsampling (4 or 8); ``latent``: latent
    channels; ``width``: hidden channels; ``decoder``: ``"pixelshuffle"`` or ``"transposed"``."""

    name: str
    factor: int
    latent: int
    width: int
    decoder: str


AE_CONFIGS: dict[str, AEConfig] = {
    "AE-F4-PS": AEConfig("AE-F4-PS", factor=4, latent=4, width=32, decoder="pixelshuffle"),
    "AE-F8-TC": AEConfig("AE-F8-TC", factor=8, latent=8, width=32, decoder="transposed"),
}


class FrameAutoencoder(nn.Module):
    """Per-frame convolutional autoencoder (see module docstring)."""

    def __init__(self, config: AEConfig) -> None:
        super().__init__()
        self.config = config
        c, steps = config.width, {4: 2, 8: 3}[config.factor]
        enc: list[nn.Module] = [nn.Conv2d(3, c, 3, padding=1), nn.GELU()]
        for _ in range(steps):
            enc += [nn.Conv2d(c, c, 4, stride=2, padding=1), nn.GELU()]
        enc += [nn.Conv2d(c, config.latent, 1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(config.latent, c, 3, padding=1), nn.GELU()]
        for _ in range(steps):
            if config.decoder == "pixelshuffle":
                dec += [nn.Conv2d(c, 4 * c, 3, padding=1), nn.PixelShuffle(2), nn.GELU()]
            else:
                dec += [nn.ConvTranspose2d(c, c, 4, stride=2, padding=1), nn.GELU()]
        dec += [nn.Conv2d(c, 3, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` in [0, 1] → ``(B, latent, H/f, W/f)``."""
        return self.encoder(x * 2 - 1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, latent, h, w)`` → ``(B, 3, h*f, w*f)`` in [0, 1]."""
        return torch.sigmoid(self.decoder(z) * 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))
