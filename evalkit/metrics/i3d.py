"""Inception-I3D (Carreira & Zisserman, 2017), the video backbone of the original FVD.

The module tree and parameter names follow the PyTorch port of DeepMind's Kinetics-I3D that
VideoGPT, TATS and cd-fvd load from ``i3d_pretrained_400.pt`` (400 Kinetics classes), so that
file loads into :class:`InceptionI3d` with ``strict=True``::

    Conv3d_1a_7x7.conv3d.weight        (64, 3, 7, 7, 7)
    Conv3d_1a_7x7.bn.{weight,bias,running_mean,running_var}
    Mixed_3b.b0.conv3d.weight          (64, 192, 1, 1, 1)
    Mixed_3b.b1a / b1b / b2a / b2b / b3b .conv3d / .bn ...
    logits.conv3d.weight               (400, 1024, 1, 1, 1)
    logits.conv3d.bias                 (400,)

Weights are never downloaded: the user passes the checkpoint's path to :func:`load_i3d`, which
checks every name and shape and raises :class:`I3DCheckpointError` listing the mismatches.

Numerics that matter for FVD and differ between public copies:

- Padding is TensorFlow ``SAME`` (computed from the input size, asymmetric when odd), for
  convolutions and max-pools alike, as in the TF original.
- Batch-norm epsilon is ``1e-3`` by default (TF Sonnet's value, the one the weights were trained
  with); VideoGPT/TATS's copy uses PyTorch's ``1e-5``. ``bn_eps=1e-5`` reproduces their numbers.
- The head averages ``2 x 7 x 7`` (the whole map for 16 x 224 x 224 input) and then the logits
  over the remaining time steps.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

log = logging.getLogger(__name__)

__all__ = [
    "I3D_configs",
    "I3DCheckpointError",
    "InceptionI3d",
    "check_state_dict",
    "load_i3d",
]

Triple = tuple[int, int, int]


#################################################################################
#                              Padding helpers                                  #
#################################################################################


def _same_padding(size: Sequence[int], kernel: Triple, stride: Triple) -> list[int]:
    """``F.pad`` amounts (W, H, T order) giving TF ``SAME`` output ``ceil(size / stride)``."""
    pads: list[int] = []
    for s, k, st in zip(reversed(size), reversed(kernel), reversed(stride)):
        total = max(k - st, 0) if s % st == 0 else max(k - s % st, 0)
        pads += [total // 2, total - total // 2]
    return pads


#################################################################################
#                                 Building blocks                               #
#################################################################################


class Unit3D(nn.Module):
    """Conv3d (no bias unless the layer has no batch norm) + BatchNorm3d + ReLU, SAME padding.

    Input ``(B, C_in, T, H, W)`` → output ``(B, C_out, ceil(T/st), ceil(H/sh), ceil(W/sw))``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: Triple = (1, 1, 1),
        stride: Triple = (1, 1, 1),
        activation: bool = True,
        batch_norm: bool = True,
        bias: bool = False,
        bn_eps: float = 1e-3,
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.activation = kernel, stride, activation
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride=stride, padding=0, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=bn_eps, momentum=0.01) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, _same_padding(x.shape[2:], self.kernel, self.stride))
        x = self.conv3d(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.activation else x


class MaxPool3dSame(nn.Module):
    """Max-pool with TF ``SAME`` padding (zeros: inputs are post-ReLU, so >= 0)."""

    def __init__(self, kernel: Triple, stride: Triple) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, _same_padding(x.shape[2:], self.kernel, self.stride))
        return F.max_pool3d(x, self.kernel, self.stride)


class InceptionModule(nn.Module):
    """Four branches concatenated on channels: 1x1; 1x1→3x3; 1x1→3x3; maxpool→1x1.

    ``widths = (b0, b1a, b1b, b2a, b2b, b3b)``; output channels ``b0 + b1b + b2b + b3b``.
    """

    def __init__(self, in_channels: int, widths: Sequence[int], bn_eps: float) -> None:
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3b = widths
        self.b0 = Unit3D(in_channels, w0, bn_eps=bn_eps)
        self.b1a = Unit3D(in_channels, w1a, bn_eps=bn_eps)
        self.b1b = Unit3D(w1a, w1b, kernel=(3, 3, 3), bn_eps=bn_eps)
        self.b2a = Unit3D(in_channels, w2a, bn_eps=bn_eps)
        self.b2b = Unit3D(w2a, w2b, kernel=(3, 3, 3), bn_eps=bn_eps)
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, w3b, bn_eps=bn_eps)
        self.out_channels = w0 + w1b + w2b + w3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1
        )


#################################################################################
#                                 Core I3D Model                                #
#################################################################################

# (name, in_channels, widths) of the Inception modules, in forward order; pools sit between.
_MIXED: list[tuple[str, int, tuple[int, ...]]] = [
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
]


class InceptionI3d(nn.Module):
    """Inception-v1 inflated to 3D, with Kinetics-style logits.

    Input: ``(B, 3, T, H, W)`` float RGB in ``[-1, 1]`` (FVD uses ``T = 16``, ``H = W = 224``).
    Output of :meth:`forward`: logits ``(B, num_classes)``, averaged over time.
    """

    def __init__(self, num_classes: int = 400, in_channels: int = 3, bn_eps: float = 1e-3) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.Conv3d_1a_7x7 = Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2), bn_eps=bn_eps)
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64, bn_eps=bn_eps)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3), bn_eps=bn_eps)
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        for name, cin, widths in _MIXED:
            self.add_module(name, InceptionModule(cin, widths, bn_eps))
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.avg_pool = nn.AvgPool3d(kernel_size=(2, 7, 7), stride=(1, 1, 1))
        self.dropout = nn.Dropout(0.5)  # identity in eval mode; kept for the module tree
        self.logits = Unit3D(1024, num_classes, activation=False, batch_norm=False, bias=True)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Mixed_5c output ``(B, 1024, T/8, H/32, W/32)`` for input ``(B, 3, T, H, W)``."""
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(self.MaxPool3d_2a_3x3(self.Conv3d_1a_7x7(x))))
        x = self.MaxPool3d_3a_3x3(x)
        x = self.Mixed_3c(self.Mixed_3b(x))
        x = self.MaxPool3d_4a_3x3(x)
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = getattr(self, name)(x)
        x = self.MaxPool3d_5a_2x2(x)
        return self.Mixed_5c(self.Mixed_5b(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` for input ``(B, 3, T, H, W)`` (``H, W >= 193``)."""
        x = self.features(x)
        if x.shape[-1] < 7 or x.shape[-2] < 7 or x.shape[-3] < 2:
            raise ValueError(
                f"I3D needs at least 9 frames and 193x193 pixels (FVD uses 16x224x224); the "
                f"last feature map is {tuple(x.shape[2:])}, smaller than the 2x7x7 head pool"
            )
        x = self.logits(self.dropout(self.avg_pool(x)))  # (B, classes, T', H', W')
        return x.mean(dim=(3, 4)).mean(dim=2)


#################################################################################
#                          Named configs and checkpoints                        #
#################################################################################

#: Named configurations (as DiT's ``DiT_models``): the Kinetics-400 FVD network.
I3D_configs: dict[str, dict[str, Any]] = {
    "I3D-K400": {"num_classes": 400, "in_channels": 3},
    "I3D-K400-VideoGPT": {"num_classes": 400, "in_channels": 3, "bn_eps": 1e-5},
}


class I3DCheckpointError(ValueError):
    """A state dict does not fit :class:`InceptionI3d` (the message lists every mismatch)."""


# Old checkpoints (PyTorch < 0.4.1) have no BN step counters; they hold no weights, so their
# absence (or presence) never makes a checkpoint wrong.
_OPTIONAL_SUFFIX = "num_batches_tracked"


def _unwrap(state: Any) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint: plain, under ``state_dict``, or DataParallel's."""
    if isinstance(state, nn.Module):
        state = state.state_dict()
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise I3DCheckpointError(f"checkpoint holds a {type(state).__name__}, not a state dict")
    state = dict(state)
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def check_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    """Every mismatch between ``state`` and ``model``: unexpected, wrong shape, then missing."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    unexpected = [f"unexpected: {k} {tuple(getattr(v, 'shape', ()))}" for k, v in state.items() if k not in expected]
    shapes = [
        f"shape: {k} is {tuple(state[k].shape)} in the file, model wants {shape}"
        for k, shape in expected.items() if k in state and tuple(state[k].shape) != shape
    ]
    missing = [
        f"missing: {k} {shape}" for k, shape in expected.items()
        if k not in state and not k.endswith(_OPTIONAL_SUFFIX)
    ]
    return unexpected + shapes + missing


def load_i3d(
    path: str | Path, config: str = "I3D-K400", device: str | torch.device = "cpu", **overrides: Any
) -> InceptionI3d:
    """An :class:`InceptionI3d` in eval mode with the weights of ``path`` (checked, strict).

    Args:
        path: a PyTorch state dict file such as ``i3d_pretrained_400.pt``.
        config: a key of :data:`I3D_configs`.
        overrides: constructor arguments replacing the config's (e.g. ``bn_eps``).
    Raises:
        FileNotFoundError: no file at ``path``.
        I3DCheckpointError: the file is not an I3D state dict of this architecture.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"I3D checkpoint not found: {path}. FVD with backbone 'i3d' needs the Kinetics-400 "
            "state dict used by VideoGPT/TATS/cd-fvd (i3d_pretrained_400.pt); download it once "
            "and pass its path (--weights PATH, or the 'weights' option)."
        )
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, torchscript archives, truncated files
        raise I3DCheckpointError(f"{path} is not a loadable PyTorch state dict: {exc}") from exc
    model = InceptionI3d(**{**I3D_configs[config], **overrides})
    state = _unwrap(raw)
    problems = check_state_dict(model, state)
    if problems:
        counts = {kind: sum(p.startswith(kind) for p in problems) for kind in ("unexpected", "shape", "missing")}
        shown = "\n  ".join(problems[:30])
        more = f"\n  ... and {len(problems) - 30} more" if len(problems) > 30 else ""
        raise I3DCheckpointError(
            f"{path} does not match InceptionI3d ({config}): {len(problems)} mismatches "
            f"({counts['unexpected']} unexpected, {counts['shape']} wrong shape, {counts['missing']} "
            f"missing)\n  {shown}{more}"
        )
    model.load_state_dict(state, strict=False)  # strictness checked above, BN counters optional
    log.info("loaded I3D weights from %s (%d tensors)", path, len(state))
    return model.eval().to(device)
