"""Where VBench's backbones come from: one table of weight files and one resolver.

Every VBench dimension that needs a network names it here (:data:`BACKBONES`): the file VBench
downloads, its public source, its sha256 where a public source states one (``None`` otherwise:
never invented), the transformers hub id that holds the same network where there is one, the
metric option that points at it, and where VBench's own cache keeps it.

:func:`resolve` turns a metric option into something a loader can open, in this order:

1. the option's value, when given: a file, a folder (a transformers model folder, or a folder
   that holds the file under its VBench name), or a hub id that is already in the local
   Hugging Face cache;
2. the file under its VBench name in ``weights_dir`` (the metric option), ``$EVALKIT_VBENCH_WEIGHTS``,
   or VBench's own cache (``$VBENCH_CACHE_DIR``, default ``~/.cache/vbench``, with VBench's
   sub-folders), so a machine that ran VBench once needs nothing else;
3. the backbone's hub id, when the local Hugging Face cache has it.

Nothing is downloaded here. When nothing is found, :class:`WeightsUnavailable` (a
:class:`~evalkit.errors.ConfigError`: one line, exit code 2) names the file, its public source,
the option to set and the pre-fetch script. The runner asks every metric for this at planning
time (``options_problem``), before any clip is generated or decoded.

This module imports neither torch nor transformers.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from evalkit.errors import ConfigError
from evalkit.hashing import file_sha256

__all__ = ["BACKBONES", "Backbone", "ResolvedWeights", "WeightsUnavailable", "resolve",
           "search_dirs", "verify_sha256"]

FETCH_HINT = "python scripts/fetch_vbench_weights.py --to DIR"


class WeightsUnavailable(ConfigError):
    """A backbone's weights are not on this machine (the message says which file and how)."""


@dataclasses.dataclass(frozen=True)
class Backbone:
    """One pretrained network a VBench dimension loads.

    Attributes:
        key: short name used in messages and results (``dino_vitb16``).
        title: human name (``DINO ViT-B/16``).
        file: the weight file's name as VBench downloads it.
        url: its public source (the URL VBench's ``init_submodules`` fetches).
        sha256: hex digest stated by a public source, or None where none states one.
        hub_id: a transformers hub id with the same network, or None.
        option: the metric option that points at it.
        vbench_subdir: the sub-folder of VBench's cache that holds ``file``.
        dimensions: the VBench dimensions that use it.
    """

    key: str
    title: str
    file: str
    url: str
    sha256: str | None
    hub_id: str | None
    option: str
    vbench_subdir: str
    dimensions: tuple[str, ...]


BACKBONES: dict[str, Backbone] = {
    b.key: b
    for b in (
        Backbone("dino_vitb16", "DINO ViT-B/16", "dino_vitbase16_pretrain.pth",
                 "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
                 None, "facebook/dino-vitb16", "dino", "dino_model", ("subject_consistency",)),
        # OpenAI's CLIP URLs carry the file's sha256, which the `clip` package checks.
        Backbone("clip_vit_b32", "CLIP ViT-B/32", "ViT-B-32.pt",
                 "https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
                 "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
                 "openai/clip-vit-base-patch32", "clip", "clip_model", ("background_consistency",)),
        Backbone("clip_vit_l14", "CLIP ViT-L/14", "ViT-L-14.pt",
                 "https://openaipublic.azureedge.net/clip/models/b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",
                 "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",
                 "openai/clip-vit-large-patch14", "clip", "clip_model", ("aesthetic_quality",)),
        Backbone("laion_aesthetic_l14", "LAION aesthetic predictor (linear head on CLIP ViT-L/14)",
                 "sa_0_4_vit_l_14_linear.pth",
                 "https://github.com/LAION-AI/aesthetic-predictor/blob/main/sa_0_4_vit_l_14_linear.pth?raw=true",
                 None, None, "head", "aesthetic_model/emb_reader", ("aesthetic_quality",)),
        Backbone("raft_things", "RAFT (FlyingThings3D checkpoint)", "raft-things.pth",
                 "https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip (raft-things.pth inside)",
                 None, None, "raft", "raft_model/models", ("dynamic_degree", "temporal_flickering")),
        Backbone("amt_s", "AMT-S (frame interpolation, CC BY-NC 4.0)", "amt-s.pth",
                 "https://huggingface.co/lalala125/AMT/resolve/main/amt-s.pth",
                 None, None, "amt", "amt_model", ("motion_smoothness",)),
        # The file name carries the first 8 hex digits of its sha256 (torch.hub's convention).
        Backbone("musiq_spaq", "MUSIQ trained on SPAQ", "musiq_spaq_ckpt-358bb6af.pth",
                 "https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/musiq_spaq_ckpt-358bb6af.pth",
                 None, None, "musiq", "pyiqa_model", ("imaging_quality",)),
        Backbone("viclip_l14", "ViCLIP ViT-L/14 (InternVid-10M-FLT)", "ViClip-InternVid-10M-FLT.pth",
                 "https://huggingface.co/OpenGVLab/VBench_Used_Models/resolve/main/ViClip-InternVid-10M-FLT.pth",
                 None, None, "viclip", "ViCLIP", ("overall_consistency", "temporal_style")),
        Backbone("clip_bpe", "OpenAI CLIP BPE vocabulary", "bpe_simple_vocab_16e6.txt.gz",
                 # also inside the openai-clip package on PyPI (clip/bpe_simple_vocab_16e6.txt.gz)
                 "https://raw.githubusercontent.com/openai/CLIP/main/clip/bpe_simple_vocab_16e6.txt.gz",
                 None, None, "bpe", "ViCLIP", ("overall_consistency", "temporal_style")),
    )
}


@dataclasses.dataclass(frozen=True)
class ResolvedWeights:
    """Where a backbone was found: ``kind`` is ``file``, ``folder`` (transformers) or ``hub``
    (a hub id in the local cache); ``location`` is the path or the id."""

    backbone: str
    kind: str
    location: str

    def describe(self) -> dict[str, str]:
        return {"backbone": self.backbone, "kind": self.kind, "location": self.location}


def search_dirs(weights_dir: str | None = None) -> list[Path]:
    """Folders searched for weight files, in order (see the module docstring)."""
    dirs: list[Path] = []
    if weights_dir:
        dirs.append(Path(weights_dir).expanduser())
    env = os.environ.get("EVALKIT_VBENCH_WEIGHTS")
    if env:
        dirs.append(Path(env).expanduser())
    vbench_cache = os.environ.get("VBENCH_CACHE_DIR") or str(Path.home() / ".cache" / "vbench")
    dirs.append(Path(vbench_cache).expanduser())
    return dirs


def _in_hf_cache(hub_id: str) -> bool:
    """True when the local Hugging Face cache holds the model's config (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers always brings huggingface_hub
        return False
    try:
        found = try_to_load_from_cache(hub_id, "config.json")
    except Exception:  # noqa: BLE001 - not a valid repo id
        return False
    return isinstance(found, str)


def _looks_like_hub_id(value: str) -> bool:
    parts = value.split("/")
    return len(parts) == 2 and all(parts) and not value.startswith((".", "~", "/"))


def _unavailable(backbone: Backbone, dimension: str, tried: str) -> WeightsUnavailable:
    sha = f", sha256 {backbone.sha256}" if backbone.sha256 else ""
    hub = f", or a transformers folder / cached hub id such as {backbone.hub_id}" \
        if backbone.hub_id else ""
    return WeightsUnavailable(
        f"{dimension} needs {backbone.title} weights '{backbone.file}' ({backbone.url}{sha}), "
        f"not found ({tried}); set the metric option {backbone.option}: PATH (the file{hub}) "
        f"or weights_dir: DIR, or fetch everything into one folder with '{FETCH_HINT}' on a "
        f"connected machine")


def resolve(backbone_key: str, value: str | None, weights_dir: str | None,
            dimension: str) -> ResolvedWeights:
    """Find a backbone's weights without loading or downloading them.

    Args:
        backbone_key: a key of :data:`BACKBONES`.
        value: the metric option (path, folder or hub id), or None to search.
        weights_dir: the metric's ``weights_dir`` option, or None.
        dimension: the asking dimension (for the message).
    Raises:
        WeightsUnavailable: nothing usable was found (one line).
    """
    backbone = BACKBONES[backbone_key]
    if value:
        path = Path(value).expanduser()
        if path.is_file():
            return ResolvedWeights(backbone.key, "file", str(path.resolve()))
        if path.is_dir():
            if (path / "config.json").is_file():
                return ResolvedWeights(backbone.key, "folder", str(path.resolve()))
            named = path / backbone.file
            if named.is_file():
                return ResolvedWeights(backbone.key, "file", str(named.resolve()))
            raise _unavailable(backbone, dimension, f"{backbone.option}: '{value}' is a folder "
                               f"with neither config.json nor {backbone.file}")
        if _looks_like_hub_id(value):
            if _in_hf_cache(value):
                return ResolvedWeights(backbone.key, "hub", value)
            raise _unavailable(backbone, dimension, f"{backbone.option}: '{value}' is not a file "
                               "or folder, and the local Hugging Face cache has no such model")
        raise _unavailable(backbone, dimension, f"{backbone.option}: no file or folder '{value}'")
    dirs = search_dirs(weights_dir)
    for folder in dirs:
        for candidate in (folder / backbone.file, folder / backbone.vbench_subdir / backbone.file):
            if candidate.is_file():
                return ResolvedWeights(backbone.key, "file", str(candidate.resolve()))
    if backbone.hub_id and _in_hf_cache(backbone.hub_id):
        return ResolvedWeights(backbone.key, "hub", backbone.hub_id)
    hub = f"; {backbone.hub_id} is not in the local Hugging Face cache" if backbone.hub_id else ""
    looked = ", ".join(str(d) for d in dirs)
    raise _unavailable(backbone, dimension, f"looked in {looked}{hub}")


def verify_sha256(backbone_key: str, path: str | os.PathLike[str]) -> str:
    """The file's sha256; raises WeightsUnavailable when the file carries the backbone's official
    name and a public sha256 is known but differs (a truncated or wrong download). Files under
    other names (conversions, test models) are hashed and recorded, not compared."""
    backbone = BACKBONES[backbone_key]
    digest = file_sha256(path)
    if backbone.sha256 and Path(path).name == backbone.file and digest != backbone.sha256:
        raise WeightsUnavailable(
            f"{path}: sha256 {digest} is not the published {backbone.sha256} of {backbone.file} "
            f"({backbone.url}); download it again")
    return digest
