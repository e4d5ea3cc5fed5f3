"""ViCLIP (InternVid, Wang et al. 2023) as VBench 0.1.5 runs it for ``overall_consistency`` and
``temporal_style``: a CLIP ViT-L/14 video encoder with a temporal position embedding and a CLIP
text encoder with a 32-token context.

The network code is VBench's (``vbench/third_party/ViCLIP``: ``viclip.py``,
``viclip_vision.py``, ``viclip_text.py``; InternVideo, Apache-2.0, itself from OpenAI's CLIP,
MIT), reduced to what inference uses: no token masking, no gradient checkpointing, no drop-path
(identity at inference), no fp16 LayerNorm casts (evalkit runs float32). Module and parameter
names are VBench's, so ``ViClip-InternVid-10M-FLT.pth`` (``{"model": state_dict}``) loads as is
with ``strict=True``. The tokenizer is OpenAI's ``SimpleTokenizer`` (MIT) reading
``bpe_simple_vocab_16e6.txt.gz``, as VBench's copy does.

Shapes: :meth:`ViCLIP.encode_vision` takes float ``(B, T, 3, 224, 224)`` (CLIP-normalised) and
returns ``(B, 768)``; :meth:`ViCLIP.encode_text` takes strings and returns ``(N, 768)``.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import html
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn as nn

log = logging.getLogger(__name__)

__all__ = ["SimpleTokenizer", "ViCLIP", "ViCLIPConfig", "VICLIP_L14", "load_viclip"]


# ----------------------------------------------------------------------------------------------
# Tokenizer (OpenAI CLIP's SimpleTokenizer, MIT)
# ----------------------------------------------------------------------------------------------


@functools.lru_cache
def bytes_to_unicode() -> dict[int, str]:
    """OpenAI's reversible byte → printable-unicode table of the byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def _pairs(word: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(a, b) for a, b in zip(word[:-1], word[1:])}


class SimpleTokenizer:
    """OpenAI CLIP's tokenizer: ftfy + HTML unescape, lower case, byte-level BPE."""

    def __init__(self, bpe_path: str | Path) -> None:
        import regex

        merges_text = gzip.open(bpe_path).read().decode("utf-8").split("\n")
        merges = [tuple(m.split()) for m in merges_text[1 : 49152 - 256 - 2 + 1]]
        vocab = list(bytes_to_unicode().values())
        vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges]
        vocab += ["<|startoftext|>", "<|endoftext|>"]
        self.encoder = {v: i for i, v in enumerate(vocab)}
        self.bpe_ranks = {m: i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
        self.pat = regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
                                 regex.IGNORECASE)
        self._regex = regex

    def bpe(self, token: str) -> str:
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = _pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word: list[str] = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = _pairs(word)
        out = " ".join(word)
        self.cache[token] = out
        return out

    def encode(self, text: str) -> list[int]:
        import ftfy

        text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
        text = self._regex.sub(r"\s+", " ", text).strip().lower()
        ids: list[int] = []
        for token in self._regex.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return ids

    def tokenize(self, texts: list[str], context_length: int) -> torch.Tensor:
        """``(N, context_length)`` int ids: start, text, end, zero padding; truncated texts end
        with the end token (VBench's ``CLIP_TEXT.tokenize`` with ``truncate=True``)."""
        sot, eot = self.encoder["<|startoftext|>"], self.encoder["<|endoftext|>"]
        out = torch.zeros(len(texts), context_length, dtype=torch.int)
        for i, text in enumerate(texts):
            tokens = [sot, *self.encode(text), eot]
            if len(tokens) > context_length:
                tokens = tokens[:context_length]
                tokens[-1] = eot
            out[i, : len(tokens)] = torch.tensor(tokens)
        return out


# ----------------------------------------------------------------------------------------------
# Network
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ViCLIPConfig:
    """Sizes of a ViCLIP (defaults: VBench's ViT-L/14, 8 frames, 32 text tokens)."""

    image_size: int = 224
    patch_size: int = 14
    vision_width: int = 1024
    vision_layers: int = 24
    vision_heads: int = 16
    num_frames: int = 8
    embed_dim: int = 768
    text_width: int = 768
    text_layers: int = 12
    text_heads: int = 12
    context_length: int = 32
    vocab_size: int = 49408


VICLIP_L14 = ViCLIPConfig()


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """Pre-norm block on ``(L, N, D)`` tokens (sequence first, as ``nn.MultiheadAttention``)."""

    def __init__(self, width: int, heads: int, attn_mask: torch.Tensor | None = None) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        # Named as VBench's (its vision blocks add parameter-free dropouts, which no key names).
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, width * 4)), ("gelu", QuickGELU()),
                                              ("c_proj", nn.Linear(width * 4, width))]))
        self.ln_2 = nn.LayerNorm(width)
        self.attn_mask = attn_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = self.attn_mask.to(dtype=x.dtype, device=x.device) if self.attn_mask is not None else None
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class _VisionTransformer(nn.Module):
    class_embedding: nn.Parameter

    def __init__(self, c: ViCLIPConfig) -> None:
        super().__init__()
        w = c.vision_width
        self.conv1 = nn.Conv3d(3, w, (1, c.patch_size, c.patch_size), (1, c.patch_size, c.patch_size), bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(w))
        self.positional_embedding = nn.Parameter(torch.zeros((c.image_size // c.patch_size) ** 2 + 1, w))
        self.ln_pre = nn.LayerNorm(w)
        self.temporal_positional_embedding = nn.Parameter(torch.zeros(1, c.num_frames, w))
        self.transformer = nn.Module()
        self.transformer.resblocks = nn.ModuleList(
            [ResidualAttentionBlock(w, c.vision_heads) for _ in range(c.vision_layers)])
        self.ln_post = nn.LayerNorm(w)
        self.proj = nn.Parameter(torch.zeros(w, c.embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` → ``(B, embed_dim)``: the class token after ``ln_post``, projected."""
        x = self.conv1(x)
        b, d, t, h, w = x.shape
        x = x.permute(0, 2, 3, 4, 1).reshape(b * t, h * w, d)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(x.shape[0], 1, d, dtype=x.dtype, device=x.device)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        # VBench takes x[:B, :1]: every frame's class token is the same (class + position 0).
        cls_tokens = x[:b, :1, :]
        patches = x[:, 1:].reshape(b, t, h * w, d).permute(0, 2, 1, 3)  # (b, n, t, d)
        t_embed = self.temporal_positional_embedding.mean(1) if t == 1 else self.temporal_positional_embedding
        patches = (patches + t_embed.unsqueeze(0)).reshape(b, h * w * t, d)  # 'b (n t) m'
        x = self.ln_pre(torch.cat((cls_tokens, patches), dim=1)).permute(1, 0, 2)
        for block in self.transformer.resblocks:
            x = block(x)
        x = self.ln_post(x)
        return x[0] @ self.proj


class _TextTransformer(nn.Module):
    def __init__(self, c: ViCLIPConfig) -> None:
        super().__init__()
        self.context_length = c.context_length
        mask = torch.full((c.context_length, c.context_length), float("-inf")).triu_(1)
        self.transformer = nn.Module()
        self.transformer.resblocks = nn.Sequential(
            *[ResidualAttentionBlock(c.text_width, c.text_heads, mask) for _ in range(c.text_layers)])
        self.token_embedding = nn.Embedding(c.vocab_size, c.text_width)
        self.positional_embedding = nn.Parameter(torch.zeros(c.context_length, c.text_width))
        self.ln_final = nn.LayerNorm(c.text_width)
        self.text_projection = nn.Parameter(torch.zeros(c.text_width, c.embed_dim))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """int ``(N, context)`` → ``(N, embed_dim)``: the end token (highest id) after ``ln_final``."""
        x = (self.token_embedding(ids) + self.positional_embedding).permute(1, 0, 2)
        x = self.transformer.resblocks(x).permute(1, 0, 2)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), ids.argmax(dim=-1)] @ self.text_projection


class ViCLIP(nn.Module):
    """ViCLIP's two encoders (see the module docstring)."""

    state_prefixes: ClassVar[tuple[str, ...]] = ("vision_encoder.", "text_encoder.")

    def __init__(self, config: ViCLIPConfig = VICLIP_L14, tokenizer: SimpleTokenizer | None = None) -> None:
        super().__init__()
        self.config = config
        self.vision_encoder = _VisionTransformer(config)
        self.text_encoder = _TextTransformer(config)
        self.temp = nn.Parameter(torch.ones([]) / 100.0)  # training temperature; kept so files load strictly
        self.tokenizer = tokenizer

    def encode_vision(self, frames: torch.Tensor) -> torch.Tensor:
        """float ``(B, T, 3, H, W)`` → ``(B, embed_dim)`` (not normalised)."""
        return self.vision_encoder(frames.permute(0, 2, 1, 3, 4).contiguous())

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """strings → ``(N, embed_dim)`` (not normalised)."""
        if self.tokenizer is None:
            raise RuntimeError("ViCLIP has no tokenizer")
        ids = self.tokenizer.tokenize(list(texts), self.config.context_length)
        return self.text_encoder(ids.to(self.temp.device))


def config_from_state_dict(state: dict[str, torch.Tensor]) -> ViCLIPConfig:
    """The sizes a ViCLIP state dict was saved with (so tests' tiny models load the same way)."""
    vision_layers = len({k.split(".")[3] for k in state if k.startswith("vision_encoder.transformer.resblocks.")})
    text_layers = len({k.split(".")[3] for k in state if k.startswith("text_encoder.transformer.resblocks.")})
    conv = state["vision_encoder.conv1.weight"]
    width, patch = int(conv.shape[0]), int(conv.shape[-1])
    grid = int(round((state["vision_encoder.positional_embedding"].shape[0] - 1) ** 0.5))
    text_width = int(state["text_encoder.token_embedding.weight"].shape[1])
    return ViCLIPConfig(
        image_size=grid * patch, patch_size=patch, vision_width=width, vision_layers=vision_layers,
        vision_heads=max(1, width // 64), num_frames=int(state["vision_encoder.temporal_positional_embedding"].shape[1]),
        embed_dim=int(state["vision_encoder.proj"].shape[1]), text_width=text_width, text_layers=text_layers,
        text_heads=max(1, text_width // 64), context_length=int(state["text_encoder.positional_embedding"].shape[0]),
        vocab_size=int(state["text_encoder.token_embedding.weight"].shape[0]))


def load_viclip(weights: str | Path, bpe: str | Path, device: str = "cpu",
                heads: tuple[int, int] | None = None) -> ViCLIP:
    """ViCLIP from ``ViClip-InternVid-10M-FLT.pth`` (``{"model": state}``, or a bare state dict)
    and OpenAI's ``bpe_simple_vocab_16e6.txt.gz``; ``heads`` (vision, text) overrides the head
    counts, which a state dict does not record (ViT-L/14: 16 and 12, i.e. width / 64)."""
    import pickle

    try:
        blob: Any = torch.load(weights, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only: a checkpoint that pickles Python objects is refused, never executed.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{weights}: holds Python objects besides tensors, which evalkit does not "
                         f"unpickle ({first}); save its 'model' state dict alone with torch.save") from exc
    state = blob.get("model", blob) if isinstance(blob, dict) else blob
    if not isinstance(state, dict) or "vision_encoder.conv1.weight" not in state:
        raise ValueError(f"{weights}: not a ViCLIP checkpoint (no vision_encoder.conv1.weight)")
    config = config_from_state_dict(state)
    if heads is not None:
        config = dataclasses.replace(config, vision_heads=heads[0], text_heads=heads[1])
    model = ViCLIP(config, SimpleTokenizer(bpe))
    model.load_state_dict(state, strict=True)
    return model.eval().to(device)
