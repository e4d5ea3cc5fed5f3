"""CLIP loading and the ``torchmetrics`` class :class:`CLIPScoreVideo` (the torch half of
:mod:`evalkit.metrics.clip_score`).

Apart from the suite-facing ``clip_score`` adapter so that listing metrics and validating
suites never import torch or transformers; :mod:`evalkit.metrics.clip_score` re-exports these
names on first use.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics import Metric as TorchMetric
from torchmetrics.utilities import dim_zero_cat

from evalkit.clip import Clip, sample_frames
from evalkit.metrics.clip_score import (_OPENAI_MEAN, _OPENAI_STD, CONVENTION_WEIGHT, DEFAULT_MODEL,
                                        CLIPWeightsUnavailable, Convention)
from evalkit.metrics.video_features.preprocess import VideoInput, as_frame_arrays
from evalkit.progress import quiet_library_bars

__all__ = ["CLIPScoreVideo", "LoadedCLIP", "load_clip"]


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------


def _features(out: Any) -> torch.Tensor:
    """Projected features from ``get_*_features``: a tensor (transformers 4) or an output object."""
    if isinstance(out, torch.Tensor):
        return out
    for name in ("pooler_output", "image_embeds", "text_embeds"):
        value = getattr(out, name, None)
        if isinstance(value, torch.Tensor):
            return value
    raise TypeError(f"cannot find features in {type(out).__name__}")


def _preprocessor_config(name: str, local_files_only: bool | None) -> dict[str, Any]:
    folder = Path(name).expanduser()
    if folder.is_dir():
        path = folder / "preprocessor_config.json"
        return json.loads(path.read_text()) if path.is_file() else {}
    try:
        from transformers.utils import cached_file

        path = cached_file(name, "preprocessor_config.json", local_files_only=bool(local_files_only),
                           _raise_exceptions_for_missing_entries=False)
        return json.loads(Path(path).read_text()) if path else {}
    except Exception:  # no preprocessor file: the model config's size and OpenAI's statistics
        return {}


class LoadedCLIP:
    """A CLIP model, its tokenizer and its image normalisation, in eval mode."""

    def __init__(self, model: Any, tokenizer: Any, pre: dict[str, Any], device: torch.device) -> None:
        self.model, self.tokenizer, self.device = model, tokenizer, device
        size = model.config.vision_config.image_size
        crop = pre.get("crop_size", size)
        self.crop = int(crop.get("height", size) if isinstance(crop, dict) else crop)
        short = pre.get("size", size)
        self.short_side = int(short.get("shortest_edge", self.crop) if isinstance(short, dict) else short)
        self.mean = torch.tensor(pre.get("image_mean", _OPENAI_MEAN)).view(1, 3, 1, 1)
        self.std = torch.tensor(pre.get("image_std", _OPENAI_STD)).view(1, 3, 1, 1)
        self.max_length = int(getattr(model.config.text_config, "max_position_embeddings", 77))

    def pixel_values(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 ``(T, H, W, 3)`` → normalised ``(T, 3, crop, crop)``."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
        h, w = x.shape[-2:]
        scale = self.short_side / min(h, w)
        nh, nw = max(self.crop, round(h * scale)), max(self.crop, round(w * scale))
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
        top, left = (nh - self.crop) // 2, (nw - self.crop) // 2
        x = x[:, :, top : top + self.crop, left : left + self.crop]
        return (x - self.mean) / self.std

    @torch.no_grad()
    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.normalize(_features(self.model.get_image_features(pixel_values=pixels.to(self.device))), dim=-1)

    @torch.no_grad()
    def text_features(self, prompts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(prompts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        return F.normalize(_features(self.model.get_text_features(**batch)), dim=-1)


@functools.lru_cache(maxsize=2)
def _load_cached(name: str, device: str, local_files_only: bool | None) -> LoadedCLIP:
    from transformers import AutoTokenizer, CLIPModel

    kwargs = {} if local_files_only is None else {"local_files_only": local_files_only}
    try:
        with quiet_library_bars():  # transformers' untitled "Loading weights" bar
            model = CLIPModel.from_pretrained(name, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(name, **kwargs)
    except OSError as exc:
        raise CLIPWeightsUnavailable(
            f"CLIP model '{name}' could not be loaded: it is not a local folder with a CLIP model "
            f"and its tokenizer, and the hub has no copy of it reachable from here (offline, or not "
            f"in the local cache). On a machine with access, save it once with "
            f"CLIPModel.from_pretrained('{name}').save_pretrained(DIR) and "
            f"AutoTokenizer.from_pretrained('{name}').save_pretrained(DIR) (or 'hf download {name} "
            f"--local-dir DIR'), then pass the folder: model=DIR. Cause: {exc}"
        ) from exc
    dev = torch.device(device)
    return LoadedCLIP(model.eval().to(dev), tokenizer, _preprocessor_config(name, local_files_only), dev)


def load_clip(name: str | Path = DEFAULT_MODEL, device: str = "cpu", local_files_only: bool | None = None) -> LoadedCLIP:
    """CLIP from a hub id or a local folder (cached per process)."""
    from evalkit.devices import metric_device

    key = str(Path(name).expanduser().resolve()) if Path(name).expanduser().is_dir() else str(name)
    return _load_cached(key, metric_device(str(device)), local_files_only)


# ----------------------------------------------------------------------------------------------
# torchmetrics class
# ----------------------------------------------------------------------------------------------


class CLIPScoreVideo(TorchMetric):
    """Mean CLIP score of videos against their prompts (see the module docstring).

    Example::

        metric = CLIPScoreVideo("path/to/clip-folder", convention="hessel")
        metric.update(videos, ["a red ball falls", ...])   # uint8 (N, T, H, W, 3) or clips
        metric.compute()                                    # tensor: mean over clips
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, model: str | Path = DEFAULT_MODEL, convention: Convention = "torchmetrics",
                 frames: int | None = 8, device: str = "cpu", local_files_only: bool | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if convention not in CONVENTION_WEIGHT:
            raise ValueError(f"convention must be one of {sorted(CONVENTION_WEIGHT)}, got {convention!r}")
        self.weight, self.frames = CONVENTION_WEIGHT[convention], frames
        self.clip = load_clip(model, device, local_files_only)
        self.add_state("scores", default=[], dist_reduce_fx="cat")

    def cosines(self, videos: VideoInput, prompts: list[str]) -> torch.Tensor:
        """``(N,)`` mean over frames of the per-frame cosine clipped at 0 (unweighted)."""
        arrays = as_frame_arrays(videos)
        if len(arrays) != len(prompts):
            raise ValueError(f"{len(arrays)} videos but {len(prompts)} prompts")
        text = self.clip.text_features(list(prompts))
        out = []
        for frames, t in zip(arrays, text):
            if self.frames is not None:
                frames = sample_frames(Clip(frames, 1.0), self.frames).frames
            img = self.clip.image_features(self.clip.pixel_values(frames))  # (T, D)
            out.append((img @ t).clamp_min(0).mean())
        return torch.stack(out).double().cpu()

    def score(self, videos: VideoInput, prompts: list[str]) -> torch.Tensor:
        """``(N,)`` CLIP scores under the chosen convention."""
        return self.weight * self.cosines(videos, prompts)

    def update(self, videos: VideoInput, prompts: list[str]) -> None:  # type: ignore[override]
        self.scores.append(self.score(videos, prompts))

    def compute(self) -> torch.Tensor:
        return dim_zero_cat(self.scores).mean()
