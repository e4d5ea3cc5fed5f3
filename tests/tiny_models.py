"""Tiny randomly initialised models that tests build and save, so loading code runs offline.

Shared by several test files (the open-vocabulary detector, the physics probes' object chooser,
the object-grounded dimensions).
"""

from __future__ import annotations

from pathlib import Path


def tiny_clip_tokenizer(pad_first: bool = False):  # noqa: ANN201 - transformers type
    """A byte-level BPE CLIP tokenizer with a handful of merges (no files needed).

    ``pad_first``: id 0 is a padding token, as in OWL's tokenizer, whose model masks a query
    whose first id is 0 (so the start token must not be 0).
    """
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    vocab = {"<|pad|>": 0} if pad_first else {}
    vocab.update({"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1})
    for c in sorted(ByteLevel.alphabet()):
        vocab[c] = len(vocab)
    for c in sorted(ByteLevel.alphabet()):
        vocab[c + "</w>"] = len(vocab)
    merges = [("r", "e"), ("re", "d</w>"), ("b", "a"), ("ba", "l"), ("bal", "l</w>")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    if pad_first:
        return CLIPTokenizer(vocab=vocab, merges=merges, pad_token="<|pad|>")
    return CLIPTokenizer(vocab=vocab, merges=merges)


def make_tiny_owlv2(path: str | Path, image_size: int = 64, seed: int = 0) -> Path:
    """Save a random 2-layer OWLv2 (``image_size`` px input, 16-px patches) and its processor."""
    import torch
    from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2Processor

    try:  # the numpy/PIL image processor: torchvision does not load beside our torch
        from transformers import Owlv2ImageProcessorPil as ImageProcessor
    except ImportError:  # transformers 4
        from transformers import Owlv2ImageProcessor as ImageProcessor

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = tiny_clip_tokenizer(pad_first=True)
    tokenizer.model_max_length = 16  # as OWLv2's own tokenizer: queries are padded to 16 tokens
    torch.manual_seed(seed)
    config = Owlv2Config(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=16, bos_token_id=1,
                         eos_token_id=2, pad_token_id=0),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=image_size, patch_size=16),
        projection_dim=32,  # OWL's class head compares text embeddings with text-width image embeddings
    )
    Owlv2ForObjectDetection(config).eval().save_pretrained(folder)
    image_processor = ImageProcessor(size={"height": image_size, "width": image_size})
    Owlv2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder
