"""Run VBench 0.1.5's own ``overall_consistency``, ``temporal_style`` (tiny ViCLIP) and
``appearance_style`` (tiny OpenAI CLIP) on one video; print JSON. Used by
``tests/test_vbench_viclip.py`` in a subprocess, with ``PYTHONPATH`` at the parity environment
(``scripts/make_vbench_parity_env.sh``) and ``VBENCH_CACHE_DIR`` at a folder holding
``ViCLIP/bpe_simple_vocab_16e6.txt.gz``.

Usage: python tests/vbench_reference_semantic.py SPEC.json OUT_DIR

SPEC: ``video``, ``viclip`` (checkpoint), ``sizes`` (the tiny ViCLIP's widths, layers, heads),
``clip_b32`` (OpenAI CLIP state dict), ``prompts``, ``styles``.

What is changed, and only this:

- ``clip.load`` is done in its steps for the state-dict file (``clip.model.build_model(state)
  .float()``), as ``tests/vbench_reference.py`` explains.
- ``torchvision._meta_registrations`` is replaced by an empty module (as in
  ``tests/vbench_reference.py``: the wheel's compiled ops do not load beside torch 2.13 CPU;
  VBench uses only torchvision's pure-Python transforms here).
- ``vbench.third_party.ViCLIP.viclip``'s two builders, ``clip_joint_l14`` and ``clip_text_l14``,
  are replaced by calls to VBench's own ``VisionTransformer`` and ``CLIP_TEXT`` classes at the tiny
  sizes in SIZES.json (the real builders hard-code ViT-L/14). ``ViCLIP.__init__`` then loads the
  tiny checkpoint with its own ``load_state_dict`` (strict).

Besides the scores it saves the frames decord decoded (at ViCLIP's indices: ``viclip_frames.npy``;
all of them, as appearance_style reads them: ``all_frames.npy``) so that the caller scores the same
pixels.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path


def main() -> None:
    spec, out_dir = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2])
    video, weights, sizes, prompts = spec["video"], spec["viclip"], spec["sizes"], spec["prompts"]
    sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")

    import numpy as np
    import torch

    import clip

    from vbench.appearance_style import appearance_style
    from vbench.third_party.ViCLIP import viclip as vviclip
    from vbench.third_party.ViCLIP.simple_tokenizer import SimpleTokenizer
    from vbench.third_party.ViCLIP.viclip_text import CLIP_TEXT
    from vbench.third_party.ViCLIP.viclip_vision import VisionTransformer
    from vbench.overall_consistency import overall_consistency
    from vbench.temporal_style import temporal_style
    from vbench.utils import CACHE_DIR, load_video, read_frames_decord_by_fps

    torch.set_num_threads(1)

    def vision(**kwargs):  # noqa: ANN003, ANN202 - VBench's builder signature
        return VisionTransformer(input_resolution=224, patch_size=14, width=sizes["vision_width"],
                                 layers=sizes["vision_layers"], heads=sizes["vision_heads"],
                                 output_dim=sizes["embed_dim"], kernel_size=1,
                                 num_frames=kwargs.get("num_frames", 8),
                                 drop_path=kwargs.get("drop_path", 0.0)).eval()

    def text(**kwargs):  # noqa: ANN003, ANN202
        return CLIP_TEXT(sizes["embed_dim"], kwargs["context_length"], kwargs["vocab_size"],
                         sizes["text_width"], sizes["text_heads"], sizes["text_layers"], 0).eval()

    vviclip.clip_joint_l14 = vision
    vviclip.clip_text_l14 = text
    tokenizer = SimpleTokenizer(str(Path(CACHE_DIR) / "ViCLIP" / "bpe_simple_vocab_16e6.txt.gz"))
    model = vviclip.ViCLIP(tokenizer=tokenizer, pretrain=weights).eval()

    frames = read_frames_decord_by_fps(video, num_frames=8, sample="middle")
    np.save(out_dir / "viclip_frames.npy", frames.permute(0, 2, 3, 1).numpy().astype(np.uint8))
    np.save(out_dir / "all_frames.npy", load_video(video, return_tensor=False))  # appearance_style's
    out: dict[str, object] = {"tokens": {p: model.text_encoder.tokenize(p, context_length=32)[0].tolist()
                                         for p in prompts}}
    for name, fn in (("overall_consistency", overall_consistency), ("temporal_style", temporal_style)):
        rows = [{"prompt": p, "video_list": [video]} for p in prompts]
        agg, per = fn(model, rows, tokenizer, "cpu")
        out[name] = {"aggregate": float(agg), "video": [float(r["video_results"]) for r in per]}

    state = torch.load(spec["clip_b32"], map_location="cpu")
    clip_model = clip.model.build_model(state).to("cpu").float().eval()
    rows = [{"prompt": s, "video_list": [video], "auxiliary_info": {"appearance_style": s}} for s in spec["styles"]]
    agg, per = appearance_style(clip_model, rows, "cpu")
    out["appearance_style"] = {"aggregate": float(agg), "video": [float(r["video_results"]) for r in per]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
