"""Run VBench 0.1.5's own code on one video with given weights; print JSON. Used by
``tests/test_vbench_parity.py`` in a subprocess, with ``PYTHONPATH`` pointing at the parity
environment built by ``scripts/make_vbench_parity_env.sh``.

Usage: python tests/vbench_reference.py VIDEO.mp4|VIDEOS.txt WEIGHTS.json OUT_DIR

``VIDEOS.txt`` lists several videos, one per line (the benchmark's use); scores are then per
video in order, and ``seconds`` holds each dimension's wall time over all videos (models loaded
before the clock starts; VBench's own decoding inside, as it runs). ``WEIGHTS.json`` may give
``dino_dim`` / ``dino_depth`` (default 64 / 2, the tests' tiny DINO; 768 / 12 is ViT-B/16).

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

    import time

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

    torch.set_num_threads(int(weights.get("threads", 1)))
    videos = Path(video).read_text().split() if video.endswith(".txt") else [video]
    out: dict[str, object] = {"seconds": {}}
    seconds: dict[str, float] = out["seconds"]  # type: ignore[assignment]

    def clip_load(path: str):
        """``clip.load(path, device="cpu")``'s path for a state-dict file, step by step: its own
        call first tries ``torch.jit.load`` on the open file and, when that fails, reads the
        same (now consumed) handle again, which fails under torch 2.13. OpenAI's real files are
        TorchScript and take the first branch."""
        state = torch.load(path, map_location="cpu")
        model = clip.model.build_model(state).to("cpu").float()
        return model, clip.clip._transform(model.visual.input_resolution)

    # decoded frames, as VBench's loaders see them
    np.save(out_dir / "decord.npy", load_video(videos[0]).permute(0, 2, 3, 1).numpy().astype(np.uint8))
    np.save(out_dir / "cv2.npy", np.stack(get_frames(videos[0]))[..., ::-1])  # BGR -> RGB

    # subject consistency: DINO's own VisionTransformer
    sys.path.insert(0, weights["dino_code"])
    import vision_transformer as vits

    dim, depth = int(weights.get("dino_dim", 64)), int(weights.get("dino_depth", 2))
    dino = vits.VisionTransformer(patch_size=16, embed_dim=dim, depth=depth, num_heads=max(1, dim // 64), mlp_ratio=4,
                                  qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6),
                                  num_classes=0)
    dino.load_state_dict(torch.load(weights["dino"], map_location="cpu"))
    dino.eval()
    t = time.perf_counter()
    agg, per = subject_consistency(dino, videos, "cpu", False)
    seconds["subject_consistency"] = time.perf_counter() - t
    out["subject_consistency"] = {"aggregate": agg, "video": per[0]["video_results"],
                                  "videos": [p["video_results"] for p in per]}

    model, preprocess = clip_load(weights["clip_b32"])
    t = time.perf_counter()
    agg, per = background_consistency(model.eval(), preprocess, videos, "cpu", False)
    seconds["background_consistency"] = time.perf_counter() - t
    out["background_consistency"] = {"aggregate": agg, "video": per[0]["video_results"],
                                     "videos": [p["video_results"] for p in per]}

    model_l, _ = clip_load(weights["clip_l14"])
    head = get_aesthetic_model(str(Path(weights["head"]).parent))
    t = time.perf_counter()
    agg, per = laion_aesthetic(head, model_l, videos, "cpu")
    seconds["aesthetic_quality"] = time.perf_counter() - t
    out["aesthetic_quality"] = {"aggregate": agg, "video": per[0]["video_results"],
                                "videos": [p["video_results"] for p in per]}

    t = time.perf_counter()
    flicker = [cal_score(v) for v in videos]
    seconds["temporal_flickering"] = time.perf_counter() - t
    out["temporal_flickering"] = {"video": flicker[0], "videos": flicker}

    recorded: dict[str, list] = {}
    check_move = vdd.DynamicDegree.check_move

    def record_move(self, score_list):  # record VBench's own pair scores, then decide as VBench
        recorded.setdefault("dynamic", [float(s) for s in score_list])  # the first video
        recorded.setdefault("dynamic_params", dict(self.params))
        return check_move(self, score_list)

    vdd.DynamicDegree.check_move = record_move
    args = edict({"model": weights["raft"], "small": False, "mixed_precision": False,
                  "alternate_corr": False})
    dynamic = vdd.DynamicDegree(args, "cpu")
    t = time.perf_counter()
    agg, per = vdd.dynamic_degree(dynamic, videos)
    seconds["dynamic_degree"] = time.perf_counter() - t
    out["dynamic_degree"] = {"aggregate": float(agg), "video": bool(per[0]["video_results"]),
                             "videos": [bool(p["video_results"]) for p in per],
                             "pair_scores": recorded["dynamic"], "params": recorded["dynamic_params"]}

    vsf.DEVICE = "cpu"
    check_static = vsf.StaticFilter.check_static

    def record_static(self, score_list):
        recorded.setdefault("static", [float(s) for s in score_list])
        return check_static(self, score_list)

    vsf.StaticFilter.check_static = record_static
    filt = vsf.StaticFilter(edict({"model": weights["raft"], "small": False,
                                   "mixed_precision": False, "alternate_corr": False}), "cpu")
    t = time.perf_counter()
    verdicts = [bool(filt.infer(v)) for v in videos]
    seconds["static_filter"] = time.perf_counter() - t
    out["static_filter"] = {"static": verdicts[0], "videos": verdicts,
                            "pair_scores": recorded["static"], "params": dict(filt.params)}
    if "amt" in weights:  # VBench's motion_smoothness with its own AMT-S build from the YAML
        from vbench import motion_smoothness as vms

        config = str(Path(vms.__file__).parent / "third_party" / "amt" / "cfgs" / "AMT-S.yaml")
        motion = vms.MotionSmoothness(config, weights["amt"], "cpu")
        t = time.perf_counter()
        agg, per = vms.motion_smoothness(motion, videos)
        seconds["motion_smoothness"] = time.perf_counter() - t
        out["motion_smoothness"] = {"aggregate": float(agg), "video": float(per[0]["video_results"]),
                                    "videos": [float(p["video_results"]) for p in per]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
