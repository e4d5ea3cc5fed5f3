"""Training data for the detectors: labelled clip windows from folders, grouped by source.

A *source* is one folder (its name is the source name, used by leave-one-source-out
evaluation). A folder may hold video files (any format :func:`evalkit.video.read_video` reads;
searched recursively) and/or ``.npz`` shards with a ``clips`` array ``(N, T, S, S, 3)`` uint8
already at working resolution (what ``detectors make-data`` writes). Every clip gets a *group*
id (its source file) so train/test splits never put windows of the same file on both sides.

Video files are cut into random windows of :data:`~detectors.preprocess.WINDOW` frames with a
random square crop (half to all of the short side), area-resized to the working size.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detectors.preprocess import WINDOW, WORK_SIZE, area_resize

__all__ = ["LabelledClips", "load_sources", "random_windows", "read_source", "write_shard",
           "split_groups"]

log = logging.getLogger(__name__)

MAX_FRAMES_PER_FILE = 600


@dataclasses.dataclass
class LabelledClips:
    """Clips with labels.

    Attributes:
        clips: uint8 ``(N, T, S, S, 3)``.
        labels: int ``(N,)``, 1 = AI-generated, 0 = real.
        sources: str ``(N,)`` source (folder) names.
        groups: str ``(N,)`` group ids (source file), for leakage-free splits.
    """

    clips: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    groups: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, mask: np.ndarray) -> LabelledClips:
        return LabelledClips(self.clips[mask], self.labels[mask], self.sources[mask],
                             self.groups[mask])

    @staticmethod
    def concat(parts: Sequence[LabelledClips]) -> LabelledClips:
        return LabelledClips(*(np.concatenate([getattr(p, f.name) for p in parts])
                               for f in dataclasses.fields(LabelledClips)))


def random_windows(frames: np.ndarray, n: int, rng: np.random.Generator,
                   window: int = WINDOW, size: int = WORK_SIZE,
                   crop_range: tuple[float, float] = (0.5, 1.0)) -> np.ndarray:
    """``n`` random windows ``(n, window, size, size, 3)`` of ``(T, H, W, 3)`` frames, each a
    random square crop (side = ``crop_range`` x the short side) area-resized to ``size``.
    Clips shorter than ``window`` repeat their last frame."""
    t, h, w, _ = frames.shape
    if t < window:
        frames = np.concatenate([frames, np.repeat(frames[-1:], window - t, axis=0)])
        t = window
    out = np.empty((n, window, size, size, 3), np.uint8)
    for i in range(n):
        t0 = int(rng.integers(0, t - window + 1))
        side = max(8, int(min(h, w) * rng.uniform(*crop_range)))
        y0 = int(rng.integers(0, h - side + 1))
        x0 = int(rng.integers(0, w - side + 1))
        crop = frames[t0:t0 + window, y0:y0 + side, x0:x0 + side]
        out[i] = area_resize(np.ascontiguousarray(crop), size, size)
    return out


def write_shard(path: Path, clips: np.ndarray, groups: Sequence[str]) -> Path:
    """Save clips ``(N, T, S, S, 3)`` uint8 with their group ids as an ``.npz`` shard."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, clips=clips, groups=np.asarray(groups, dtype=str))
    return path


def read_source(folder: Path, label: int, rng: np.random.Generator,
                windows_per_file: int = 8) -> LabelledClips:
    """All clips of one source folder (videos are cut into ``windows_per_file`` windows)."""
    from evalkit.video import VideoReadError, find_videos, read_video

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"source folder '{folder}' does not exist")
    clips: list[np.ndarray] = []
    groups: list[str] = []
    for shard in sorted(folder.rglob("*.npz")):
        with np.load(shard) as z:
            c = z["clips"]
            g = z["groups"] if "groups" in z else np.array([f"{shard.name}:{i}"
                                                             for i in range(len(c))])
        if c.ndim != 5 or c.dtype != np.uint8:
            raise ValueError(f"{shard}: 'clips' must be uint8 (N, T, S, S, 3), got {c.shape}")
        if c.shape[2:4] != (WORK_SIZE, WORK_SIZE):
            c = np.stack([area_resize(x, WORK_SIZE, WORK_SIZE) for x in c])
        clips.extend(c)
        groups.extend(f"{folder.name}/{x}" for x in g)
    for video in find_videos(folder, recursive=True):
        try:
            frames = read_video(video, first_frames=MAX_FRAMES_PER_FILE).frames
        except VideoReadError as exc:
            log.warning("skipping %s", exc)
            continue
        w = random_windows(frames, windows_per_file, rng)
        clips.extend(w)
        groups.extend([f"{folder.name}/{video.relative_to(folder)}"] * len(w))
    if not clips:
        raise ValueError(f"source folder '{folder}' holds no videos or .npz shards")
    n = len(clips)
    log.info("source %s: %d clips from %d groups (label %d)", folder.name, n, len(set(groups)),
             label)
    return LabelledClips(np.stack(clips), np.full(n, label), np.full(n, folder.name, dtype=object),
                         np.asarray(groups, dtype=object))


def load_sources(real: Sequence[Path], fake: Sequence[Path], seed: int = 0,
                 windows_per_file: int = 8) -> LabelledClips:
    """Real and fake source folders as one labelled set."""
    rng = np.random.default_rng(seed)
    parts = [read_source(Path(p), 0, rng, windows_per_file) for p in real]
    parts += [read_source(Path(p), 1, rng, windows_per_file) for p in fake]
    names = [Path(p).name for p in [*real, *fake]]
    if len(set(names)) != len(names):
        raise ValueError(f"source folder names must be distinct, got {names}")
    return LabelledClips.concat(parts)


def _unit(text: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def split_groups(groups: np.ndarray, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
                 salt: str = "split-v1") -> np.ndarray:
    """Assign each clip to split 0 (train), 1 (calibration) or 2 (test) by a hash of its group
    id with a *shared* key across sources: a fake made from file X lands in the same split as
    the windows of X (groups are compared on the part after the source folder name)."""
    cut1, cut2 = fractions[0], fractions[0] + fractions[1]
    out = np.empty(len(groups), np.int64)
    for i, g in enumerate(groups):
        key = str(g).split("/", 1)[-1]
        u = _unit(key, salt)
        out[i] = 0 if u < cut1 else 1 if u < cut2 else 2
    return out
