"""The real-video detector: a calibrated linear probe on frozen Kinetics-400 I3D features.

A clip becomes a few **windows** of 16 frames, each normalised the same way whatever the file
(so that container, frame rate, size and corners cannot carry the label):

- time: every ``stride``-th frame with ``stride = max(1, round(fps / 8))``, so a window spans
  about 2 s at any frame rate, without duplicated frames (a 6 fps clip keeps every frame);
- space: the central square of 80 % of the short side (logos and watermarks sit in corners),
  resized to 224 x 224 with antialiasing;
- values: RGB in [-1, 1].

Each window gives one feature vector (:class:`FeatureExtractor`, 5,091-d), from which the
training picks the parts that work (:data:`FEATURE_PARTS`; the probe stores the columns it uses):

======================  ========  ==================================================================
part                    size      what
======================  ========  ==================================================================
``i3d_mixed_3c_*``      480 + 480 mean and spread of I3D block ``Mixed_3c`` over time and space
                                  (low-level motion and texture)
``i3d_mixed_4f_*``      832 + 832 mean and spread of ``Mixed_4f`` (mid-level)
``i3d_mixed_5c_*``      1024 x 2  mean and spread of ``Mixed_5c``
``i3d_logits``          400       Kinetics-400 logits
``residual``            19        noise-residual statistics: energy, spectrum bands, temporal
                                  correlation of the high-pass residual, first- and second-order
                                  temporal differences (camera noise is independent from frame to
                                  frame; generated "noise" is not)
======================  ========  ==================================================================

The probe standardises the features and applies a logistic regression (L2), whose logit is then
Platt-calibrated; a clip's probability is that of the mean logit over its windows, and each window's
probability is reported as a segment with its time span. Training: ``detectors/train_probe.py``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "CROP_FRACTION",
    "FEATURE_DIM",
    "FEATURE_PARTS",
    "part_columns",
    "SIZE",
    "TARGET_FPS",
    "WINDOW",
    "FeatureExtractor",
    "LinearProbe",
    "normalise_window",
    "residual_features",
    "window_plan",
    "window_stride",
]

log = logging.getLogger(__name__)

WINDOW = 16
TARGET_FPS = 8.0
CROP_FRACTION = 0.8
SIZE = 224
FEATURE_PARTS = (("i3d_mixed_3c_mean", 480), ("i3d_mixed_3c_std", 480), ("i3d_mixed_4f_mean", 832),
                 ("i3d_mixed_4f_std", 832), ("i3d_mixed_5c_mean", 1024), ("i3d_mixed_5c_std", 1024),
                 ("i3d_logits", 400), ("residual", 19))
FEATURE_DIM = sum(n for _, n in FEATURE_PARTS)


# ----------------------------------------------------------------------------------------------
# Windows: which frames, and how they are normalised
# ----------------------------------------------------------------------------------------------


def window_stride(fps: float) -> int:
    """Frames skipped between window frames: a window spans ~2 s at any frame rate."""
    return max(1, int(round(float(fps) / TARGET_FPS))) if fps and math.isfinite(fps) else 1


def window_plan(num_frames: int, fps: float, max_windows: int = 8) -> list[tuple[int, int]]:
    """``[(start, stride), ...]``: windows spread evenly from the first frame to the last.

    As many windows as it takes to cover the clip (``ceil(frames / span)``, overlapping where
    they must), at most ``max_windows``. A clip shorter than one window gets a single window
    from frame 0 (padded by repeating its last frame, see :func:`normalise_window`).
    """
    stride = window_stride(fps)
    span = (WINDOW - 1) * stride + 1
    if num_frames <= span:
        return [(0, stride)]
    count = min(max_windows, math.ceil(num_frames / span))
    starts = np.linspace(0, num_frames - span, count).round().astype(int)
    return [(int(s), stride) for s in sorted(set(starts.tolist()))]


def normalise_frame(frame: np.ndarray) -> np.ndarray:
    """One uint8 ``(H, W, 3)`` frame → uint8 ``(224, 224, 3)``: central 80 % square, antialiased
    resize. Applied as each frame is decoded, so a window never holds full-size frames."""
    h, w = frame.shape[:2]
    side = max(1, int(round(min(h, w) * CROP_FRACTION)))
    top, left = (h - side) // 2, (w - side) // 2
    x = torch.from_numpy(np.ascontiguousarray(frame[top : top + side, left : left + side]))
    x = x.permute(2, 0, 1).unsqueeze(0).float()
    if side != SIZE:
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", antialias=side > SIZE, align_corners=False)
    return x[0].round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def normalise_window(frames: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """Up to 16 uint8 ``(H, W, 3)`` frames → uint8 ``(16, 224, 224, 3)``
    (:func:`normalise_frame` each); a short window is padded with its last frame."""
    return _pad_window([normalise_frame(frame) for frame in frames])


def _pad_window(out: list[np.ndarray]) -> np.ndarray:
    if not out:
        raise ValueError("a window needs at least one frame")
    while len(out) < WINDOW:
        out.append(out[-1])
    return np.stack(out[:WINDOW])


def read_windows(open_frames: Callable[[int, int], Iterable[np.ndarray]], plan: list[tuple[int, int]]
                 ) -> list[np.ndarray]:
    """Normalised windows of a video: ``open_frames(start, stride)`` gives the frames
    ``start, start + stride, ...`` (a slice of an array, or a seeking file reader that converts
    only those frames); the first 16 are kept. Each is normalised as it arrives, so memory holds
    one decoded frame and the small windows, whatever the resolution."""
    windows = []
    for start, stride in plan:
        picked: list[np.ndarray] = []
        iterator = iter(open_frames(start, stride))
        try:
            for frame in iterator:
                picked.append(normalise_frame(frame))
                del frame  # the decoder's next frame must not meet this one in memory
                if len(picked) == WINDOW:
                    break
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        if picked:
            windows.append(_pad_window(picked))
    return windows


def wanted_frames(plan: list[tuple[int, int]]) -> dict[int, list[int]]:
    """Frame index → the windows of ``plan`` that take it."""
    wanted: dict[int, list[int]] = {}
    for w, (start, stride) in enumerate(plan):
        for k in range(WINDOW):
            wanted.setdefault(start + k * stride, []).append(w)
    return wanted


def read_windows_one_pass(frames: Iterable[np.ndarray], plan: list[tuple[int, int]]) -> list[np.ndarray]:
    """:func:`read_windows` in one pass: ``frames`` are exactly the :func:`wanted_frames` of
    ``plan``, in order (e.g. ``iter_video_frames(only=...)``). For streams that cannot seek
    (GIFs) and for clips so short that seeking to each window would decode more than one pass."""
    wanted = wanted_frames(plan)
    picked: list[list[np.ndarray]] = [[] for _ in plan]
    iterator = iter(frames)
    try:
        for index, frame in zip(sorted(wanted), iterator):
            small = normalise_frame(frame)
            del frame
            for w in wanted[index]:
                picked[w].append(small)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    return [_pad_window(p) for p in picked if p]


def read_file_windows(video: Any, info: Any, num_frames: int, plan: list[tuple[int, int]],
                      **limits: Any) -> list[np.ndarray]:
    """The windows of a video file: one pass when the stream cannot seek (GIF) or when the
    windows cover at least half the clip (seeking would decode more: each seek starts at a key
    frame, up to hundreds of frames earlier); otherwise a seek per window. Either way only the
    frames a window takes are converted to RGB."""
    span = sum((WINDOW - 1) * stride + 1 for _, stride in plan)
    if info.codec == "gif" or 2 * span >= num_frames:
        wanted = wanted_frames(plan)
        return read_windows_one_pass(video.iter_frames(0, only=frozenset(wanted), **limits), plan)
    return read_windows(lambda start, stride: video.iter_frames(
        start, only=range(0, WINDOW * stride, stride), **limits), plan)


# ----------------------------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------------------------


def _gauss_kernel(sigma: float) -> torch.Tensor:
    radius = int(math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur(y: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Separable Gaussian blur of ``(T, 1, H, W)`` with reflect padding."""
    k = _gauss_kernel(sigma)
    r = k.numel() // 2
    y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(y, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))


def residual_features(window: np.ndarray) -> np.ndarray:
    """19 statistics of the high-pass noise residual of a uint8 ``(T, H, W, 3)`` window.

    Luma residual ``r = Y - blur(Y)``: log energy; its correlation between consecutive frames
    (mean, std); log energy in 4 radial frequency bands relative to the total; log energy of
    the first and second temporal differences of ``Y`` and of ``r`` and their ratios; kurtosis
    and mean absolute value of ``r``; fraction of near-zero residuals (flat, denoised regions);
    saturation (fraction of 0 / 255 pixels); colour residual energy relative to luma.
    """
    x = torch.from_numpy(window).float()  # (T, H, W, 3)
    luma = (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]).unsqueeze(1)  # (T, 1, H, W)
    res = (luma - _blur(luma))[:, 0]
    eps = 1e-6
    energy = res.pow(2).mean()
    flat = res.flatten(1)
    a, b = flat[:-1] - flat[:-1].mean(1, keepdim=True), flat[1:] - flat[1:].mean(1, keepdim=True)
    corr = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)
    spec = torch.fft.rfft2(res).abs().pow(2).mean(0)  # (H, W/2+1)
    fy = torch.fft.fftfreq(res.shape[1]).abs().view(-1, 1)
    fx = torch.fft.rfftfreq(res.shape[2]).view(1, -1)
    radius = torch.sqrt(fy**2 + fx**2)
    total = spec.sum() + eps
    bands = [spec[(radius >= lo) & (radius < hi)].sum() / total for lo, hi in
             ((0.0, 0.125), (0.125, 0.25), (0.25, 0.375), (0.375, 0.75))]
    d1, d2 = luma[1:] - luma[:-1], luma[2:] - 2 * luma[1:-1] + luma[:-2]
    r1, r2 = res[1:] - res[:-1], res[2:] - 2 * res[1:-1] + res[:-2]
    e = lambda t: torch.log(t.pow(2).mean() + eps)  # noqa: E731
    centred = res - res.mean()
    kurt = centred.pow(4).mean() / (centred.pow(2).mean() ** 2 + eps)
    chroma = x - x.mean(-1, keepdim=True)
    chroma_res = (chroma.permute(0, 3, 1, 2).reshape(-1, 1, *x.shape[1:3])
                  - _blur(chroma.permute(0, 3, 1, 2).reshape(-1, 1, *x.shape[1:3])))
    values = [
        torch.log(energy + eps), corr.mean(), corr.std(), *[torch.log(v + eps) for v in bands],
        e(d1), e(d2), e(d2) - e(d1), e(r1), e(r2), e(r1) - torch.log(energy + eps), e(r2) - e(r1),
        torch.log(kurt + eps), torch.log(res.abs().mean() + eps), (res.abs() < 0.5).float().mean(),
        ((x <= 0.5) | (x >= 254.5)).float().mean(), torch.log(chroma_res.pow(2).mean() + eps) - torch.log(energy + eps),
    ]
    return torch.stack([torch.as_tensor(v, dtype=torch.float32) for v in values]).double().numpy()


class FeatureExtractor:
    """Normalised windows ``(N, 16, 224, 224, 3)`` uint8 → features ``(N, 5091)`` float64.

    Args:
        model: an :class:`~evalkit.metrics.i3d.InceptionI3d` with DeepMind's weights (a
            batch-norm-fused ``channels_last_3d`` copy is used).
        weights: its :class:`~evalkit.metrics.i3d.I3DWeights` (recorded with the detector).
        batch_size: windows per forward pass. 2 keeps the pass at about +270 MB (8: +640 MB,
            measured on CPU) at the same speed, which is what lets the API bound its memory.
    """

    def __init__(self, model: torch.nn.Module, weights: Any = None, batch_size: int = 2) -> None:
        import copy

        model = copy.deepcopy(model).eval()
        model.fuse_batch_norm_()
        self.model = model.to(memory_format=torch.channels_last_3d)
        self.weights, self.batch_size = weights, batch_size

    @classmethod
    def from_installed(cls, weights_path: str | Path | None = None) -> FeatureExtractor:
        from evalkit.metrics.video_features.backbones import _i3d

        model, info = _i3d(str(weights_path) if weights_path else None, "cpu")
        return cls(model, info)

    @torch.inference_mode()
    def __call__(self, windows: np.ndarray | list[np.ndarray]) -> np.ndarray:
        windows = np.asarray(windows)
        out = []
        for i in range(0, len(windows), self.batch_size):
            batch = windows[i : i + self.batch_size]
            out.append(self.features(batch, self.endpoints(batch)[1]))
        return np.concatenate(out) if out else np.zeros((0, FEATURE_DIM))

    @torch.inference_mode()
    def endpoints(self, windows: np.ndarray) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """uint8 windows ``(B, 16, 224, 224, 3)`` → the network's input ``(B, 3, 16, 224, 224)``
        in [-1, 1] and I3D's block outputs (``Mixed_3c``, ``Mixed_4f``, ``Mixed_5c``) for it."""
        x = torch.from_numpy(np.asarray(windows)).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0
        x = x.contiguous(memory_format=torch.channels_last_3d)
        return x, self.model.endpoints(x)

    @torch.inference_mode()
    def features(self, windows: np.ndarray, ends: dict[str, torch.Tensor]) -> np.ndarray:
        """The ``(B, 5091)`` features of :data:`FEATURE_PARTS` from the windows and their
        :meth:`endpoints` (callers that need more of the block outputs compute them once)."""
        parts = []
        for name in ("Mixed_3c", "Mixed_4f", "Mixed_5c"):
            m = ends[name].flatten(2)
            parts += [m.mean(dim=2), m.std(dim=2)]
        parts.append(self.model.head(ends["Mixed_5c"]))
        i3d = torch.cat(parts, dim=1).double().numpy()
        res = np.stack([residual_features(w) for w in windows])
        return np.concatenate([i3d, res], axis=1)


# ----------------------------------------------------------------------------------------------
# The probe
# ----------------------------------------------------------------------------------------------


def part_columns(names: Iterable[str]) -> np.ndarray:
    """Column indices of the named :data:`FEATURE_PARTS` (in their order)."""
    offsets, start = {}, 0
    for name, size in FEATURE_PARTS:
        offsets[name] = np.arange(start, start + size)
        start += size
    unknown = set(names) - set(offsets)
    if unknown:
        raise ValueError(f"unknown feature parts {sorted(unknown)}")
    return np.concatenate([offsets[n] for n, _ in FEATURE_PARTS if n in set(names)])


@dataclasses.dataclass
class LinearProbe:
    """Standardise the chosen columns, then ``logit = x·w + b``; Platt ``p = sigmoid(a * logit + c)``."""

    mean: np.ndarray
    scale: np.ndarray
    w: np.ndarray
    b: float
    platt_a: float = 1.0
    platt_c: float = 0.0
    columns: np.ndarray | None = None  # indices into the full feature vector (None: all)

    def _select(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features)
        return features[..., self.columns] if self.columns is not None else features

    def logit(self, features: np.ndarray) -> np.ndarray:
        return ((self._select(features) - self.mean) / self.scale) @ self.w + self.b

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.platt_a * np.asarray(logits) + self.platt_c)))

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, l2: float = 1.0, sample_weight: np.ndarray | None = None,
            columns: np.ndarray | None = None) -> LinearProbe:
        """Class-balanced L2 logistic regression (L-BFGS, float64) on standardised features."""
        x = np.asarray(x, dtype=np.float64)
        if columns is not None:
            x = x[:, columns]
        y = np.asarray(y, dtype=np.float64)
        mean, scale = x.mean(0), x.std(0) + 1e-6
        a = torch.from_numpy((x - mean) / scale)
        t = torch.from_numpy(y)
        wts = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
        if sample_weight is not None:
            wts = wts * sample_weight
        sw = torch.from_numpy(wts / wts.mean())
        w = torch.zeros(a.shape[1], dtype=torch.float64, requires_grad=True)
        b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = (F.binary_cross_entropy_with_logits(a @ w + b, t, reduction="none") * sw).mean()
            loss = loss + l2 * (w @ w) / len(t)
            loss.backward()
            return loss

        opt.step(closure)
        return cls(mean, scale, w.detach().numpy().copy(), float(b.detach()), columns=columns)

    def fit_platt(self, logits: np.ndarray, y: np.ndarray) -> None:
        """Fit the calibration on held-out logits (class-balanced: a 50/50 prior)."""
        z = torch.from_numpy(np.asarray(logits, dtype=np.float64))
        t = torch.from_numpy(np.asarray(y, dtype=np.float64))
        wts = torch.where(t == 1, 0.5 / t.mean(), 0.5 / (1 - t.mean()))
        a = torch.ones(1, dtype=torch.float64, requires_grad=True)
        c = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([a, c], max_iter=200, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = (F.binary_cross_entropy_with_logits(a * z + c, t, reduction="none") * wts).mean()
            loss.backward()
            return loss

        opt.step(closure)
        self.platt_a, self.platt_c = float(a.detach()), float(c.detach())

    def state(self) -> dict[str, Any]:
        out = {"mean": torch.from_numpy(self.mean), "scale": torch.from_numpy(self.scale),
               "w": torch.from_numpy(self.w), "b": self.b, "platt_a": self.platt_a, "platt_c": self.platt_c}
        if self.columns is not None:
            out["columns"] = torch.from_numpy(np.asarray(self.columns, dtype=np.int64))
        return out

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LinearProbe:
        columns = state.get("columns")
        return cls(state["mean"].numpy(), state["scale"].numpy(), state["w"].numpy(), float(state["b"]),
                   float(state["platt_a"]), float(state["platt_c"]),
                   columns.numpy() if columns is not None else None)


# ----------------------------------------------------------------------------------------------
# The detector
# ----------------------------------------------------------------------------------------------


class ProbeDetector:
    """Loads a probe file and scores clips or files, window by window (module docstring).

    ``predict(clip)`` and ``predict_file(path)`` choose the same windows (from the frame count
    and frame rate) and so return the same probability for a file and its decoded clip; the file
    form decodes as a stream, seeking to each window, so memory does not grow with the length
    or the resolution of the video.
    """

    kind = "i3d-probe"

    def __init__(self, probe: LinearProbe, extractor: FeatureExtractor, thresholds: dict[str, float],
                 *, operating_points: dict[str, Any] | None = None, info: dict[str, Any] | None = None,
                 version: str = "probe", max_windows: int = 8) -> None:
        import threading

        self.probe, self.extractor = probe, extractor
        self.thresholds = dict(thresholds)
        self.operating_points = dict(operating_points or {})
        self.info = dict(info or {})
        self.version = version
        self.max_windows = max_windows
        self._lock = threading.Lock()

    @classmethod
    def from_state(cls, state: dict[str, Any], path: Path, extractor: FeatureExtractor | None = None
                   ) -> ProbeDetector:
        import hashlib

        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
        extractor = extractor or FeatureExtractor.from_installed()
        wanted = (state.get("info") or {}).get("i3d_weights") or {}
        have = extractor.weights.describe() if extractor.weights is not None else {}
        if wanted.get("weights_sha256") and have.get("weights_sha256") != wanted["weights_sha256"]:
            log.warning("%s was trained on I3D weights %s but %s are loaded: probabilities may be off",
                        path, str(wanted["weights_sha256"])[:12], str(have.get("weights_sha256"))[:12])
        return cls(LinearProbe.from_state(state["probe"]), extractor, state["thresholds"],
                   operating_points=state.get("operating_points"), info=state.get("info"),
                   version=f"{state['version']}+{digest}")

    def _predict(self, windows: list[np.ndarray], plan: list[tuple[int, int]], fps: float) -> Any:
        from detectors.detector import Prediction, Segment

        if not windows:
            raise ValueError("no frames to score")
        with self._lock:
            logits = self.probe.logit(self.extractor(np.stack(windows)))
        probs = self.probe.calibrated(logits)
        rate = fps if fps and fps > 0 else TARGET_FPS
        segments = [Segment(start / rate, (start + (WINDOW - 1) * stride + 1) / rate, float(p))
                    for (start, stride), p in zip(plan, probs)]
        mean = float(np.mean(logits))
        return Prediction(float(self.probe.calibrated(mean)), segments, {"probe": mean})

    def predict(self, clip: Any, fps: float | None = None) -> Any:
        """Probability that a clip (or uint8 ``(T, H, W, 3)`` frames) is AI-generated."""
        from evalkit.clip import Clip

        frames = clip.frames if isinstance(clip, Clip) else np.asarray(clip)
        rate = float(clip.fps) if isinstance(clip, Clip) else float(fps or TARGET_FPS)
        plan = window_plan(len(frames), rate, self.max_windows)
        return self._predict(read_windows(lambda start, stride: frames[start::stride], plan), plan, rate)

    def predict_file(self, path: str | Path, **limits: Any) -> Any:
        """:meth:`predict` of a video file, decoded as a stream (``limits``: as ``read_video``'s)."""
        from evalkit.video import VideoFile, probe_video

        video = VideoFile(Path(path))
        info = probe_video(video.path)
        total = video.count_frames()
        plan = window_plan(total, info.fps, self.max_windows)
        return self._predict(read_file_windows(video, info, total, plan, **limits), plan, info.fps)
