"""Tiny random text-to-video diffusers pipelines that the tests build and save themselves.

Real architectures (Wan 2.1's transformer, causal 3D VAE and UMT5 text encoder) at toy sizes
with random weights: loading, seeding, batching and writing go through exactly the code a
real model uses, offline, in a few seconds on a CPU. Nothing is downloaded: the tokenizer is
a word-level one built here from a handful of words.
"""

from __future__ import annotations

from pathlib import Path

WORDS = ("a red green blue yellow ball box falls moves right left bounces on the floor from "
         "upper across center").split()


def tiny_tokenizer(max_length: int = 16):  # noqa: ANN201 - transformers type
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(dict.fromkeys(["<pad>", "</s>", "<unk>", *WORDS]))}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>", model_max_length=max_length)


def build_tiny_wan(folder: Path, seed: int = 0) -> Path:
    """Save a ~0.4 MB random ``WanPipeline`` to ``folder``; returns the folder.

    Shapes: 4 latent channels, VAE x8 space / x4 time, so ``num_frames = 4k + 1`` frames of
    ``16m x 16m`` pixels (e.g. 9 frames of 32x32).
    """
    import torch
    from diffusers import (AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline,
                           WanTransformer3DModel)
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    text_encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=64, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2,
        relative_attention_num_buckets=8))
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=4,
        out_channels=4, text_dim=16, freq_dim=16, ffn_dim=32, num_layers=1,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", rope_max_seq_len=32)
    vae = AutoencoderKLWan(base_dim=8, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True], latents_mean=[0.0] * 4,
                           latents_std=[1.0] * 4)
    pipe = WanPipeline(tokenizer=tiny_tokenizer(), text_encoder=text_encoder, vae=vae,
                       scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
                       transformer=transformer)
    pipe.save_pretrained(folder)
    return folder
