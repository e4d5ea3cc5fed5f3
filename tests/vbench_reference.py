"""Run VBench 0.1.5's own code on one video with given weights; print JSON. Used by
``tests/test_vbench_parity.py`` in a subprocess, with ``PYTHONPATH`` pointing at the parity
environment built by ``scripts/make_vbench_parity_env.sh``.

Usage: python tests/vbench_reference.py VIDEO.mp4 WEIGHTS.json OUT_DIR

What is shimmed, and only this:

- ``torchvision._meta_registrations`` is replaced by an empty module before torchvision is
  imported. The PyPI torchvision wheel's compiled ops (``nms``, ``roi_align``, decoders) are a
  CUDA build that does not load beside torch 2.13 CPU, and that module registers meta kernels
  for them at import. VBench's dimensions here use only torchvision's pure-Python transforms
  (``Resize``, ``CenterCrop``, ``Normalize``, ``Lambda``, ``Compose``), which are torchvision's
  real code.
- ``vbench.cli.static_filter.DEVICE`` is set to ``"cpu"`` (VBench hard-codes ``"cuda"``).
- ``clip.load(path, device="cpu")`` is done in its own steps for the tiny state-dict files
  (``clip.model.build_model(state).float()`` and ``clip.clip._transform``), because
  ``clip.load`` reads the file handle again after its TorchScript attempt and finds it consumed
  under torch 2.13 (see ``clip_load``).

DINO is built with facebookresearch/dino's ``vision_transformer.py`` (the code VBench's
``torch.hub.load('facebookresearch/dino:main', 'dino_vitb16')`` runs), at the tiny test width,
and loaded with the tiny state dict; CLIP with OpenAI's ``clip`` package's ``build_model``
(float32 on the CPU, as ``clip.load`` does there); RAFT with VBench's vendored RAFT.

Besides the scores it saves the frames VBench's decoders produced (decord for ``load_video``,
OpenCV for temporal flickering, dynamic degree and the static filter) as ``.npy`` files, so the
caller can score exactly the same pixels and also report how far PyAV's decode is from them.
"""

from __future__ import annotations

import json
import sys
import types
from functools import partial
from pathlib import Path


def main() -> None:
    video, weights_json, out_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    weights = json.loads(Path(weights_json).read_text())
    sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")

    import clip
    import numpy as np
    import torch
    import torch.nn as nn
    from easydict import EasyDict as edict

    from vbench import dynamic_degree as vdd
    from vbench.aesthetic_quality import get_aesthetic_model, laion_aesthetic
    from vbench.background_consistency import background_consistency
    from vbench.cli import static_filter as vsf
    from vbench.subject_consistency import subject_consistency
    from vbench.temporal_flickering import cal_score, get_frames
    from vbench.utils import load_video

    torch.set_num_threads(1)
    out: dict[str, object] = {}

    def clip_load(path: str):
        """``clip.load(path, device="cpu")``'s path for a state-dict file, step by step: its own
        call first tries ``torch.jit.load`` on the open file and, when that fails, reads the
        same (now consumed) handle again, which fails under torch 2.13. OpenAI's real files are
        TorchScript and take the first branch."""
        state = torch.load(path, map_location="cpu")
        model = clip.model.build_model(state).to("cpu").float()
        return model, clip.clip._transform(model.visual.input_resolution)

    # decoded frames, as VBench's loaders see them
    np.save(out_dir / "decord.npy", load_video(video).permute(0, 2, 3, 1).numpy().astype(np.uint8))
    np.save(out_dir / "cv2.npy", np.stack(get_frames(video))[..., ::-1])  # BGR -> RGB

    # subject consistency: DINO's own VisionTransformer
    sys.path.insert(0, weights["dino_code"])
    import vision_transformer as vits

    dino = vits.VisionTransformer(patch_size=16, embed_dim=64, depth=2, num_heads=1, mlp_ratio=4,
                                  qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6),
                                  num_classes=0)
    dino.load_state_dict(torch.load(weights["dino"], map_location="cpu"))
    dino.eval()
    agg, per = subject_consistency(dino, [video], "cpu", False)
    out["subject_consistency"] = {"aggregate": agg, "video": per[0]["video_results"]}

    model, preprocess = clip_load(weights["clip_b32"])
    agg, per = background_consistency(model.eval(), preprocess, [video], "cpu", False)
    out["background_consistency"] = {"aggregate": agg, "video": per[0]["video_results"]}

    model_l, _ = clip_load(weights["clip_l14"])
    head = get_aesthetic_model(str(Path(weights["head"]).parent))
    agg, per = laion_aesthetic(head, model_l, [video], "cpu")
    out["aesthetic_quality"] = {"aggregate": agg, "video": per[0]["video_results"]}

    out["temporal_flickering"] = {"video": cal_score(video)}

    recorded: dict[str, list] = {}
    check_move = vdd.DynamicDegree.check_move

    def record_move(self, score_list):  # record VBench's own pair scores, then decide as VBench
        recorded["dynamic"] = [float(s) for s in score_list]
        recorded["dynamic_params"] = dict(self.params)
        return check_move(self, score_list)

    vdd.DynamicDegree.check_move = record_move
    args = edict({"model": weights["raft"], "small": False, "mixed_precision": False,
                  "alternate_corr": False})
    dynamic = vdd.DynamicDegree(args, "cpu")
    agg, per = vdd.dynamic_degree(dynamic, [video])
    out["dynamic_degree"] = {"aggregate": float(agg), "video": bool(per[0]["video_results"]),
                             "pair_scores": recorded["dynamic"], "params": recorded["dynamic_params"]}

    vsf.DEVICE = "cpu"
    check_static = vsf.StaticFilter.check_static

    def record_static(self, score_list):
        recorded["static"] = [float(s) for s in score_list]
        return check_static(self, score_list)

    vsf.StaticFilter.check_static = record_static
    filt = vsf.StaticFilter(edict({"model": weights["raft"], "small": False,
                                   "mixed_precision": False, "alternate_corr": False}), "cpu")
    out["static_filter"] = {"static": bool(filt.infer(video)), "pair_scores": recorded["static"],
                            "params": dict(filt.params)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
