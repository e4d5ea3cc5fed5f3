"""Tiny random VBench backbones in their original file formats, built offline for tests.

- DINO: a ``VisionTransformer`` state dict with DINO's key names (patch 16, 2 blocks, width 64);
- CLIP: a full OpenAI CLIP state dict in float16 as OpenAI's files (what ``clip.load`` builds a
  model from: the image and the text tower), ViT with patch 32 at 224 px, width 64, 1 block,
  projection ``embed_dim``;
- the LAION head: ``nn.Linear(768, 1)`` (VBench hard-codes 768);
- RAFT: the real RAFT architecture (5.3 M parameters) with random weights, saved with the
  ``module.`` prefix as ``raft-things.pth`` is.

Each builder writes the file under the name VBench uses, seeded, and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import torch


def _rand(gen: torch.Generator, *shape: int, scale: float = 0.05) -> torch.Tensor:
    return torch.randn(*shape, generator=gen) * scale


def make_tiny_dino(folder: Path, seed: int = 0, dim: int = 64, depth: int = 2) -> Path:
    gen = torch.Generator().manual_seed(seed)
    n = (224 // 16) ** 2
    s: dict[str, torch.Tensor] = {
        "cls_token": _rand(gen, 1, 1, dim, scale=0.5), "pos_embed": _rand(gen, 1, n + 1, dim, scale=0.5),
        "patch_embed.proj.weight": _rand(gen, dim, 3, 16, 16), "patch_embed.proj.bias": _rand(gen, dim),
        "norm.weight": 1 + _rand(gen, dim), "norm.bias": _rand(gen, dim),
    }
    for i in range(depth):
        b = f"blocks.{i}."
        s.update({
            b + "norm1.weight": 1 + _rand(gen, dim), b + "norm1.bias": _rand(gen, dim),
            b + "attn.qkv.weight": _rand(gen, 3 * dim, dim, scale=0.2), b + "attn.qkv.bias": _rand(gen, 3 * dim),
            b + "attn.proj.weight": _rand(gen, dim, dim, scale=0.2), b + "attn.proj.bias": _rand(gen, dim),
            b + "norm2.weight": 1 + _rand(gen, dim), b + "norm2.bias": _rand(gen, dim),
            b + "mlp.fc1.weight": _rand(gen, 4 * dim, dim, scale=0.2), b + "mlp.fc1.bias": _rand(gen, 4 * dim),
            b + "mlp.fc2.weight": _rand(gen, dim, 4 * dim, scale=0.2), b + "mlp.fc2.bias": _rand(gen, dim),
        })
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dino_vitbase16_pretrain.pth"
    torch.save(s, path)
    return path


def make_tiny_openai_clip(folder: Path, name: str, seed: int = 0, width: int = 64,
                          embed_dim: int = 32, text_width: int = 64, patch: int = 32,
                          layers: int = 1) -> Path:
    """OpenAI CLIP state dict (a ViT at 224 px; tiny widths by default) saved as ``name``.
    ``width=768, layers=12, patch=32, embed_dim=512`` is ViT-B/32's image tower,
    ``width=1024, layers=24, patch=14, embed_dim=768`` ViT-L/14's."""
    gen = torch.Generator().manual_seed(seed)
    grid = 224 // patch
    s: dict[str, torch.Tensor] = {
        "visual.conv1.weight": _rand(gen, width, 3, patch, patch, scale=0.02),
        "visual.class_embedding": _rand(gen, width, scale=0.5),
        "visual.positional_embedding": _rand(gen, grid * grid + 1, width, scale=0.5),
        "visual.ln_pre.weight": 1 + _rand(gen, width), "visual.ln_pre.bias": _rand(gen, width),
        "visual.ln_post.weight": 1 + _rand(gen, width), "visual.ln_post.bias": _rand(gen, width),
        "visual.proj": _rand(gen, width, embed_dim, scale=0.2),
        # text tower: clip.model.build_model reads its shapes from these
        "positional_embedding": _rand(gen, 77, text_width), "text_projection": _rand(gen, text_width, embed_dim),
        "logit_scale": torch.tensor(4.6052), "token_embedding.weight": _rand(gen, 49408, text_width),
        "ln_final.weight": torch.ones(text_width), "ln_final.bias": torch.zeros(text_width),
    }
    blocks = [("visual.transformer.", width, i) for i in range(layers)] + [("transformer.", text_width, 0)]
    for prefix, w, i in blocks:
        b = prefix + f"resblocks.{i}."
        s.update({
            b + "attn.in_proj_weight": _rand(gen, 3 * w, w, scale=0.2), b + "attn.in_proj_bias": _rand(gen, 3 * w),
            b + "attn.out_proj.weight": _rand(gen, w, w, scale=0.2), b + "attn.out_proj.bias": _rand(gen, w),
            b + "ln_1.weight": 1 + _rand(gen, w), b + "ln_1.bias": _rand(gen, w),
            b + "ln_2.weight": 1 + _rand(gen, w), b + "ln_2.bias": _rand(gen, w),
            b + "mlp.c_fc.weight": _rand(gen, 4 * w, w, scale=0.2), b + "mlp.c_fc.bias": _rand(gen, 4 * w),
            b + "mlp.c_proj.weight": _rand(gen, w, 4 * w, scale=0.2), b + "mlp.c_proj.bias": _rand(gen, w),
        })
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    # float16, as OpenAI's files are (clip.load's build_model rounds weights to half anyway)
    torch.save({k: v.half() for k, v in s.items()}, path)
    return path


def make_tiny_aesthetic_head(folder: Path, seed: int = 0, dim: int = 768) -> Path:
    gen = torch.Generator().manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sa_0_4_vit_l_14_linear.pth"
    torch.save({"weight": _rand(gen, 1, dim, scale=1.0), "bias": torch.tensor([5.0])}, path)
    return path


def make_random_raft(folder: Path, seed: int = 0) -> Path:
    from evalkit.metrics.vbench.raft import RAFT, RAFTArgs

    torch.manual_seed(seed)
    model = RAFT(RAFTArgs())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "raft-things.pth"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    return path


def make_random_amt(folder: Path, vbench_dir: Path, seed: int = 5) -> Path:
    """AMT-S (its real size, 3.0 M parameters) with random weights, as ``{"state_dict": ...}``
    like ``amt-s.pth``. AMT's network code is not in evalkit (CC BY-NC 4.0): it comes from
    ``vbench_dir/third_party/amt``, VBench's copy."""
    from evalkit.metrics.vbench.motion_smoothness import load_amt_class

    torch.manual_seed(seed)
    model = load_amt_class(vbench_dir)(corr_radius=3, corr_lvls=4, num_flows=3)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "amt-s.pth"
    torch.save({"state_dict": model.state_dict()}, path)
    return path


def make_all(folder: Path) -> dict[str, Path]:
    """Every backbone in one folder: DINO, the head and RAFT under VBench's file names (a
    ``weights_dir``); the CLIPs as ``tiny-*.pt`` (OpenAI's names would fail their published sha256)."""
    return {
        "dino": make_tiny_dino(folder),
        "clip_b32": make_tiny_openai_clip(folder, "tiny-ViT-B-32.pt", seed=1),
        "clip_l14": make_tiny_openai_clip(folder, "tiny-ViT-L-14.pt", seed=2, embed_dim=768),
        "head": make_tiny_aesthetic_head(folder, seed=3),
        "raft": make_random_raft(folder, seed=4),
    }
