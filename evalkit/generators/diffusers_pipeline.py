"""``diffusers``: any text-to-video ``DiffusionPipeline`` (CogVideoX, Wan, LTX-Video,
HunyuanVideo, Mochi, ModelScope, ...) by Hugging Face hub id or local folder.

A suite entry::

    generators:
      - name: diffusers
        label: cogvideox-2b
        options:
          model: THUDM/CogVideoX-2b        # hub id (from the local cache) or a folder
          dtype: auto                      # bfloat16 on a GPU that has it, float32 on CPU
          steps: 50
          guidance: 6.0
          frames: 49
          height: 480
          width: 720
          fps: 8
          negative_prompt: "blurry, low quality"
          extra: {use_dynamic_cfg: true}   # any other keyword of the pipeline's __call__

What it does:

- **Offline by default** (``local_files_only: true``): a hub id must already be in the
  Hugging Face cache; if it is not, the suite is refused before any work with one line naming
  the model and the command that downloads it.
- **Seeds**: each request gets its own ``torch.Generator`` on the CPU seeded with the
  request's seed, so a clip depends on its seed only (not on the batch it lands in, up to
  float rounding of batched matmuls, nor on the GPU type: the initial noise is drawn on the
  CPU).
- **Batches** of ``batch_size`` prompts go through one pipeline call; a batch that fails
  (e.g. out of GPU memory) is retried one clip at a time by the runner.
- **Metadata**: every clip records the model (and its hub commit), the pipeline class, steps,
  guidance, frames, size, fps, negative prompt, dtype, device, seed and the extra keywords.
- **Memory**: ``cpu_offload: model`` (whole sub-models move to the GPU in turn) or
  ``sequential`` (layer by layer, slowest, least memory), ``vae_tiling`` and ``vae_slicing``
  decode large videos in pieces.

The pipeline is loaded on first use in the process that generates (a pool or Ray worker),
once, and never when a suite is only planned or validated.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from evalkit.clip import Clip
from evalkit.devices import DTypeName
from evalkit.generators.base import GenerationRequest, Generator

log = logging.getLogger(__name__)

# Frame rate each family's clips are meant to be played at (their model cards and export
# examples), used when the suite gives none.
DEFAULT_FPS: dict[str, float] = {
    "CogVideoXPipeline": 8.0,
    "WanPipeline": 16.0,
    "LTXPipeline": 24.0,
    "LTXConditionPipeline": 24.0,
    "HunyuanVideoPipeline": 15.0,
    "HunyuanVideo15Pipeline": 24.0,
    "MochiPipeline": 30.0,
    "AllegroPipeline": 15.0,
    "LattePipeline": 8.0,
    "TextToVideoSDPipeline": 8.0,
    "AnimateDiffPipeline": 8.0,
    "SkyReelsV2Pipeline": 24.0,
    "EasyAnimatePipeline": 8.0,
}
FALLBACK_FPS = 8.0

INSTALL_HINT = "pip install 'evalkit[diffusers]'"


class DiffusersOptions(BaseModel):
    """Options of the ``diffusers`` generator (None: the pipeline's own default)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        min_length=1, description="hub id (e.g. THUDM/CogVideoX-2b) or a pipeline folder "
                                  "(relative to the suite file)",
        json_schema_extra={"relative_path": "if_exists"})
    revision: str | None = Field(default=None, description="hub revision (branch, tag, commit)")
    variant: str | None = Field(default=None, description="weights variant, e.g. fp16")
    local_files_only: bool = Field(
        default=True, description="never download: the model must be in the cache or a folder")
    pipeline_class: str | None = Field(
        default=None, description="diffusers class to load with (default: model_index.json's)")
    dtype: DTypeName = Field(default="auto", description="auto: bfloat16/float16 on GPU, "
                                                         "float32 on CPU")
    device: str = Field(default="auto", description="auto (cuda, mps, cpu), cpu, cuda, cuda:1")
    cpu_offload: Literal["none", "model", "sequential"] = Field(
        default="none", description="move sub-models (or layers) to the GPU only while used")
    vae_tiling: bool = Field(default=False, description="decode the video in spatial tiles")
    vae_slicing: bool = Field(default=False, description="decode one video of a batch at a time")
    steps: int | None = Field(default=None, ge=1, le=1000, description="denoising steps")
    guidance: float | None = Field(default=None, ge=0, le=100, description="guidance scale")
    frames: int | None = Field(default=None, ge=1, le=10_000, description="frames per clip")
    height: int | None = Field(default=None, ge=8, le=8192, description="pixels")
    width: int | None = Field(default=None, ge=8, le=8192, description="pixels")
    fps: float | None = Field(default=None, gt=0, le=240,
                              description="frame rate of the written clip (default per family)")
    negative_prompt: str | None = Field(default=None, description="the same for every prompt")
    extra: dict[str, Any] = Field(default_factory=dict,
                                  description="more keyword arguments of the pipeline call")
    batch_size: int = Field(default=1, ge=1, le=256, description="prompts per pipeline call")


# Suite option -> keyword of the pipelines' __call__ (the ones every family shares).
_CALL_KEYWORDS = {"steps": "num_inference_steps", "guidance": "guidance_scale",
                  "frames": "num_frames", "height": "height", "width": "width",
                  "negative_prompt": "negative_prompt"}


class DiffusersGenerator(Generator):
    name = "diffusers"
    description = ("any text-to-video diffusers pipeline (CogVideoX, Wan, LTX-Video, ...) by hub "
                   "id or folder, offline by default")
    version = "1"
    Options = DiffusersOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._pipe: Any = None
        self._device: Any = None
        self._dtype: Any = None
        self._call_params: set[str] = set()
        self._accepts_any: bool = False
        self._commit: str | None = None
        self._fps: float = FALLBACK_FPS

    # -- planning (no weights are loaded) ---------------------------------------------------
    def check(self, requests: Sequence[GenerationRequest]) -> list[str]:
        try:
            import diffusers  # noqa: F401
        except ImportError:
            return [f"the diffusers generator needs the diffusers package: {INSTALL_HINT}"]
        if self.options.cpu_offload != "none":
            try:
                import accelerate  # noqa: F401
            except ImportError:
                return [f"cpu_offload needs the accelerate package: {INSTALL_HINT}"]
        problem = model_problem(self.options)
        return [problem] if problem else []

    # -- loading ----------------------------------------------------------------------------
    def load(self) -> Any:
        """The pipeline, loaded once (on first use) onto the resolved device and dtype."""
        if self._pipe is not None:
            return self._pipe
        from evalkit.devices import resolve_device, resolve_dtype
        from evalkit.progress import quiet_library_bars

        try:
            import diffusers
            import torch
        except ImportError as exc:
            raise RuntimeError(f"the diffusers generator needs diffusers: {INSTALL_HINT}"
                               ) from exc
        o = self.options
        problem = model_problem(o)
        if problem:
            raise RuntimeError(problem)
        device = resolve_device(o.device)
        dtype = resolve_dtype(o.dtype, device)
        cls = diffusers.DiffusionPipeline
        if o.pipeline_class:
            cls = getattr(diffusers, o.pipeline_class, None)
            if cls is None:
                raise ValueError(f"diffusers {diffusers.__version__} has no class "
                                 f"'{o.pipeline_class}'")
        start = time.perf_counter()
        diffusers.utils.logging.disable_progress_bar()
        with quiet_library_bars():
            pipe = cls.from_pretrained(o.model, dtype=dtype, revision=o.revision,
                                       variant=o.variant, local_files_only=o.local_files_only)
        if o.cpu_offload == "model":
            pipe.enable_model_cpu_offload(device=device)
        elif o.cpu_offload == "sequential":
            pipe.enable_sequential_cpu_offload(device=device)
        else:
            pipe.to(device)
        vae = getattr(pipe, "vae", None)
        for flag, method in ((o.vae_tiling, "enable_tiling"), (o.vae_slicing, "enable_slicing")):
            if flag:
                if vae is None or not hasattr(vae, method):
                    raise ValueError(f"{type(pipe).__name__}'s VAE has no {method}() "
                                     f"(option {'vae_tiling' if 'til' in method else 'vae_slicing'})")
                getattr(vae, method)()
        pipe.set_progress_bar_config(disable=True)
        params = inspect.signature(pipe.__call__).parameters
        self._call_params = set(params)
        self._accepts_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        self._check_call_keywords(type(pipe).__name__)
        self._commit = _hub_commit(o)
        self._fps = o.fps or DEFAULT_FPS.get(type(pipe).__name__, FALLBACK_FPS)
        self._pipe, self._device, self._dtype = pipe, device, dtype
        log.info("loaded %s (%s) on %s as %s in %.1f s", o.model, type(pipe).__name__, device,
                 str(dtype).removeprefix("torch."), time.perf_counter() - start)
        return pipe

    def _check_call_keywords(self, pipe_name: str) -> None:
        """An option the pipeline cannot take is an error, not silently ignored."""
        if self._accepts_any:
            return
        wanted = {_CALL_KEYWORDS[k]: k for k in _CALL_KEYWORDS
                  if getattr(self.options, k) is not None}
        wanted.update({k: f"extra.{k}" for k in self.options.extra})
        for keyword in ("prompt", "generator", "output_type"):
            wanted.setdefault(keyword, keyword)
        missing = [option for keyword, option in wanted.items() if keyword not in self._call_params]
        if missing:
            raise ValueError(f"{pipe_name} takes no '{missing[0]}'; its keywords: "
                             f"{', '.join(sorted(self._call_params - {'self'}))}")

    # -- generating -------------------------------------------------------------------------
    def call_kwargs(self, requests: Sequence[GenerationRequest]) -> dict[str, Any]:
        """Keyword arguments of one pipeline call for ``requests`` (one batch)."""
        import torch

        o = self.options
        kwargs: dict[str, Any] = {"output_type": "np"}
        for option, keyword in _CALL_KEYWORDS.items():
            value = getattr(o, option)
            if value is None:
                continue
            kwargs[keyword] = [value] * len(requests) if option == "negative_prompt" else value
        kwargs.update(o.extra)
        kwargs["prompt"] = [r.prompt for r in requests]
        # One generator per clip, on the CPU: the clip depends on its own seed only.
        kwargs["generator"] = [torch.Generator("cpu").manual_seed(int(r.seed)) for r in requests]
        return kwargs

    def generate(self, request: GenerationRequest) -> Clip:
        return self.generate_batch([request])[0]

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Clip]:
        import torch

        pipe = self.load()
        kwargs = self.call_kwargs(requests)
        start = time.perf_counter()
        with torch.inference_mode():
            out = pipe(**kwargs)
        seconds = time.perf_counter() - start
        videos = frames_to_uint8(out.frames if hasattr(out, "frames") else out[0])
        if len(videos) != len(requests):
            raise RuntimeError(f"the pipeline returned {len(videos)} videos for "
                               f"{len(requests)} prompts")
        meta = self.generation_metadata(kwargs)
        return [Clip(frames=v, fps=self._fps,
                     metadata={**meta, "seed": int(r.seed),
                               "generation_s": round(seconds / len(requests), 4)})
                for v, r in zip(videos, requests)]

    def generation_metadata(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """What made the clip, stored in its file and in the run's records."""
        import diffusers

        o = self.options
        params = {k: v for k, v in kwargs.items() if k not in ("prompt", "generator",
                                                                "output_type")}
        if "negative_prompt" in params:
            params["negative_prompt"] = o.negative_prompt
        return {
            "model": o.model,
            "model_commit": self._commit,
            "pipeline": type(self._pipe).__name__,
            "diffusers_version": diffusers.__version__,
            "dtype": str(self._dtype).removeprefix("torch."),
            "device": str(self._device),
            "cpu_offload": o.cpu_offload,
            "fps": self._fps,
            "call": _jsonable(params),
        }


def model_problem(options: DiffusersOptions) -> str | None:
    """Why the model cannot be loaded as configured (one line), or None; reads no weights."""
    model = options.model
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            return (f"'{model}' is a folder but not a diffusers pipeline (no model_index.json; "
                    "save one with pipe.save_pretrained(folder))")
        return None
    if path.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1:
        return f"diffusers model folder '{model}' does not exist"
    if not options.local_files_only:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - diffusers depends on it
        return f"diffusers model '{model}' cannot be looked up: {INSTALL_HINT}"
    found = try_to_load_from_cache(model, "model_index.json", revision=options.revision)
    if isinstance(found, str):
        return None
    rev = f" (revision {options.revision})" if options.revision else ""
    return (f"diffusers model '{model}'{rev} is not available offline: it is not a folder and "
            f"not in the Hugging Face cache; download it first (hf download {model}) or set "
            "local_files_only: false")


def _hub_commit(options: DiffusersOptions) -> str | None:
    """The cached snapshot's commit of a hub model (None for a folder)."""
    if Path(options.model).expanduser().is_dir():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(options.model, "model_index.json",
                                       revision=options.revision)
    except Exception:  # noqa: BLE001 - provenance only
        return None
    return Path(found).parent.name if isinstance(found, str) else None


def frames_to_uint8(frames: Any) -> list[np.ndarray]:
    """A pipeline's videos as uint8 ``(T, H, W, 3)`` arrays, one per prompt.

    Takes what pipelines return: numpy float ``(B, T, H, W, C)`` in [0, 1] (``output_type
    "np"``), a torch tensor ``(B, T, C, H, W)`` in [0, 1] (``"pt"``), or lists of PIL images.
    """
    if hasattr(frames, "detach"):  # torch (B, T, C, H, W)
        frames = frames.detach().float().cpu().permute(0, 1, 3, 4, 2).numpy()
    if isinstance(frames, np.ndarray):
        videos = list(frames) if frames.ndim == 5 else [frames]
    else:
        videos = [np.stack([np.asarray(img.convert("RGB")) if hasattr(img, "convert")
                            else np.asarray(img) for img in video]) for video in frames]
    out = []
    for video in videos:
        video = np.asarray(video)
        if video.dtype != np.uint8:
            video = np.clip(np.round(video.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
        if video.ndim == 4 and video.shape[-1] == 1:
            video = np.repeat(video, 3, axis=-1)
        if video.ndim != 4 or video.shape[-1] != 3:
            raise ValueError(f"unexpected video shape {video.shape} from the pipeline")
        out.append(np.ascontiguousarray(video))
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)
