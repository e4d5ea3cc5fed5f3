"""Run VBench 0.1.5's own ``imaging_quality`` (``technical_quality`` with IQA-PyTorch's MUSIQ) on
one video with a tiny MUSIQ checkpoint; print JSON. Used by ``tests/test_vbench_imaging.py`` in a
subprocess, with ``PYTHONPATH`` at the parity environment (``scripts/make_vbench_parity_env.sh``,
which installs pyiqa 0.1.16 without its dependencies).

Usage: python tests/vbench_reference_imaging.py VIDEO.mp4 MUSIQ.pth SIZES.json OUT_DIR

What is changed, and only this:

- ``torchvision._meta_registrations`` is replaced by an empty module (as in
  ``tests/vbench_reference.py``).
- The packages ``pyiqa``, ``pyiqa.archs``, ``pyiqa.utils`` and ``pyiqa.data`` are entered without
  running their ``__init__`` (which imports every IQA model and their dependencies); the modules
  MUSIQ needs (``musiq_arch``, ``arch_util``, ``constants``, ``registry``, ``download_util``,
  ``misc``, ``multiscale_trans_util``, ``matlab_utils``) are pyiqa's own files, unchanged.
- ``MUSIQ`` is built at the tiny sizes in SIZES.json (VBench builds the default ViT; the sizes are
  constructor arguments) from the tiny checkpoint; ``model.training = False`` as VBench sets it.

Besides the scores it saves the frames decord decoded (``imaging_frames.npy``).
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path


def _package(name: str, folder: Path) -> None:
    module = types.ModuleType(name)
    module.__path__ = [str(folder)]  # a package whose __init__ is not run
    sys.modules[name] = module


def main() -> None:
    video, weights, sizes_json, out_dir = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
    sizes = json.loads(Path(sizes_json).read_text())
    sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
    import importlib.util

    root = Path(importlib.util.find_spec("pyiqa").submodule_search_locations[0])
    for name in ("pyiqa", "pyiqa.archs", "pyiqa.utils", "pyiqa.data"):
        _package(name, root.joinpath(*name.split(".")[1:]))

    import numpy as np
    import torch

    from pyiqa.archs.musiq_arch import MUSIQ
    from vbench.imaging_quality import technical_quality
    from vbench.utils import load_video

    torch.set_num_threads(1)
    model = MUSIQ(hidden_size=sizes["dim"], mlp_dim=sizes["mlp_dim"], num_heads=sizes["heads"],
                  num_layers=sizes["layers"], pretrained_model_path=weights)
    model.training = False
    np.save(out_dir / "imaging_frames.npy", load_video(video, return_tensor=False))
    agg, per = technical_quality(model, [video], "cpu")
    print(json.dumps({"aggregate": float(agg), "video": float(per[0]["video_results"])}))


if __name__ == "__main__":
    main()
