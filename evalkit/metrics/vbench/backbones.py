"""Loaders for VBench's backbones, from what :func:`evalkit.metrics.vbench.weights.resolve` found.

- **DINO ViT-B/16** (subject_consistency) as a transformers ``ViTModel``: from a transformers
  folder or cached hub id (``facebook/dino-vitb16``), or from DINO's own checkpoint
  (``dino_vitbase16_pretrain.pth``, the file VBench's ``torch.hub`` loads), converted on load with
  DINO's LayerNorm eps 1e-6. Either way the position grid is interpolated with **DINO's rule**
  (``F.interpolate(scale_factor=(h/16 + 0.1) / sqrt(N), ...)``, see
  :func:`dino_interpolate_pos_encoding`), not transformers' ``size=`` rule, which differs by ~2e-4.
  Features: the CLS token after the final norm (DINO's ``forward``).
- **CLIP image towers** (ViT-B/32, ViT-L/14) as ``CLIPVisionModelWithProjection``: from a
  transformers folder / cached hub id, or from OpenAI's file (``ViT-B-32.pt``, ``ViT-L-14.pt``: a
  TorchScript archive, or a plain state dict), converted on load (QuickGELU, eps 1e-5, float32).
  Features: ``image_embeds`` (the projection of the post-layernorm CLS, OpenAI's ``encode_image``).
- **LAION aesthetic head**: ``nn.Linear(768, 1)`` from ``sa_0_4_vit_l_14_linear.pth``.
- **RAFT** from ``raft-things.pth``: :mod:`evalkit.metrics.vbench.raft`.

Loaded models are cached per process by (kind, location, device).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import types
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from evalkit.metrics.vbench.weights import ResolvedWeights, verify_sha256
from evalkit.progress import quiet_library_bars

log = logging.getLogger(__name__)

__all__ = ["clip_state_dict_to_hf", "dino_interpolate_pos_encoding", "dino_state_dict_to_hf",
           "load_aesthetic_head", "load_clip_vision", "load_dino", "load_raft_model"]


# ----------------------------------------------------------------------------------------------
# DINO
# ----------------------------------------------------------------------------------------------


def dino_interpolate_pos_encoding(self: Any, embeddings: torch.Tensor, height: int,
                                  width: int) -> torch.Tensor:
    """DINO's ``VisionTransformer.interpolate_pos_encoding`` (facebookresearch/dino,
    ``vision_transformer.py``), bound to a transformers ``ViTEmbeddings``.

    Args:
        embeddings: ``(B, 1 + n_patches, D)`` tokens (only the count is used).
        height, width: the input image's size in pixels.
    Returns:
        ``(1, 1 + n_patches, D)`` position embeddings.
    """
    npatch = embeddings.shape[1] - 1
    pos = self.position_embeddings
    n = pos.shape[1] - 1
    if npatch == n and height == width:
        return pos
    class_pos_embed, patch_pos_embed = pos[:, 0], pos[:, 1:]
    dim = embeddings.shape[-1]
    # DINO: "we add a small number to avoid floating point error in the interpolation"
    h0, w0 = height // self.patch_size + 0.1, width // self.patch_size + 0.1
    side = int(math.sqrt(n))
    patch_pos_embed = F.interpolate(
        patch_pos_embed.reshape(1, side, side, dim).permute(0, 3, 1, 2),
        scale_factor=(h0 / math.sqrt(n), w0 / math.sqrt(n)), mode="bicubic")
    if int(h0) != patch_pos_embed.shape[-2] or int(w0) != patch_pos_embed.shape[-1]:
        raise ValueError(f"DINO position grid {tuple(patch_pos_embed.shape[-2:])} does not match "
                         f"{int(h0)}x{int(w0)} patches")
    patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).reshape(1, -1, dim)
    return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1)


def dino_state_dict_to_hf(state: dict[str, torch.Tensor]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """DINO ``VisionTransformer`` state dict → (ViTConfig kwargs, transformers 5 ``ViTModel`` state dict)."""
    state = {k.removeprefix("module.").removeprefix("backbone."): v for k, v in state.items()}
    dim = state["cls_token"].shape[-1]
    patch = state["patch_embed.proj.weight"].shape[-1]
    n = state["pos_embed"].shape[1] - 1
    depth = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"blocks\.(\d+)\.", k)))
    hidden = state["blocks.0.mlp.fc1.weight"].shape[0]
    config = dict(hidden_size=dim, num_hidden_layers=depth, num_attention_heads=max(1, dim // 64),
                  intermediate_size=hidden, image_size=patch * int(math.sqrt(n)), patch_size=patch,
                  layer_norm_eps=1e-6, hidden_act="gelu", qkv_bias=True)
    out = {
        "embeddings.cls_token": state["cls_token"],
        "embeddings.position_embeddings": state["pos_embed"],
        "embeddings.patch_embeddings.projection.weight": state["patch_embed.proj.weight"],
        "embeddings.patch_embeddings.projection.bias": state["patch_embed.proj.bias"],
        "layernorm.weight": state["norm.weight"],
        "layernorm.bias": state["norm.bias"],
    }
    for i in range(depth):
        b, o = f"blocks.{i}.", f"layers.{i}."
        q, k, v = state[b + "attn.qkv.weight"].chunk(3, dim=0)
        qb, kb, vb = state[b + "attn.qkv.bias"].chunk(3, dim=0)
        out.update({
            o + "attention.q_proj.weight": q, o + "attention.q_proj.bias": qb,
            o + "attention.k_proj.weight": k, o + "attention.k_proj.bias": kb,
            o + "attention.v_proj.weight": v, o + "attention.v_proj.bias": vb,
            o + "attention.o_proj.weight": state[b + "attn.proj.weight"],
            o + "attention.o_proj.bias": state[b + "attn.proj.bias"],
            o + "layernorm_before.weight": state[b + "norm1.weight"],
            o + "layernorm_before.bias": state[b + "norm1.bias"],
            o + "layernorm_after.weight": state[b + "norm2.weight"],
            o + "layernorm_after.bias": state[b + "norm2.bias"],
            o + "mlp.fc1.weight": state[b + "mlp.fc1.weight"], o + "mlp.fc1.bias": state[b + "mlp.fc1.bias"],
            o + "mlp.fc2.weight": state[b + "mlp.fc2.weight"], o + "mlp.fc2.bias": state[b + "mlp.fc2.bias"],
        })
    return config, out


class DinoFeatures(nn.Module):
    """A ``ViTModel`` with DINO's position interpolation; ``forward`` returns the CLS feature."""

    def __init__(self, vit: nn.Module) -> None:
        super().__init__()
        self.vit = vit
        emb = vit.embeddings
        emb.interpolate_pos_encoding = types.MethodType(dino_interpolate_pos_encoding, emb)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` normalised → ``(B, D)`` CLS after the final LayerNorm (not L2-normalised)."""
        out = self.vit(pixel_values=pixels, interpolate_pos_encoding=True)
        return out.last_hidden_state[:, 0]


@functools.lru_cache(maxsize=2)
def load_dino(weights: ResolvedWeights, device: str) -> DinoFeatures:
    """DINO ViT from a DINO checkpoint file or a transformers folder / cached hub id."""
    from transformers import ViTConfig, ViTModel

    with quiet_library_bars():
        if weights.kind == "file":
            verify_sha256(weights.backbone, weights.location)
            state = torch.load(weights.location, map_location="cpu", weights_only=True)
            if isinstance(state, dict) and "teacher" in state and "cls_token" not in state:
                state = state["teacher"]  # a full DINO training checkpoint
            config, hf_state = dino_state_dict_to_hf(state)
            vit = ViTModel(ViTConfig(**config), add_pooling_layer=False)
            vit.load_state_dict(hf_state, strict=True)
        else:
            vit = ViTModel.from_pretrained(weights.location, add_pooling_layer=False,
                                           local_files_only=True)
    return DinoFeatures(vit.float().eval()).to(device)


# ----------------------------------------------------------------------------------------------
# CLIP
# ----------------------------------------------------------------------------------------------


def clip_state_dict_to_hf(state: dict[str, torch.Tensor]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """OpenAI CLIP state dict (``visual.*`` keys) → (CLIPVisionConfig kwargs,
    ``CLIPVisionModelWithProjection`` state dict), float32."""
    s = {k[len("visual."):]: v.float() for k, v in state.items() if k.startswith("visual.")}
    if "conv1.weight" not in s:
        raise ValueError("not an OpenAI CLIP ViT state dict (no visual.conv1.weight); "
                         "ResNet CLIP towers are not supported")
    width, patch = s["conv1.weight"].shape[0], s["conv1.weight"].shape[-1]
    grid = round(math.sqrt(s["positional_embedding"].shape[0] - 1))
    layers = 1 + max(int(m.group(1)) for k in s
                     if (m := re.match(r"transformer\.resblocks\.(\d+)\.", k)))
    config = dict(hidden_size=width, intermediate_size=s["transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
                  num_hidden_layers=layers, num_attention_heads=max(1, width // 64),
                  image_size=patch * grid, patch_size=patch, projection_dim=s["proj"].shape[1],
                  hidden_act="quick_gelu", layer_norm_eps=1e-5)
    v = "vision_model."
    out = {
        v + "embeddings.class_embedding": s["class_embedding"],
        v + "embeddings.patch_embedding.weight": s["conv1.weight"],
        v + "embeddings.position_embedding.weight": s["positional_embedding"],
        v + "pre_layrnorm.weight": s["ln_pre.weight"], v + "pre_layrnorm.bias": s["ln_pre.bias"],
        v + "post_layernorm.weight": s["ln_post.weight"], v + "post_layernorm.bias": s["ln_post.bias"],
        "visual_projection.weight": s["proj"].t().contiguous(),
    }
    for i in range(layers):
        b, o = f"transformer.resblocks.{i}.", f"{v}encoder.layers.{i}."
        q, k, w = s[b + "attn.in_proj_weight"].chunk(3, dim=0)
        qb, kb, wb = s[b + "attn.in_proj_bias"].chunk(3, dim=0)
        out.update({
            o + "self_attn.q_proj.weight": q, o + "self_attn.q_proj.bias": qb,
            o + "self_attn.k_proj.weight": k, o + "self_attn.k_proj.bias": kb,
            o + "self_attn.v_proj.weight": w, o + "self_attn.v_proj.bias": wb,
            o + "self_attn.out_proj.weight": s[b + "attn.out_proj.weight"],
            o + "self_attn.out_proj.bias": s[b + "attn.out_proj.bias"],
            o + "layer_norm1.weight": s[b + "ln_1.weight"], o + "layer_norm1.bias": s[b + "ln_1.bias"],
            o + "layer_norm2.weight": s[b + "ln_2.weight"], o + "layer_norm2.bias": s[b + "ln_2.bias"],
            o + "mlp.fc1.weight": s[b + "mlp.c_fc.weight"], o + "mlp.fc1.bias": s[b + "mlp.c_fc.bias"],
            o + "mlp.fc2.weight": s[b + "mlp.c_proj.weight"], o + "mlp.fc2.bias": s[b + "mlp.c_proj.bias"],
        })
    return config, out


def _read_openai_clip(path: str) -> dict[str, torch.Tensor]:
    """OpenAI's CLIP file: a TorchScript archive (as downloaded) or a plain state dict."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.load is deprecated
            return dict(torch.jit.load(path, map_location="cpu").state_dict())
    except RuntimeError:
        state = torch.load(path, map_location="cpu", weights_only=True)
        return state.get("state_dict", state) if isinstance(state, dict) else state


class ClipImageFeatures(nn.Module):
    """``CLIPVisionModelWithProjection``; ``forward`` is OpenAI's ``encode_image``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    @property
    def image_size(self) -> int:
        return int(self.model.config.image_size)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(B, 3, S, S)`` normalised → ``(B, P)`` projected features (not L2-normalised)."""
        return self.model(pixel_values=pixels).image_embeds


@functools.lru_cache(maxsize=2)
def load_clip_vision(weights: ResolvedWeights, device: str) -> ClipImageFeatures:
    """CLIP image tower from an OpenAI file or a transformers folder / cached hub id."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    with quiet_library_bars():
        if weights.kind == "file":
            verify_sha256(weights.backbone, weights.location)
            config, state = clip_state_dict_to_hf(_read_openai_clip(weights.location))
            model = CLIPVisionModelWithProjection(CLIPVisionConfig(**config))
            model.load_state_dict(state, strict=True)
        else:
            model = CLIPVisionModelWithProjection.from_pretrained(weights.location, local_files_only=True)
    return ClipImageFeatures(model.float().eval()).to(device)


# ----------------------------------------------------------------------------------------------
# LAION aesthetic head, RAFT
# ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def load_aesthetic_head(weights: ResolvedWeights, device: str) -> nn.Linear:
    """``nn.Linear(in, 1)`` from ``sa_0_4_vit_l_14_linear.pth`` (``{weight: (1, 768), bias: (1,)}``)."""
    if weights.kind != "file":
        raise ValueError(f"the aesthetic head is a .pth file, got {weights.kind} {weights.location}")
    verify_sha256(weights.backbone, weights.location)
    state = torch.load(weights.location, map_location="cpu", weights_only=True)
    head = nn.Linear(state["weight"].shape[1], 1)
    head.load_state_dict(state, strict=True)
    return head.float().eval().to(device)


@functools.lru_cache(maxsize=2)
def load_raft_model(weights: ResolvedWeights, device: str) -> nn.Module:
    """RAFT (not small) from ``raft-things.pth``."""
    from evalkit.metrics.vbench.raft import load_raft

    if weights.kind != "file":
        raise ValueError(f"RAFT loads from a .pth file, got {weights.kind} {weights.location}")
    verify_sha256(weights.backbone, weights.location)
    return load_raft(Path(weights.location), device)
