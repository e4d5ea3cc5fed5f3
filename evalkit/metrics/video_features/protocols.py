"""FVD protocols: how each public FVD implementation turns a video into I3D input.

Every implementation embeds videos with the same Kinetics-400 I3D and then differs in the
details, which move FVD by 5-10 %: which frames, how frames are resized and cropped, the value
range, and the covariance estimate. A protocol here reproduces one implementation exactly (up to
float rounding), is chosen by name, and is recorded in every result.

==============  ===========  ==============================================  ======  ==========
protocol        frames       resize and crop                                  range   covariance
==============  ===========  ==============================================  ======  ==========
``styleganv``   first N      short side to 224 (bilinear, no antialias),     [-1,1]  unbiased
(default)                    centre crop 224x224
``tf``          first N      every frame to 224x224 (TF1 ``resize_bilinear``,  [-1,1]  unbiased
                             corner-aligned, aspect not kept), no crop
``cdfvd``       random       short side to 256 (bilinear with antialias),     [-1,1]  biased
                window of N  centre crop 256, to uint8 (truncated), then
                (seeded)     224x224 (bilinear, no antialias)
==============  ===========  ==============================================  ======  ==========

Sources (read at the commits in ``shared/research/eval_metrics.md``):

- ``tf``: google-research ``frechet_video_distance.py`` (``preprocess``: ``resize_bilinear`` then
  ``2x/255 - 1``) and TF-GAN's ``frechet_classifier_distance_from_activations`` (covariance over
  ``N - 1``). TF1's legacy bilinear samples source pixel ``i * in/out`` (no half-pixel offset).
- ``styleganv``: common_metrics_on_video_quality ``fvd/styleganv/fvd.py`` (``preprocess_single``
  on ``[0, 1]`` frames, then ``(x - 0.5) * 2``; ``np.cov``, so ``N - 1``), the StyleGAN-V port of
  the TF network.
- ``cdfvd``: the content-debiased FVD package ``cd-fvd`` 0.1.1 (``utils/data_utils.preprocess``
  at resolution 256, ``(x * 255).byte()``, ``third_party/i3d/utils.preprocess_i3d``;
  ``FeatureStats.get_mean_cov`` divides by ``N``). Its window start comes from its data loader's
  RNG; ours from a seeded generator, uniform over the same windows.

The default is ``styleganv``: the same network and range as the original, consecutive frames as
every protocol uses, and a centre crop that keeps the aspect ratio of non-square real video
(``tf`` squashes it), in the most widely used PyTorch FVD code. Choose ``tf`` to compare with
numbers from the original TensorFlow code, ``cdfvd`` with numbers from the cd-fvd package.

Each protocol prepares one frame at a time (:meth:`FVDProtocol.prepare_frame`), so a long or
high-resolution video is never held whole: a frame is decoded, reduced to model input, and
dropped.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from evalkit.metrics.video_features.protocol_names import DEFAULT_PROTOCOL

__all__ = [
    "CDFVD_RESOLUTION",
    "DEFAULT_PROTOCOL",
    "I3D_SIZE",
    "PROTOCOLS",
    "ClipTooShortError",
    "FVDProtocol",
    "get_protocol",
    "pick_frames",
    "tf1_resize_bilinear",
]

#: The I3D input size every protocol ends at.
I3D_SIZE = 224

FrameSelection = Literal["first", "random_window"]
Covariance = Literal["unbiased", "biased"]


class ClipTooShortError(ValueError):
    """A video has fewer frames than the protocol takes."""


# ----------------------------------------------------------------------------------------------
# Resizing, as each implementation does it
# ----------------------------------------------------------------------------------------------


def _frame_to_float(frame: np.ndarray) -> torch.Tensor:
    """uint8 ``(H, W, 3)`` → float32 ``(1, 3, H, W)`` in 0..255."""
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).unsqueeze(0).float()


def _short_side_size(h: int, w: int, resolution: int) -> tuple[int, int]:
    """Short side to ``resolution``, long side ``ceil`` of the same scale (both upstream codes)."""
    scale = resolution / min(h, w)
    return (resolution, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), resolution)


def _center_crop(x: torch.Tensor, resolution: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = (h - resolution) // 2, (w - resolution) // 2
    return x[..., top : top + resolution, left : left + resolution]


def _tf1_axis(n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source indices and weights of TF1's legacy bilinear along one axis."""
    scale = n_in / n_out
    src = torch.arange(n_out, dtype=torch.float64) * scale
    lo = torch.floor(src).long().clamp_(max=n_in - 1)
    hi = (lo + 1).clamp_(max=n_in - 1)
    frac = (src - lo.double()).float()
    return lo, hi, frac


def tf1_resize_bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """TF1 ``tf.image.resize_bilinear`` (``align_corners=False``, ``half_pixel_centers=False``).

    Output pixel ``i`` samples source coordinate ``i * in / out`` (corner-aligned, no half-pixel
    offset), clamped at the last row/column. ``x`` is float ``(..., H, W)``.
    """
    h_lo, h_hi, h_f = _tf1_axis(x.shape[-2], size[0])
    w_lo, w_hi, w_f = _tf1_axis(x.shape[-1], size[1])
    top, bottom = x[..., h_lo, :], x[..., h_hi, :]
    rows = top + (bottom - top) * h_f.view(-1, 1)
    left, right = rows[..., w_lo], rows[..., w_hi]
    return left + (right - left) * w_f


def _prepare_tf(frame: np.ndarray) -> torch.Tensor:
    x = tf1_resize_bilinear(_frame_to_float(frame), (I3D_SIZE, I3D_SIZE))
    return (2.0 * x / 255.0 - 1.0).clamp_(-1.0, 1.0)[0]


def _prepare_styleganv(frame: np.ndarray) -> torch.Tensor:
    x = _frame_to_float(frame) / 255.0
    x = F.interpolate(x, size=_short_side_size(*frame.shape[:2], I3D_SIZE), mode="bilinear",
                      align_corners=False)
    return ((_center_crop(x, I3D_SIZE) - 0.5) * 2.0)[0].contiguous()


CDFVD_RESOLUTION = 256


def _prepare_cdfvd(frame: np.ndarray) -> torch.Tensor:
    x = _frame_to_float(frame) / 255.0
    x = F.interpolate(x, size=_short_side_size(*frame.shape[:2], CDFVD_RESOLUTION), mode="bilinear",
                      align_corners=False, antialias=True)
    # cd-fvd stores the loader's [0, 1] frames as uint8 with `(x * 255).byte()`: truncation.
    x = (_center_crop(x, CDFVD_RESOLUTION) * 255).to(torch.uint8).float()
    x = F.interpolate(x, size=(I3D_SIZE, I3D_SIZE), mode="bilinear", align_corners=False)
    return (2.0 * x / 255.0 - 1.0)[0]


# ----------------------------------------------------------------------------------------------
# Protocols
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FVDProtocol:
    """One public FVD implementation's preprocessing and covariance (see the module docstring)."""

    name: str
    summary: str
    selection: FrameSelection
    covariance: Covariance
    prepare_frame: Callable[[np.ndarray], torch.Tensor]  # uint8 (H, W, 3) → float (3, 224, 224)
    source: str

    @property
    def ddof(self) -> int:
        """Degrees of freedom of the covariance: 1 for ``N - 1``, 0 for ``N``."""
        return 1 if self.covariance == "unbiased" else 0

    def describe(self) -> dict[str, str]:
        return {"protocol": self.name, "frame_sampling": self.selection, "covariance": self.covariance}


PROTOCOLS: dict[str, FVDProtocol] = {
    p.name: p
    for p in (
        FVDProtocol("styleganv", "first N frames; short side to 224, centre crop; [-1, 1]; cov / (N-1)",
                    "first", "unbiased", _prepare_styleganv,
                    "JunyaoHu/common_metrics_on_video_quality fvd/styleganv/fvd.py"),
        FVDProtocol("tf", "first N frames; TF1 bilinear to 224x224 (aspect not kept); [-1, 1]; cov / (N-1)",
                    "first", "unbiased", _prepare_tf,
                    "google-research frechet_video_distance.py + TF-GAN"),
        FVDProtocol("cdfvd", "random window of N frames; short side to 256 (antialias), crop, uint8, "
                    "bilinear 224; [-1, 1]; cov / N", "random_window", "biased", _prepare_cdfvd,
                    "cd-fvd 0.1.1 (songweige/content-debiased-fvd)"),
    )
}

# DEFAULT_PROTOCOL lives in the torch-free protocol_names (suite validation reads it).


def get_protocol(name: str) -> FVDProtocol:
    """The protocol called ``name``; a one-line error lists the known ones."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown FVD protocol {name!r}; choose from {', '.join(PROTOCOLS)}") from None


# ----------------------------------------------------------------------------------------------
# Frame selection over a stream
# ----------------------------------------------------------------------------------------------


FrameOpener = Callable[[int], Iterable[np.ndarray]]


def pick_frames(
    frames: Iterable[np.ndarray] | FrameOpener,
    protocol: FVDProtocol,
    num_frames: int,
    rng: np.random.Generator,
    total: int | Callable[[], int] | None = None,
    name: str = "video",
) -> torch.Tensor:
    """The protocol's ``num_frames`` frames of a video, prepared: float32 ``(3, N, 224, 224)``.

    Frames are consumed lazily and the source is closed as soon as the selection is complete,
    so a streamed file is decoded only up to the last frame used and only prepared frames are
    kept.

    Args:
        frames: uint8 ``(H, W, 3)`` frames in order (an array, an iterator from a decoder), or a
            function ``start -> frames from index start`` (a file reader that can seek), which
            a random window uses to start decoding at its first frame.
        protocol: which frames and how to prepare them.
        num_frames: N.
        rng: draws the window start for ``random_window`` selection.
        total: the video's frame count, or a function that returns it, needed for
            ``random_window`` (the start is uniform over ``total - N + 1`` windows).
        name: the video's name, for error messages.
    Raises:
        ClipTooShortError: the video has fewer than ``num_frames`` frames.
    """
    start = 0
    if protocol.selection == "random_window":
        if total is None:
            frames = list(frames(0) if callable(frames) else frames)
            count = len(frames)
        else:
            count = total() if callable(total) else int(total)
        if count < num_frames:
            raise ClipTooShortError(_too_short(name, count, protocol, num_frames))
        start = int(rng.integers(0, count - num_frames + 1))
    if callable(frames):
        source, skip = frames(start), 0
    else:
        source, skip = frames, start
    picked: list[torch.Tensor] = []
    seen = start - skip
    iterator: Iterator[np.ndarray] = iter(source)
    try:
        for index, frame in enumerate(iterator):
            seen += 1
            if index >= skip:
                picked.append(protocol.prepare_frame(frame))
                if len(picked) == num_frames:
                    break
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # stop the decoder: the rest of the file is never read
    if len(picked) < num_frames:
        raise ClipTooShortError(_too_short(name, seen, protocol, num_frames))
    return torch.stack(picked, dim=1)


def _too_short(name: str, count: int, protocol: FVDProtocol, num_frames: int) -> str:
    return (f"{name} has {count} frame(s); FVD protocol '{protocol.name}' takes {num_frames} "
            f"consecutive frames (set frames / --frames lower, at least 9 for I3D)")

