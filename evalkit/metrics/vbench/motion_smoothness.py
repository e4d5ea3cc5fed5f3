"""VBench ``motion_smoothness``: how well AMT-S frame interpolation predicts the dropped frames.

VBench 0.1.5 (``vbench/motion_smoothness.py``), per clip, all frames (RGB uint8):

1. keep the even frames ``0, 2, 4, …``; each becomes ``(1, 3, H, W)`` float in [0, 1]
   (``img2tensor``); pad by replication to multiples of 16 (AMT's ``InputPadder``; ``scale``
   is 1 on a CPU and, on a GPU, VBench's VRAM rule, reproduced in :func:`vram_scale`);
2. for each consecutive pair, AMT-S (``amt-s.pth``) predicts the middle frame at ``embt = 0.5``;
   unpad, back to uint8 by ``(x·255).clip(0, 255).astype(uint8)`` (truncating);
3. the value is ``(255 − mean_i mean|pred_i − frame_{2i+1}|) / 255`` (``cv2.absdiff`` of uint8
   frames), over the predicted frames. The aggregate is the mean over clips.

**AMT's code is not part of evalkit.** AMT (MCG-NKU/AMT) is licensed CC BY-NC 4.0, which this
Apache-2.0 package cannot include. The network is imported at run time from *your* copy of
VBench's vendored AMT (``vbench/third_party/amt`` of ``pip install --no-deps vbench==0.1.5``,
or a VBench checkout): the metric option ``vbench_code`` (the ``vbench`` package folder), else
``$EVALKIT_VBENCH_CODE``, else the installed ``vbench`` package found without importing it.
Only the AMT files are loaded (``vbench/__init__.py``, which needs torchvision and decord, is
not run). Using AMT's code and weights is subject to their licence.

evalkit runs ``batch_size`` frame pairs per AMT call (VBench one); AMT normalises each sample
on its own (instance norm, per-sample mean), so predictions match up to float rounding.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, MetricError
from evalkit.metrics.vbench.common import VBenchDimension, VBenchOptions
from evalkit.metrics.vbench.weights import WeightsUnavailable

__all__ = ["MotionSmoothness", "find_vbench_code", "load_amt_class", "vram_scale"]

_AMT_FILE = Path("third_party") / "amt" / "networks" / "AMT-S.py"


def find_vbench_code(option: str | None) -> Path:
    """The ``vbench`` package folder holding ``third_party/amt`` (see the module docstring).

    Raises:
        WeightsUnavailable: none found (one line: where it looked and what to set).
    """
    tried = []
    for where, value in (("vbench_code", option), ("$EVALKIT_VBENCH_CODE", os.environ.get("EVALKIT_VBENCH_CODE"))):
        if value:
            folder = Path(value).expanduser()
            if (folder / _AMT_FILE).is_file():
                return folder.resolve()
            if (folder / "vbench" / _AMT_FILE).is_file():
                return (folder / "vbench").resolve()
            tried.append(f"{where} '{value}' has no {_AMT_FILE}")
    spec = importlib.util.find_spec("vbench") if "vbench" not in sys.modules else None
    if spec is not None and spec.submodule_search_locations:
        folder = Path(list(spec.submodule_search_locations)[0])
        if (folder / _AMT_FILE).is_file():
            return folder.resolve()
    elif "vbench" in sys.modules and getattr(sys.modules["vbench"], "__path__", None):
        folder = Path(list(sys.modules["vbench"].__path__)[0])
        if (folder / _AMT_FILE).is_file():
            return folder.resolve()
    tried.append("no installed vbench package")
    raise WeightsUnavailable(
        "motion_smoothness needs VBench's copy of AMT's network code (vbench/third_party/amt, "
        "CC BY-NC 4.0, not shipped with evalkit): " + "; ".join(tried) + "; run 'pip install "
        "--no-deps vbench==0.1.5' or set the metric option vbench_code: DIR (the vbench package "
        "folder) or $EVALKIT_VBENCH_CODE")


def load_amt_class(vbench_dir: Path) -> type:
    """AMT-S's ``Model`` class from ``vbench_dir/third_party/amt`` without running
    ``vbench/__init__.py``: the ``vbench`` and ``vbench.third_party`` packages are registered
    as empty namespaces over their folders when the real package is not imported."""
    if "vbench" not in sys.modules:
        for name, folder in (("vbench", vbench_dir), ("vbench.third_party", vbench_dir / "third_party")):
            module = types.ModuleType(name)
            module.__path__ = [str(folder)]  # type: ignore[attr-defined]
            sys.modules[name] = module
    name = "vbench.third_party.amt.networks.AMT_S"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, vbench_dir / _AMT_FILE)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {vbench_dir / _AMT_FILE}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].Model


def vram_scale(device: str, height: int, width: int) -> float:
    """VBench's ``scale``: 1 on a CPU; on a GPU, from its total memory (VBench's anchors:
    1024·512 px per 1500 MiB above 2500 MiB), then snapped to ``1 / floor(16 / sqrt(s)) · 16``."""
    if not device.startswith("cuda"):
        anchor_resolution, anchor_memory, bias, vram = 8192 * 8192, 1, 0, 1
    else:
        import torch

        anchor_resolution, anchor_memory, bias = 1024 * 512, 1500 * 1024**2, 2500 * 1024**2
        vram = torch.cuda.get_device_properties(device).total_memory
    scale = anchor_resolution / (height * width) * np.sqrt((vram - bias) / anchor_memory)
    scale = 1 if scale > 1 else scale
    return float(1 / np.floor(1 / np.sqrt(scale) * 16) * 16)


_MODELS: dict[tuple[str, str, str], Any] = {}


def _load_model(vbench_dir: Path, ckpt: str, device: str) -> Any:
    import torch

    from evalkit.metrics.vbench.weights import verify_sha256

    key = (str(vbench_dir), ckpt, device)
    if key not in _MODELS:
        verify_sha256("amt_s", ckpt)
        model = load_amt_class(vbench_dir)(corr_radius=3, corr_lvls=4, num_flows=3)  # AMT-S.yaml
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(state["state_dict"], strict=True)
        _MODELS[key] = model.to(device).eval()
    return _MODELS[key]


def _pad(x: Any, divisor: int) -> tuple[Any, list[int]]:
    """AMT's ``InputPadder(dims, divisor)``: replicate-pad ``(B, 3, H, W)`` to multiples."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    pad_h = (((h // divisor) + 1) * divisor - h) % divisor
    pad_w = (((w // divisor) + 1) * divisor - w) % divisor
    pads = [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2]
    return F.pad(x, pads, mode="replicate"), pads


class MotionSmoothnessOptions(VBenchOptions):
    amt: str | None = Field(None, description="AMT-S checkpoint amt-s.pth")
    vbench_code: str | None = Field(None, description="the vbench package folder with third_party/amt "
                                                      "(AMT's code, CC BY-NC 4.0, is not shipped)")
    batch_size: int = Field(4, ge=1, description="frame pairs per AMT call")


class MotionSmoothness(VBenchDimension):
    name = "motion_smoothness"
    description = "VBench motion smoothness: AMT-S interpolation of the odd frames, (255 - MAE) / 255"
    primary = "motion_smoothness"
    version = "1"
    Options: ClassVar[type[BaseModel]] = MotionSmoothnessOptions
    backbones: ClassVar[dict[str, str]] = {"amt": "amt_s"}

    @classmethod
    def options_problem(cls, options: dict[str, Any]) -> str | None:
        problem = super().options_problem(options)
        if problem:
            return problem
        try:
            find_vbench_code(options.get("vbench_code"))
        except WeightsUnavailable as exc:
            return str(exc)
        return None

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        import torch

        kept = clip.frames[0::2]
        if kept.shape[0] < 2:
            raise MetricError(f"{self.name} needs at least 3 frames (2 even ones), the clip has "
                              f"{clip.num_frames}")
        device = self.device()
        weights = self.weights("amt")
        if weights.kind != "file":
            raise MetricError(f"AMT-S loads from a .pth file, got {weights.location}")
        model = _load_model(find_vbench_code(self.options.vbench_code), weights.location, device)
        h, w = kept.shape[1:3]
        scale = vram_scale(device, h, w)
        x = torch.from_numpy(np.ascontiguousarray(kept)).permute(0, 3, 1, 2).float() / 255.0
        x, pads = _pad(x, int(16 / scale))
        embt = torch.tensor(1 / 2).float().view(1, 1, 1, 1).to(device)
        preds = []
        with torch.inference_mode():
            for start in range(0, x.shape[0] - 1, self.options.batch_size):
                stop = min(start + self.options.batch_size, x.shape[0] - 1)
                a, b = x[start:stop].to(device), x[start + 1 : stop + 1].to(device)
                out = model(a, b, embt.expand(a.shape[0], 1, 1, 1), scale_factor=scale, eval=True)
                preds.append(out["imgt_pred"].cpu())
        pred = torch.cat(preds)  # (n - 1, 3, H', W')
        pred = pred[..., pads[2] : pred.shape[-2] - pads[3], pads[0] : pred.shape[-1] - pads[1]]
        pred_u8 = (pred * 255.0).permute(0, 2, 3, 1).numpy().clip(0, 255).astype(np.uint8)
        odd = clip.frames[1::2][: pred_u8.shape[0]]
        diffs = [float(np.mean(np.abs(o.astype(np.int16) - p.astype(np.int16)))) for o, p in zip(odd, pred_u8)]
        mae = float(np.mean(np.array(diffs)))
        return {self.name: (255.0 - mae) / 255.0, "mean_abs_diff": mae, "predicted_frames": len(diffs)}
