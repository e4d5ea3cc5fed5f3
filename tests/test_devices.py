"""device: auto and the mixed-precision policy (evalkit.devices)."""

from __future__ import annotations

import pytest
import torch

from evalkit.devices import metric_device, resolve_device, resolve_dtype


def test_auto_is_the_cpu_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu") == resolve_device(None)
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    with pytest.raises(ValueError, match="device 'cuda': this torch build sees no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="device 'gpu0' is not a torch device"):
        resolve_device("gpu0")


def test_auto_picks_the_gpu_and_half_precision_for_generators_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
        _check_gpu_policy(monkeypatch)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _check_gpu_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device("auto") == torch.device("cuda")
    with pytest.raises(ValueError, match="only 1 CUDA GPU"):
        resolve_device("cuda:1")
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_dtype("auto", cuda) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_dtype("auto", cuda) == torch.float16
    assert resolve_dtype("float32", cuda) == torch.float32
    # metrics: float32 for real, no TF32 convolutions or matmuls
    assert metric_device("auto") == "cuda"
    assert torch.backends.cudnn.allow_tf32 is False
    assert torch.backends.cuda.matmul.allow_tf32 is False


def test_metric_options_default_to_auto() -> None:
    from evalkit.metrics.clip_score import ClipScore
    from evalkit.metrics.evaluator import Alignment, RPrecision
    from evalkit.metrics.fvd import FVD, KVD

    for cls in (FVD, KVD, ClipScore, Alignment, RPrecision):
        assert cls().options.device == "auto", cls.name
