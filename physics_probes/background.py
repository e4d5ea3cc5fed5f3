"""Background model of a clip: a temporal median image plus a colour model of the background.

Two complementary views of "what is background":

* **Temporal median** ``image``: each pixel's median over time. A moving object covers a pixel for
  fewer than half of the frames, so it drops out; what differs from the median in a frame moved.
* **Colour model**: a robust Gaussian (mean, covariance) of the median image's colours. A plain or
  textured background forms one tight cluster (texture is mostly a luminance ripple); anything
  far from it in Mahalanobis distance looks like an object. This finds what the median cannot:
  objects at rest (they *are* the median) and walls. Its ``object_like`` mask marks them.

On real footage the colour cluster is broad, so ``object_like`` stays nearly empty and detection
falls back to plain temporal differencing.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

__all__ = ["BackgroundModel", "estimate_background", "temporal_median", "mahalanobis", "OBJECT_SIGMA", "BACKGROUND_SIGMA"]

#: Mahalanobis distance above which a colour is far from the background cluster (an object).
OBJECT_SIGMA = 6.0
#: Mahalanobis distance below which a colour is plainly background (used to reject "ghosts").
BACKGROUND_SIGMA = 3.5
#: Floor on the per-channel standard deviation of the colour model (grey levels): a perfectly
#: plain background would otherwise give a singular covariance.
MIN_COLOUR_STD = 4.0
#: At most this many pixels feed the colour model (a strided subsample): it is a 3x3 covariance.
_MAX_MODEL_PIXELS = 2048
#: Clips up to this many frames take their median by a sorting network (else ``np.median``).
_MAX_NETWORK_FRAMES = 64
#: About this many (strided) pixel differences feed the noise estimate.
_MAX_NOISE_SAMPLES = 4096


@dataclasses.dataclass(frozen=True, eq=False)
class BackgroundModel:
    """What the background of a clip looks like.

    Attributes:
        image: ``(H, W, 3)`` float32 temporal median of the frames.
        colour_mean: ``(3,)`` float32 robust mean background colour.
        colour_inv_cov: ``(3, 3)`` float32 inverse covariance of the background colours.
        noise: robust standard deviation (grey levels, RGB distance) of frames about ``image``.
        object_like: ``(H, W)`` bool, pixels of ``image`` far from the background colour model
            (objects at rest, walls).
        unusual: ``(H, W)`` bool, pixels of ``image`` not plainly background (a superset of
            ``object_like``): where the median may hold part of an object, so a frame pixel
            that looks like plain background there is a ghost, not a moving object.
    """

    image: np.ndarray
    colour_mean: np.ndarray
    colour_inv_cov: np.ndarray
    noise: float
    object_like: np.ndarray
    unusual: np.ndarray


def mahalanobis(pixels: np.ndarray, mean: np.ndarray, inv_cov: np.ndarray) -> np.ndarray:
    """Mahalanobis distance of ``(..., 3)`` colours from ``mean``; returns ``(...)`` float32."""
    shape = pixels.shape[:-1]
    d = pixels.reshape(-1, 3).astype(np.float32, copy=False) - mean
    # (N, 3) @ (3, 3) then a row-wise dot: far faster than a generic einsum on big inputs.
    q = ((d @ inv_cov) * d).sum(axis=1)
    return np.sqrt(np.maximum(q, 0.0)).reshape(shape)


def _colour_model(image: np.ndarray, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Robust ``(mean, inv_cov)`` of the colours of ``image`` ``(H, W, 3)``.

    Starts from the per-channel median and the covariance of the central 75% of pixels by
    distance, then twice re-estimates on the pixels within 3 sigma, so objects (a minority of
    pixels) do not inflate it.
    """
    px = image.reshape(-1, 3)
    if px.shape[0] > _MAX_MODEL_PIXELS:
        px = px[:: px.shape[0] // _MAX_MODEL_PIXELS + 1]
    px = px.astype(np.float64)
    mean = np.median(px, axis=0)
    dist = np.linalg.norm(px - mean, axis=1)
    keep = dist <= np.quantile(dist, 0.75)
    floor = np.eye(3) * max(MIN_COLOUR_STD, noise) ** 2
    cov = floor
    for _ in range(3):
        sel = px[keep]
        if sel.shape[0] >= 4:
            mean = sel.mean(axis=0)
            cov = np.cov(sel, rowvar=False) + floor
        inv = np.linalg.inv(cov)
        d = px - mean
        keep = np.einsum("ni,ij,nj->n", d, inv, d) <= 9.0
    return mean.astype(np.float32), np.linalg.inv(cov).astype(np.float32)


@functools.lru_cache(maxsize=64)
def _merge_exchange_network(n: int) -> tuple[tuple[int, int], ...]:
    """Comparators ``(i, j)``, ``i < j``, of Batcher's merge-exchange sorting network for ``n``
    inputs (Knuth, TAOCP 5.2.2, Algorithm M), pruned to those the middle outputs depend on."""
    t = max(1, int(np.ceil(np.log2(n))))
    pairs: list[tuple[int, int]] = []
    p = 1 << (t - 1)
    while p > 0:
        q, r, d = 1 << (t - 1), 0, p
        while True:
            pairs.extend((i, i + d) for i in range(n - d) if i & p == r)
            if q == p:
                break
            d, q, r = q - p, q >> 1, p
        p >>= 1
    needed = {(n - 1) // 2, n // 2}
    kept = []
    for i, j in reversed(pairs):  # keep a comparator when a later-needed wire passes it
        if i in needed or j in needed:
            kept.append((i, j))
            needed |= {i, j}
    return tuple(reversed(kept))


def temporal_median(frames: np.ndarray) -> np.ndarray:
    """Per-pixel median over axis 0 of ``(T, ...)`` frames, as float32.

    For short clips a sorting network of element-wise min/max over whole frames (on the
    frames' own dtype, e.g. uint8) is several times faster than ``np.median``'s partition.
    """
    t_len = frames.shape[0]
    if t_len == 1:
        return frames[0].astype(np.float32)
    if t_len > _MAX_NETWORK_FRAMES:
        return np.median(frames, axis=0).astype(np.float32, copy=False)
    wires = list(frames)
    for i, j in _merge_exchange_network(t_len):
        a, b = wires[i], wires[j]
        wires[i], wires[j] = np.minimum(a, b), np.maximum(a, b)
    lo, hi = wires[(t_len - 1) // 2], wires[t_len // 2]
    return (lo.astype(np.float32) + hi.astype(np.float32)) * np.float32(0.5)


def estimate_background(frames: np.ndarray, image: np.ndarray | None = None) -> BackgroundModel:
    """Background model of ``frames``: float32 ``(T, H, W, 3)`` in ``[0, 255]``; ``image``: its
    temporal median when already known (e.g. computed on the uint8 frames)."""
    if image is None:
        image = temporal_median(frames)
    if frames.shape[0] > 2:
        # Robust noise from a strided sample of |frame - median|: moving objects are a minority.
        # At most ~_MAX_NOISE_SAMPLES values: a robust scale needs no more.
        k = max(1, int(np.sqrt(frames[..., 0].size / _MAX_NOISE_SAMPLES)))
        sample = frames[:, ::k, ::k] - image[None, ::k, ::k]
        dist = np.sqrt((sample * sample).sum(axis=-1))
        noise = float(1.4826 * np.median(dist))
    else:
        noise = 0.0
    noise = max(noise, 1.0)
    mean, inv_cov = _colour_model(image, noise)
    m = mahalanobis(image, mean, inv_cov)
    return BackgroundModel(image=image.astype(np.float32, copy=False), colour_mean=mean,
                           colour_inv_cov=inv_cov, noise=noise, object_like=m > OBJECT_SIGMA,
                           unusual=m > BACKGROUND_SIGMA)
