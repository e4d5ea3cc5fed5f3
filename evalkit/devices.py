"""Where models run: one place that turns a ``device:`` option into a torch device and dtype.

``device: auto`` (the default of generators and metrics that load a network) means the first
CUDA GPU when torch sees one, else Apple's MPS, else the CPU. It is resolved where the model
is loaded, inside the worker that runs it (a Ray task on a GPU node, a local process), never
where the suite is planned.

Mixed precision policy (:func:`resolve_dtype`): metrics run in float32 everywhere, because
their numbers are compared across machines and papers (FVD's Fréchet distance in float16
drifts by more than the 1e-2 its self-check allows); generators take ``dtype: auto``, which is
bfloat16 on a GPU that has it (what today's open video models are trained and released in),
float16 on an older GPU, and float32 on the CPU (where half precision is slower, not faster).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DTypeName = Literal["auto", "float32", "float16", "bfloat16"]

__all__ = ["DTypeName", "metric_device", "resolve_device", "resolve_dtype"]


def resolve_device(spec: str | None = "auto") -> torch.device:
    """``"auto"``/None -> cuda if available, else mps, else cpu; anything else as torch reads it.

    Raises:
        ValueError: a device string torch does not know, or a CUDA device that is absent (one
            line, instead of a CUDA assertion deep inside the first forward pass).
    """
    import torch

    if spec is None or spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device '{spec}' is not a torch device (cpu, cuda, cuda:1, mps, auto)"
                         ) from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device '{spec}': this torch build sees no CUDA GPU "
                             f"(torch {torch.__version__}); use device: auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device '{spec}': only {torch.cuda.device_count()} CUDA GPU(s)")
    return device


def metric_device(spec: str | None = "auto") -> str:
    """The device a metric's network runs on, as a string (``"cpu"``, ``"cuda"``, ...).

    On a CUDA device this also turns TF32 off for cuDNN convolutions and matmuls in this
    process: PyTorch lets cuDNN use TF32 (10-bit mantissa) for float32 convolutions by default
    on Ampere and later, which would make I3D features, and so FVD, depend on the GPU type.
    Metrics are float32, really.
    """
    device = resolve_device(spec)
    if device.type == "cuda":
        import torch

        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    return str(device)


def resolve_dtype(name: DTypeName | str, device: torch.device) -> torch.dtype:
    """The torch dtype for a generator's ``dtype`` option on ``device`` (policy above)."""
    import torch

    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    table = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if name not in table:
        raise ValueError(f"dtype '{name}' is not one of auto, {', '.join(table)}")
    if device.type == "cpu" and name == "float16":
        log.warning("float16 on the CPU is slow and some layers lack it; float32 or bfloat16 "
                    "are the CPU's choices")
    return table[name]
