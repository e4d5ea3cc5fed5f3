"""Synthetic camera footage of known scale, for tests and benchmarks of the footage tracker.

Real clips of falls rarely come with a scale, so this module films the world's physics
(:func:`evalkit.world.physics.trajectory`) the way a camera would: a textured, coloured room,
sensor noise, lighting that drifts and flickers, motion blur over the exposure, a hand that
holds the ball and then moves away (a second moving object), and a hand-held camera that
shakes and may pan. The scale (pixels per metre of the scene plane) and g are known exactly,
so the probes' g can be checked against them.

Kinds (:data:`KINDS`): ``drop`` (a ball released from a hand: the positive case), ``toss`` (a
ball thrown sideways: a projectile), and clips without any fall that no motion probe may pass:
``car`` (a car driving across a road), ``walk`` (a person walking across, bobbing), ``static``
(nothing moves) and ``pan`` (the camera pans over an empty scene).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import cv2
import numpy as np

__all__ = ["FootageSpec", "KINDS", "NEGATIVE_KINDS", "WRONG", "iter_footage", "render_footage",
           "ball_truth_px"]

KINDS = ("drop", "toss", "car", "walk", "static", "pan")
NEGATIVE_KINDS = ("car", "walk", "static", "pan")
WRONG = ("vanish", "teleport", "grow", "recolour")
_BALL_RGB = (235, 120, 20)
_SKIN_RGB = (225, 170, 140)
_SUBSAMPLES = 3  # positions averaged over the exposure (motion blur)
_NOISE_FIELDS = 7


@dataclasses.dataclass(frozen=True)
class FootageSpec:
    """One synthetic camera clip.

    Attributes:
        kind: one of :data:`KINDS`.
        height, width: frame size; fps: frame rate; seconds: duration.
        pixels_per_metre: scale of the scene plane (the ball's plane).
        g_mps2: gravity of the fall.
        ball_radius_m: the ball's radius.
        release_s: when the hand lets go (``drop``/``toss``).
        shake_px: standard deviation of the hand-held camera's shake (pixels).
        pan_px_s: camera pan speed (pixels per second, rightwards).
        noise: sensor noise standard deviation (grey levels).
        light_drift: share by which the light dims over the clip (plus a 2% flicker).
        hand: draw the hand (a distractor that moves).
        seed: randomness of texture, shake and noise.
        frame_times_s: the frames' times (a variable frame rate); default ``i / fps``.
        wrong: broken physics for the ball (what a generator gets wrong): ``vanish`` (gone
            from ``wrong_at_s`` on, in open view), ``teleport`` (jumps sideways by a fifth of
            the frame at ``wrong_at_s``), ``grow`` (radius up 150% per second of fall),
            ``recolour`` (turns blue at ``wrong_at_s``); None: none.
        wrong_at_s: when the ``wrong`` event happens.
    """

    kind: str = "drop"
    height: int = 360
    width: int = 640
    fps: float = 30.0
    seconds: float = 1.5
    pixels_per_metre: float = 250.0
    g_mps2: float = 9.81
    ball_radius_m: float = 0.06
    release_s: float = 0.3
    shake_px: float = 1.5
    pan_px_s: float = 0.0
    noise: float = 3.0
    light_drift: float = 0.12
    hand: bool = True
    seed: int = 0
    frame_times_s: tuple[float, ...] | None = None
    wrong: str | None = None
    wrong_at_s: float = 0.6

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown footage kind {self.kind!r}; choose from {KINDS}")
        if self.wrong not in (None, *WRONG):
            raise ValueError(f"unknown wrong physics {self.wrong!r}; choose from {WRONG}")

    @property
    def num_frames(self) -> int:
        if self.frame_times_s is not None:
            return len(self.frame_times_s)
        return int(round(self.seconds * self.fps))

    @property
    def times_s(self) -> np.ndarray:
        """``(T,)`` frame times in seconds."""
        if self.frame_times_s is not None:
            return np.asarray(self.frame_times_s, dtype=np.float64)
        return np.arange(self.num_frames) / self.fps

    @property
    def g_px_s2(self) -> float:
        return self.g_mps2 * self.pixels_per_metre


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A room-like coloured texture: smooth colour fields, fine grain and a few boxes."""
    img = np.zeros((h, w, 3), np.float32)
    for scale, amp in ((64, 40.0), (16, 20.0), (4, 8.0)):
        small = rng.normal(0, 1, (max(2, h // scale), max(2, w // scale), 3)).astype(np.float32)
        img += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img += np.array([120, 115, 105], np.float32)
    for _ in range(12):  # furniture, posters
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        x1 = min(w, x0 + int(rng.integers(20, max(21, w // 6))))
        y1 = min(h, y0 + int(rng.integers(20, max(21, h // 4))))
        colour = rng.uniform(40, 200, 3).astype(np.float32)
        img[y0:y1, x0:x1] = 0.5 * img[y0:y1, x0:x1] + 0.5 * colour
    return np.clip(img, 0, 255)


def ball_truth_px(spec: FootageSpec, times_s: np.ndarray) -> np.ndarray:
    """``(T, 2)`` ball centre in scene pixels (before the camera) at ``times_s``; the ball
    rests in the hand until ``release_s``, then follows the world's physics."""
    from evalkit.world.physics import trajectory
    from evalkit.world.scene import Motion, ObjectSpec

    ppm = spec.pixels_per_metre
    x0 = 0.35 * spec.width / ppm
    y0 = 0.12 * spec.height / ppm
    if spec.kind == "toss":
        obj = ObjectSpec(motion=Motion.PROJECTILE, size_m=spec.ball_radius_m, x0_m=x0,
                         y0_m=y0, vx_mps=0.35 * spec.width / ppm / max(spec.seconds, 0.1),
                         vy_mps=-1.0)
    else:
        obj = ObjectSpec(motion=Motion.FREEFALL, size_m=spec.ball_radius_m, x0_m=x0, y0_m=y0)
    t = np.maximum(np.asarray(times_s, dtype=np.float64) - spec.release_s, 0.0)
    traj = trajectory(obj, t, spec.g_mps2, floor_y_m=1e9)
    return traj.position_m * ppm


def _camera(spec: FootageSpec, rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 2, 3)`` scene -> view maps: pan plus a smoothed random shake and a little roll."""
    shake = rng.normal(0, 1, (n + 8, 3)).cumsum(axis=0)
    shake = cv2.blur(shake.astype(np.float32), (1, 5))[4:n + 4]
    shake -= shake.mean(axis=0)
    shake /= max(float(shake[:, :2].std()), 1e-6)
    out = np.zeros((n, 2, 3))
    for i in range(n):
        dx = spec.shake_px * shake[i, 0] - spec.pan_px_s * i / spec.fps
        dy = spec.shake_px * shake[i, 1]
        angle = 0.1 * spec.shake_px * shake[i, 2] / 10.0  # degrees
        m = cv2.getRotationMatrix2D((spec.width / 2, spec.height / 2), angle, 1.0)
        m[:, 2] += (dx, dy)
        out[i] = m
    return out


def _draw_disc(layer: np.ndarray, alpha: np.ndarray, centres: np.ndarray, r: float,
               colour: tuple[int, int, int]) -> None:
    """Blend a blurred (averaged over ``centres``) antialiased disc into ``layer``/``alpha``."""
    shift = 4
    mask = np.zeros(alpha.shape, np.float32)
    for cx, cy in centres:
        one = np.zeros(alpha.shape, np.uint8)
        cv2.circle(one, (int(round(cx * 16)), int(round(cy * 16))), int(round(r * 16)), 255,
                   -1, cv2.LINE_AA, shift)
        mask += one.astype(np.float32) / 255.0
    mask /= len(centres)
    shade = np.clip(1.15 - 0.35 * (np.arange(alpha.shape[0])[:, None] - centres[:, 1].mean())
                    / max(r, 1.0), 0.7, 1.2)
    for c in range(3):
        layer[..., c] = layer[..., c] * (1 - mask) + mask * np.clip(colour[c] * shade, 0, 255)
    np.maximum(alpha, mask, out=alpha)


def iter_footage(spec: FootageSpec) -> Iterator[np.ndarray]:
    """The clip's frames, uint8 ``(H, W, 3)`` RGB, one at a time (any length, bounded memory)."""
    rng = np.random.default_rng(spec.seed)
    h, w, n = spec.height, spec.width, spec.num_frames
    margin = int(4 * spec.shake_px + 16)
    pan_total = int(np.ceil(spec.pan_px_s * spec.seconds))
    canvas = _texture(rng, h + 2 * margin, w + 2 * margin + pan_total)
    road_y = int(0.72 * h)
    if spec.kind == "car":
        canvas[margin + road_y:, :] = 0.3 * canvas[margin + road_y:, :] + 0.7 * 70
    cams = _camera(spec, rng, n)
    for m in cams:
        m[:, 2] -= m[:, :2] @ np.array([margin, margin])  # canvas -> view (canvas has margins)
    dt = 1.0 / spec.fps
    exposure = np.linspace(-0.25, 0.25, _SUBSAMPLES) * dt
    ppm = spec.pixels_per_metre
    r_px = spec.ball_radius_m * ppm
    times = spec.times_s
    # Sensor noise: a few independent fields reused in turn (drawing a fresh 1080p field per
    # frame would cost more than the rest of the frame).
    noise = [rng.normal(0, spec.noise, (h, w, 3)).astype(np.float32)
             for _ in range(min(n, _NOISE_FIELDS))]
    for i in range(n):
        t = float(times[i])
        world = canvas.copy()
        alpha = np.zeros(world.shape[:2], np.float32)
        off = np.array([margin, margin], np.float64)
        if spec.kind in ("drop", "toss"):
            centres = ball_truth_px(spec, t + exposure) + off
            late = t >= spec.wrong_at_s
            radius, colour = r_px, _BALL_RGB
            if spec.wrong == "teleport" and late:
                centres[:, 0] += 0.2 * w
            if spec.wrong == "grow":
                radius = r_px * (1.0 + 1.5 * max(0.0, t - spec.release_s))
            if spec.wrong == "recolour" and late:
                colour = (40, 90, 230)
            if not (spec.wrong == "vanish" and late):
                _draw_disc(world, alpha, centres, radius, colour)
            if spec.hand:
                hx, hy = ball_truth_px(spec, np.array([0.0]))[0] + off
                away = max(0.0, t - spec.release_s)
                hx += -0.6 * w * away / max(spec.seconds, 0.1)
                hy -= 1.2 * r_px + 10 * away
                cv2.ellipse(world, (int(hx), int(hy)), (int(1.6 * r_px), int(1.1 * r_px)), 0, 0,
                            360, _SKIN_RGB, -1, cv2.LINE_AA)
                cv2.rectangle(world, (int(hx - 0.6 * r_px), int(hy - 4 * r_px)),
                              (int(hx + 0.6 * r_px), int(hy)), _SKIN_RGB, -1, cv2.LINE_AA)
        elif spec.kind == "car":
            x = -0.3 * w + 1.6 * w * t / spec.seconds + off[0]
            y = road_y + off[1]
            cv2.rectangle(world, (int(x), int(y - 0.1 * h)), (int(x + 0.25 * w), int(y)),
                          (30, 60, 170), -1, cv2.LINE_AA)
            cv2.rectangle(world, (int(x + 0.05 * w), int(y - 0.17 * h)),
                          (int(x + 0.18 * w), int(y - 0.1 * h)), (40, 70, 160), -1)
            for wx in (0.05, 0.2):
                cv2.circle(world, (int(x + wx * w), int(y)), int(0.03 * h), (20, 20, 20), -1,
                           cv2.LINE_AA)
        elif spec.kind == "walk":
            x = 0.1 * w + 0.6 * w * t / spec.seconds + off[0]
            bob = 0.015 * h * np.sin(2 * np.pi * 2.0 * t)
            y = 0.35 * h + bob + off[1]
            cv2.ellipse(world, (int(x), int(y + 0.2 * h)), (int(0.04 * w), int(0.16 * h)), 0, 0,
                        360, (60, 60, 110), -1, cv2.LINE_AA)
            cv2.circle(world, (int(x), int(y)), int(0.05 * h), _SKIN_RGB, -1, cv2.LINE_AA)
            step = 0.03 * w * np.sin(2 * np.pi * 2.0 * t)
            for s in (-1, 1):
                cv2.line(world, (int(x), int(y + 0.33 * h)),
                         (int(x + s * step), int(y + 0.5 * h)), (50, 50, 60), 6, cv2.LINE_AA)
        light = (1.0 - spec.light_drift * i / max(n - 1, 1)) * (
            1.0 + 0.02 * np.sin(2 * np.pi * 3.1 * t))
        view = cv2.warpAffine(world, cams[i], (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
        view = view * light + noise[i % len(noise)]
        yield np.clip(view, 0, 255).astype(np.uint8)


def render_footage(spec: FootageSpec) -> np.ndarray:
    """All frames of :func:`iter_footage` as uint8 ``(T, H, W, 3)`` (small clips only)."""
    return np.stack(list(iter_footage(spec)))
