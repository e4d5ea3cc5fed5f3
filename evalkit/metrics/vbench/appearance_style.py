"""VBench ``appearance_style``: CLIP ViT-B/32 similarity between every frame and the style phrase.

VBench 0.1.5 (``vbench/appearance_style.py``), per clip:

1. every decoded frame, as a PIL image, through ``clip_transform_Image(224)``: torchvision's
   ``Resize(224, bicubic)`` on a PIL image is PIL's own bicubic resize (antialiased whatever the
   ``antialias`` argument says), the shorter side to 224 and the longer to
   ``int(224 * long / short)``; ``CenterCrop(224)`` at ``int(round((H - 224) / 2))``;
   ``ToTensor`` (``/255``); OpenAI's CLIP mean/std;
2. ``clip_model(image, clip.tokenize([style]))``: ``logits_per_text / 100``, i.e.
   ``exp(logit_scale) / 100 · cos(image, text)`` (``exp(logit_scale)`` is 100 for OpenAI's
   models);
3. the clip's value is the mean over its frames; VBench's aggregate is the mean over **all
   frames** of all clips (a longer clip weighs more), which ``summarize`` reports as ``vbench``.

The style phrase is the prompt's ``auxiliary_info["appearance_style"]["appearance_style"]``
(VBench's prompts: ``"by Hokusai, in the style of Ukiyo"``), else the whole prompt.

Weights: OpenAI's ``ViT-B-32.pt`` (then the tokenizer is OpenAI's, from
``bpe_simple_vocab_16e6.txt.gz``: identical to VBench), or a transformers CLIP folder / cached
hub id with its own tokenizer (the same network; transformers' tokenizer can split unusual text
differently from OpenAI's).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext, MetricError
from evalkit.metrics.vbench.common import VBenchDimension, VBenchOptions
from evalkit.metrics.vbench.weights import WeightsUnavailable, resolve

__all__ = ["AppearanceStyle", "pil_clip_transform"]


class AppearanceStyleOptions(VBenchOptions):
    clip: str | None = Field(None, description="CLIP ViT-B/32: OpenAI's ViT-B-32.pt, a transformers "
                                               "folder, or a cached hub id")
    bpe: str | None = Field(None, description="OpenAI's bpe_simple_vocab_16e6.txt.gz (needed with "
                                              "OpenAI's ViT-B-32.pt)")


def pil_clip_transform(frames: np.ndarray, size: int = 224) -> Any:
    """uint8 ``(T, H, W, 3)`` → float32 ``(T, 3, size, size)``: VBench's ``clip_transform_Image``."""
    import torch
    from PIL import Image

    from evalkit.metrics.vbench.preprocess import CLIP_MEAN, CLIP_STD, normalize, shorter_side_size

    h, w = frames.shape[1:3]
    nh, nw = shorter_side_size(h, w, size)
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    out = []
    for frame in frames:
        image = Image.fromarray(frame)
        if (nh, nw) != (h, w):
            image = image.resize((nw, nh), Image.BICUBIC)
        out.append(np.asarray(image)[top : top + size, left : left + size])
    x = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255.0
    return normalize(x, CLIP_MEAN, CLIP_STD)


class _OpenAIText:
    """OpenAI CLIP's text tower from its state dict (the architecture of ViCLIP's text encoder,
    77 tokens) with OpenAI's tokenizer."""

    def __init__(self, state: dict[str, Any], bpe: str, device: str) -> None:
        from evalkit.metrics.vbench.viclip import SimpleTokenizer, ViCLIPConfig, _TextTransformer

        s = {k: v.float() for k, v in state.items()
             if not k.startswith("visual.") and k not in ("logit_scale", "input_resolution", "context_length", "vocab_size")}
        width = int(s["token_embedding.weight"].shape[1])
        layers = 1 + max(int(k.split(".")[2]) for k in s if k.startswith("transformer.resblocks."))
        config = ViCLIPConfig(text_width=width, text_layers=layers, text_heads=max(1, width // 64),
                              context_length=int(s["positional_embedding"].shape[0]),
                              vocab_size=int(s["token_embedding.weight"].shape[0]),
                              embed_dim=int(s["text_projection"].shape[1]))
        self.model = _TextTransformer(config)
        self.model.load_state_dict(s, strict=True)
        self.model = self.model.eval().to(device)
        self.tokenizer, self.context, self.device = SimpleTokenizer(bpe), config.context_length, device

    def __call__(self, texts: list[str]) -> Any:
        return self.model(self.tokenizer.tokenize(texts, self.context).to(self.device))


@functools.lru_cache(maxsize=1)
def _load(kind: str, location: str, bpe: str | None, device: str) -> tuple[Any, Any, float]:
    """(image features fn, text features fn, exp(logit_scale)) for the resolved CLIP."""
    import torch

    from evalkit.metrics.vbench.backbones import _read_openai_clip, load_clip_vision
    from evalkit.metrics.vbench.weights import ResolvedWeights

    if kind == "file":
        if bpe is None:
            raise MetricError("appearance_style with OpenAI's ViT-B-32.pt needs bpe_simple_vocab_16e6.txt.gz")
        state = _read_openai_clip(location)
        vision = load_clip_vision(ResolvedWeights("clip_vit_b32", kind, location), device)
        return vision, _OpenAIText(state, bpe, device), float(state["logit_scale"].float().exp())
    from transformers import AutoTokenizer, CLIPModel

    from evalkit.metrics.clip_score_model import _features

    model = CLIPModel.from_pretrained(location, local_files_only=True).float().eval().to(device)
    tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)

    def image(pixels: torch.Tensor) -> torch.Tensor:
        return _features(model.get_image_features(pixel_values=pixels))

    def text(texts: list[str]) -> torch.Tensor:
        batch = tokenizer(texts, padding=True, return_tensors="pt").to(device)
        return _features(model.get_text_features(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]))

    return image, text, float(model.logit_scale.exp())


class AppearanceStyle(VBenchDimension):
    name = "appearance_style"
    description = "VBench appearance style: CLIP ViT-B/32 frame-to-style-phrase similarity"
    primary = "appearance_style"
    units = "CLIP logit / 100 (VBench: about 0.2-0.25)"
    version = "1"
    Options: ClassVar[type[BaseModel]] = AppearanceStyleOptions
    backbones: ClassVar[dict[str, str]] = {"clip": "clip_vit_b32", "bpe": "clip_bpe"}

    @classmethod
    def required_backbones(cls, options: dict[str, Any]) -> dict[str, str]:
        """OpenAI's file needs OpenAI's BPE vocabulary; a transformers CLIP has its tokenizer."""
        try:
            found = resolve("clip_vit_b32", options.get("clip"), options.get("weights_dir"), cls.name)
        except WeightsUnavailable:
            return {"clip": "clip_vit_b32"}
        return dict(cls.backbones) if found.kind == "file" else {"clip": "clip_vit_b32"}

    def style_phrase(self, context: ClipContext) -> str:
        aux = (context.auxiliary_info or {}).get(self.name)
        phrase = aux.get("appearance_style") if isinstance(aux, dict) else None
        return str(phrase or context.prompt)

    def score(self, clip: Clip, context: ClipContext) -> dict[str, Any]:
        import torch
        import torch.nn.functional as F

        query = self.style_phrase(context)
        if not query:
            raise MetricError(f"{self.name} needs the clip's prompt or its appearance_style phrase")
        weights = self.weights("clip")
        bpe = self.weights("bpe").location if weights.kind == "file" else None
        device = self.device()
        image_fn, text_fn, scale = _load(weights.kind, weights.location, bpe, device)
        sims: list[float] = []
        with torch.inference_mode():
            text = F.normalize(text_fn([query]).float(), dim=-1)
            for start in range(0, clip.num_frames, self.options.batch_size):
                pixels = pil_clip_transform(clip.frames[start : start + self.options.batch_size]).to(device)
                img = F.normalize(image_fn(pixels).float(), dim=-1)
                # VBench: float(logits_per_text[0][0]) / 100, frame by frame
                sims.extend(float(v) / 100 for v in (scale * img @ text.T)[:, 0].cpu())
        return {self.name: float(np.mean(sims)), "frames": len(sims), "query": query}
