"""Tests for the physics world (evalkit.world): spec, truth, pixels, prompts, sampling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from evalkit.clip import Clip
from evalkit.world import (
    BACKGROUND_PALETTE,
    IN_DISTRIBUTION,
    OCCLUDER_PALETTE,
    OUT_OF_DISTRIBUTION,
    PALETTE,
    REGIONS,
    VISIBLE_THRESHOLD,
    Background,
    GroundTruth,
    Motion,
    ObjectSpec,
    Occluder,
    ParameterRanges,
    SceneSpec,
    ground_truth,
    motion_from_words,
    parse_prompt,
    prompt_for,
    render,
    sample_scene,
    trajectory,
)
from evalkit.world.geometry import disc_rect_area
from evalkit.world.palette import MIN_OBJECT_BACKGROUND_DISTANCE, colour_distance
from evalkit.world.sampling import MIN_IN_VIEW_SHARE

# -- helpers ---------------------------------------------------------------------------------


def _scene(*objects: ObjectSpec, **kw) -> SceneSpec:
    return SceneSpec(objects=objects, **kw)


def _alpha(frames: np.ndarray, bg: str, colour: str) -> np.ndarray:
    """Recover per-pixel object coverage from frames over a plain background: ``(T, H, W)``."""
    b = np.asarray(BACKGROUND_PALETTE[bg], dtype=np.float64)
    c = np.asarray(PALETTE[colour], dtype=np.float64)
    ch = np.abs(c - b) > 20  # channels where the colours differ enough to read alpha
    return ((frames.astype(np.float64)[..., ch] - b[ch]) / (c - b)[ch]).mean(-1)


def _occluded_scene(shape: str = "ball") -> SceneSpec:
    obj = ObjectSpec(shape=shape, colour="red", motion="occluded", size_m=1.6, x0_m=3.0,
                     y0_m=12.8, vx_mps=10.0)
    return _scene(obj, occluder=Occluder(x_m=12.0, width_m=6.0, colour="brown"))


# -- import and palette ----------------------------------------------------------------------


def test_import_is_light():
    code = ("import sys, evalkit.world; "
            "bad = [m for m in ('torch', 'av', 'scipy') if m in sys.modules]; "
            "assert not bad, bad")
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=root)


def test_palettes_are_separated():
    assert len(PALETTE) >= 8
    assert {"red", "green", "blue", "yellow", "orange", "purple", "cyan", "white"} <= set(PALETTE)
    # Name sets are disjoint so a colour word says what it names.
    assert not set(PALETTE) & set(BACKGROUND_PALETTE)
    assert not set(PALETTE) & set(OCCLUDER_PALETTE)
    for c in PALETTE.values():
        for b in BACKGROUND_PALETTE.values():
            assert colour_distance(c, b) >= MIN_OBJECT_BACKGROUND_DISTANCE
        for o in OCCLUDER_PALETTE.values():
            assert colour_distance(c, o) >= MIN_OBJECT_BACKGROUND_DISTANCE


# -- spec ------------------------------------------------------------------------------------


def test_defaults_make_a_sensible_scene():
    spec = SceneSpec()
    assert (spec.width, spec.height, spec.frames, spec.fps) == (64, 64, 16, 8.0)
    truth = ground_truth(spec)
    # The default ball falls from the top and stays fully in view for the whole clip.
    assert np.all(truth.in_view_fraction == 1.0)
    assert truth.position_px[-1, 0, 1] - truth.position_px[0, 0, 1] > 30  # a visible fall
    assert spec.prompt == "a red ball falls from the top"


def test_spec_json_round_trip_and_hashable():
    spec = _scene(
        ObjectSpec(shape="box", colour="blue", motion="bounce", vx_mps=2.0, restitution=0.6),
        ObjectSpec(colour="green", motion="occluded", x0_m=3.0, y0_m=15.0, vx_mps=6.0),
        background=Background(kind="textured", colour="beige", texture_strength=0.05),
        occluder=Occluder(x_m=10.0, width_m=4.0, colour="black", y_top_m=8.0),
        noise_std=2.0, floor_y_m=24.0,
    )
    d = json.loads(json.dumps(spec.to_json_dict()))
    again = SceneSpec.model_validate(d)
    assert again == spec and hash(again) == hash(spec)
    assert len({spec, again}) == 1
    with pytest.raises(ValidationError):  # frozen
        spec.width = 10


@pytest.mark.parametrize("bad", [
    dict(objects=[{}] * 4),  # too many objects
    dict(objects=[]),
    dict(objects=[{"colour": "pink"}]),  # unknown colour
    dict(objects=[{"motion": "occluded", "vx_mps": 5.0}]),  # occluded without occluder
    dict(objects=[{"motion": "occluded", "vx_mps": 5.0, "x0_m": 3.0}],  # wall not on the path
         occluder={"x_m": 24.0, "width_m": 2.0}),
    dict(objects=[{"motion": "occluded", "vx_mps": 5.0, "x0_m": 3.0, "y0_m": 20.0}],  # passes below
         occluder={"x_m": 8.0, "width_m": 2.0, "y_bottom_m": 10.0}),
    dict(objects=[{"motion": "bounce", "restitution": 0.0}]),
    dict(objects=[{"motion": "bounce", "restitution": 1.2}]),
    dict(objects=[{"motion": "bounce", "y0_m": 25.0}]),  # starts below the floor
    dict(objects=[{"motion": "freefall", "vx_mps": 1.0}]),  # freefall starts at rest
    dict(objects=[{"motion": "uniform"}]),  # uniform needs a velocity
    dict(objects=[{"shape": "cone"}]),
    dict(objects=[{"size_m": -1.0}]),
    dict(background={"colour": "red"}),
    dict(occluder={"x_m": 5.0, "width_m": 2.0, "colour": "red"}),
    dict(occluder={"x_m": 5.0, "width_m": 2.0, "y_top_m": 9.0, "y_bottom_m": 3.0}),
    dict(g_mps2=0.0),
    dict(fps=float("nan")),
    dict(colour="red"),  # unknown field
])
def test_invalid_specs_raise(bad):
    with pytest.raises(ValidationError):
        SceneSpec.model_validate(bad)


# -- ground truth ----------------------------------------------------------------------------


def test_freefall_truth_is_exact():
    spec = _scene(ObjectSpec(x0_m=7.0, y0_m=2.0), g_mps2=9.81, pixels_per_metre=2.5)
    truth = ground_truth(spec)
    t = np.arange(16) / 8.0
    np.testing.assert_allclose(truth.times_s, t, rtol=0, atol=0)
    np.testing.assert_allclose(truth.position_m[:, 0, 1], 2.0 + 0.5 * 9.81 * t**2, atol=1e-12)
    np.testing.assert_allclose(truth.position_m[:, 0, 0], 7.0, rtol=0, atol=0)
    np.testing.assert_allclose(truth.velocity_mps[:, 0, 1], 9.81 * t, rtol=0, atol=1e-12)
    np.testing.assert_allclose(truth.position_px, truth.position_m * 2.5, rtol=0, atol=1e-12)
    np.testing.assert_allclose(truth.velocity_pxps, truth.velocity_mps * 2.5, rtol=0, atol=1e-12)


def test_projectile_uniform_and_rest_truth():
    t = np.arange(16) / 8.0
    proj = ground_truth(_scene(ObjectSpec(motion="projectile", x0_m=2.0, y0_m=3.0, vx_mps=6.0),
                               g_mps2=12.0))
    np.testing.assert_allclose(proj.position_m[:, 0, 0], 2.0 + 6.0 * t, atol=1e-12)
    np.testing.assert_allclose(proj.position_m[:, 0, 1], 3.0 + 6.0 * t**2, atol=1e-12)
    np.testing.assert_allclose(proj.velocity_mps[:, 0], np.stack([np.full(16, 6.0), 12.0 * t], -1),
                               atol=1e-12)
    uni = ground_truth(_scene(ObjectSpec(motion="uniform", x0_m=20.0, y0_m=5.0, vx_mps=-4.0,
                                         vy_mps=3.0)))
    np.testing.assert_allclose(uni.position_m[:, 0], np.stack([20 - 4 * t, 5 + 3 * t], -1),
                               atol=1e-12)
    np.testing.assert_allclose(uni.velocity_mps[:, 0], np.tile([-4.0, 3.0], (16, 1)), atol=0)
    rest = ground_truth(_scene(ObjectSpec(motion="rest", x0_m=5.0, y0_m=6.0)))
    np.testing.assert_array_equal(rest.position_m[:, 0], np.tile([5.0, 6.0], (16, 1)))
    np.testing.assert_array_equal(rest.velocity_mps, 0.0)


@pytest.mark.parametrize("e", [0.3, 0.7, 1.0])
def test_bounce_flips_velocity_and_never_gains_energy(e):
    g, floor, size, y0 = 9.81, 25.6, 1.6, 2.0
    obj = ObjectSpec(motion="bounce", y0_m=y0, size_m=size, vx_mps=1.5, restitution=e)
    spec = _scene(obj, frames=200, fps=16.0)
    truth = ground_truth(spec)
    contacts = truth.contacts_s[0]
    y_c = floor - size
    assert contacts.size >= 2
    np.testing.assert_allclose(contacts[0], np.sqrt(2 * (y_c - y0) / g), rtol=1e-12)
    for c in contacts[:5]:
        eps = 1e-7
        tr = trajectory(obj, np.array([c - eps, c, c + eps]), g, floor)
        v_before, v_at, v_after = tr.velocity_mps[:, 1]
        assert v_before > 0 > v_after  # down before, up after
        np.testing.assert_allclose(v_after, -e * v_before, rtol=1e-9, atol=3 * g * eps)
        assert v_at == pytest.approx(v_after, abs=1e-5)  # right-continuous at the contact
        np.testing.assert_allclose(tr.position_m[1, 1], y_c, atol=1e-9)
    # Dense check: never below the floor, mechanical energy never increases.
    dense = np.linspace(0, spec.t_end_s, 20001)
    tr = trajectory(obj, dense, g, floor)
    y, vy = tr.position_m[:, 1], tr.velocity_mps[:, 1]
    assert np.all(y <= y_c + 1e-9)
    energy = 0.5 * vy**2 + g * (y_c - y)  # kinetic + potential above the contact height
    assert np.all(np.diff(energy) <= 1e-7 * energy[0])
    if e == 1.0:
        np.testing.assert_allclose(energy, energy[0], rtol=1e-9)
    np.testing.assert_allclose(tr.position_m[:, 0], 12.8 + 1.5 * dense, atol=1e-12)


def test_bounce_comes_to_rest_after_accumulated_contacts():
    obj = ObjectSpec(motion="bounce", y0_m=20.0, size_m=1.6, restitution=0.3)
    truth = ground_truth(_scene(obj, frames=32))
    assert truth.position_m[-1, 0, 1] == pytest.approx(25.6 - 1.6)
    assert truth.velocity_mps[-1, 0, 1] == 0.0


def test_occluded_visibility_drops_to_zero_and_recovers():
    for shape in ("ball", "box"):
        truth = ground_truth(_occluded_scene(shape))
        vis = truth.visible_fraction[:, 0]
        hidden = np.flatnonzero(vis == 0.0)
        assert hidden.size >= 1
        assert vis[0] == 1.0 and vis[-1] == pytest.approx(1.0)
        assert np.any((vis > 0) & (vis < 1))  # partly hidden while entering / leaving
        np.testing.assert_array_equal(truth.in_view_fraction[:, 0], 1.0)
        np.testing.assert_array_equal(truth.visible[:, 0], vis > VISIBLE_THRESHOLD)


def test_visible_fraction_is_exact_at_edges():
    half_out = ground_truth(_scene(ObjectSpec(motion="rest", x0_m=0.0, y0_m=10.0)))
    np.testing.assert_allclose(half_out.visible_fraction, 0.5, atol=1e-12)
    corner = ground_truth(_scene(ObjectSpec(shape="box", motion="rest", x0_m=0.0, y0_m=0.0)))
    np.testing.assert_allclose(corner.visible_fraction, 0.25, atol=1e-12)
    quarter_ball = ground_truth(_scene(ObjectSpec(motion="rest", x0_m=0.0, y0_m=0.0)))
    np.testing.assert_allclose(quarter_ball.visible_fraction, 0.25, atol=1e-12)


def test_disc_rect_area_matches_numeric_integration():
    rng = np.random.default_rng(0)
    n = 1200
    grid = (np.arange(n) + 0.5) / n * 8 - 4
    xx, yy = np.meshgrid(grid, grid)
    for _ in range(25):
        cx, cy = rng.uniform(-2, 2, 2)
        r = rng.uniform(0.5, 2.0)
        x0, x1 = np.sort(rng.uniform(-3, 3, 2))
        y0, y1 = np.sort(rng.uniform(-3, 3, 2))
        inside = ((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r) & (xx >= x0) & (xx <= x1) & \
                 (yy >= y0) & (yy <= y1)
        ref = inside.sum() * (8 / n) ** 2
        assert disc_rect_area(cx, cy, r, x0, x1, y0, y1) == pytest.approx(ref, abs=0.02)


def test_truth_to_dict_round_trips_through_json():
    truth = ground_truth(_scene(ObjectSpec(motion="bounce"), ObjectSpec(colour="blue", x0_m=4.0)))
    d = json.loads(json.dumps(truth.to_dict()))
    again = GroundTruth.from_dict(d)
    np.testing.assert_array_equal(again.position_px, truth.position_px)
    np.testing.assert_array_equal(again.visible, truth.visible)
    assert again.visible.dtype == bool
    np.testing.assert_array_equal(again.contacts_s[0], truth.contacts_s[0])
    assert truth.bbox_px().shape == (16, 2, 4)


# -- rendering -------------------------------------------------------------------------------


def test_render_returns_clip_with_metadata():
    spec = _scene(ObjectSpec(colour="yellow"))
    out = render(spec, seed=3)
    assert isinstance(out.clip, Clip)
    assert out.clip.frames.shape == (16, 64, 64, 3) and out.clip.frames.dtype == np.uint8
    assert out.clip.fps == 8.0
    meta = out.clip.metadata
    assert meta["prompt"] == spec.prompt and meta["seed"] == 3 and meta["generator"] == "world"
    assert SceneSpec.model_validate(json.loads(json.dumps(meta["scene"]))) == spec
    with pytest.raises(ValueError):
        render(spec, seed=-1)


def test_same_spec_and_seed_give_identical_bytes():
    spec = _scene(
        ObjectSpec(colour="white", motion="bounce", vx_mps=2.0),
        ObjectSpec(shape="box", colour="cyan", motion="occluded", x0_m=3.0, y0_m=18.0, vx_mps=8.0),
        background=Background(kind="textured", colour="dark"),
        occluder=Occluder(x_m=12.0, width_m=4.0), noise_std=3.0,
    )
    a, b = render(spec, seed=7).clip.frames, render(spec, seed=7).clip.frames
    assert a.tobytes() == b.tobytes()
    assert render(spec, seed=8).clip.frames.tobytes() != a.tobytes()


def test_seed_changes_texture_but_not_plain_background():
    textured = _scene(ObjectSpec(), background=Background(kind="textured"))
    f0, f1 = render(textured, seed=0).clip.frames, render(textured, seed=1).clip.frames
    assert np.abs(f0[0, 50:, :].astype(int) - f1[0, 50:, :]).mean() > 2  # texture differs
    assert f0[0].std() > 5  # and is actually textured
    plain = _scene(ObjectSpec())
    assert render(plain, seed=0).clip.frames.tobytes() == \
        render(plain, seed=1).clip.frames.tobytes()
    bg = np.asarray(BACKGROUND_PALETTE["gray"], dtype=np.uint8)
    assert np.all(render(plain).clip.frames[:, 60:, :] == bg)


@pytest.mark.parametrize("shape", ["ball", "box"])
def test_rendered_centroid_matches_truth(shape):
    spec = _scene(ObjectSpec(shape=shape, colour="white", motion="projectile", x0_m=3.3,
                             y0_m=2.7, vx_mps=7.1, size_m=1.7))
    out = render(spec)
    alpha = _alpha(out.clip.frames, "gray", "white")
    ys, xs = np.mgrid[0:64, 0:64] + 0.5
    full = out.truth.in_view_fraction[:, 0] == 1.0
    assert full.sum() >= 8
    for t in np.flatnonzero(full):
        a = alpha[t]
        centroid = np.array([(a * xs).sum(), (a * ys).sum()]) / a.sum()
        np.testing.assert_allclose(centroid, out.truth.position_px[t, 0], atol=0.1)
        r = out.truth.size_px[0]
        area = np.pi * r * r if shape == "ball" else 4 * r * r
        assert a.sum() == pytest.approx(area, rel=0.03)


def test_edges_are_antialiased():
    spec = _scene(ObjectSpec(colour="white", motion="rest", x0_m=10.13, y0_m=9.71))
    alpha = _alpha(render(spec).clip.frames[0], "gray", "white")
    partial = (alpha > 0.05) & (alpha < 0.95)
    assert partial.sum() >= 8  # a ring of intermediate values around the ball
    # A sub-pixel shift changes the edge pixels.
    shifted = _scene(ObjectSpec(colour="white", motion="rest", x0_m=10.13 + 0.1, y0_m=9.71))
    assert render(shifted).clip.frames.tobytes() != render(spec).clip.frames.tobytes()


def test_objects_drawn_in_order_and_occluder_on_top():
    a = ObjectSpec(colour="red", motion="rest", x0_m=10.0, y0_m=10.0, size_m=2.0)
    b = ObjectSpec(colour="blue", shape="box", motion="rest", x0_m=10.0, y0_m=10.0, size_m=1.0)
    frames = render(_scene(a, b)).clip.frames
    assert tuple(frames[0, 25, 25]) == PALETTE["blue"]  # later object in front
    occ = render(_scene(a, occluder=Occluder(x_m=10.0, width_m=2.0, colour="black"))).clip.frames
    assert tuple(occ[0, 25, 25]) == OCCLUDER_PALETTE["black"]


def test_occluder_hides_the_object_in_pixels():
    out = render(_occluded_scene())
    red = np.all(out.clip.frames == np.asarray(PALETTE["red"], dtype=np.uint8), axis=-1).sum((1, 2))
    vis = out.truth.visible_fraction[:, 0]
    assert np.all(red[vis == 0] == 0)
    assert np.all(red[vis == 1] > 20)


def test_noise_is_seeded_and_zero_mean():
    spec = _scene(ObjectSpec(), noise_std=4.0)
    clean = render(_scene(ObjectSpec())).clip.frames.astype(float)
    noisy = render(spec, seed=5).clip.frames.astype(float)
    assert render(spec, seed=5).clip.frames.tobytes() == noisy.astype(np.uint8).tobytes()
    diff = noisy - clean
    assert diff.std() == pytest.approx(4.0, rel=0.1) and abs(diff.mean()) < 0.1


def test_at_resolution_scales_pixels_not_physics():
    spec = _scene(ObjectSpec(motion="bounce", vx_mps=2.0),
                  ObjectSpec(colour="blue", motion="occluded", x0_m=3.0, y0_m=15.0, vx_mps=8.0),
                  occluder=Occluder(x_m=12.0, width_m=4.0))
    big = spec.at_resolution(256, 256)
    assert (big.height, big.width) == (256, 256)
    assert big.pixels_per_metre == pytest.approx(spec.pixels_per_metre * 4)
    assert big.objects == spec.objects and big.floor_m == pytest.approx(spec.floor_m)
    t_small, t_big = ground_truth(spec), ground_truth(big)
    np.testing.assert_allclose(t_big.position_m, t_small.position_m, atol=1e-12)
    np.testing.assert_allclose(t_big.position_px, 4 * t_small.position_px, atol=1e-9)
    np.testing.assert_allclose(t_big.visible_fraction, t_small.visible_fraction, atol=1e-9)
    assert big.prompt == spec.prompt
    frames = render(big).clip.frames
    assert frames.shape == (16, 256, 256, 3)
    # Downsampled, the big render looks like the small one.
    small = render(spec).clip.frames.astype(float)
    pooled = frames.reshape(16, 64, 4, 64, 4, 3).astype(float).mean((2, 4))
    assert np.abs(pooled - small).mean() < 2.0
    wide = spec.at_resolution(64, 128)  # other aspect ratio: same scale, wider view
    assert wide.pixels_per_metre == spec.pixels_per_metre
    assert wide.view_width_m == pytest.approx(2 * spec.view_width_m)


# -- prompts ---------------------------------------------------------------------------------


def test_prompt_grammar():
    cases = [
        (ObjectSpec(x0_m=3.0, y0_m=3.0), "a red ball falls from the upper left"),
        (ObjectSpec(shape="box", colour="blue", motion="projectile", vx_mps=5.0),
         "a blue box is thrown to the right from the top"),
        (ObjectSpec(colour="green", motion="uniform", x0_m=12.8, y0_m=12.8, vx_mps=-5.0),
         "a green ball moves left across the center"),
        (ObjectSpec(colour="yellow", motion="bounce"),
         "a yellow ball falls from the top and bounces on the floor"),
        (ObjectSpec(shape="box", colour="white", motion="rest", x0_m=22.0, y0_m=22.0),
         "a white box rests at the lower right"),
        (ObjectSpec(colour="orange", motion="uniform", x0_m=3.0, y0_m=22.0, vx_mps=3.0,
                    vy_mps=-3.0),
         "an orange ball moves up and to the right across the lower left"),
    ]
    for obj, text in cases:
        assert prompt_for(_scene(obj)) == text
    occ = _occluded_scene()
    assert occ.prompt == "a red ball moves right from the left behind a brown wall"
    two = _scene(ObjectSpec(), ObjectSpec(colour="blue", motion="rest", x0_m=3.0, y0_m=22.0),
                 background=Background(kind="textured", colour="beige"))
    assert two.prompt == ("a red ball falls from the top and a blue ball rests at the lower left "
                          "on a textured beige background")
    assert _scene(ObjectSpec(), background=Background(colour="dark")).prompt.endswith(
        " on a dark background")


@pytest.mark.parametrize("ranges", [IN_DISTRIBUTION, OUT_OF_DISTRIBUTION])
def test_parse_prompt_inverts_prompt_for(ranges):
    rng = np.random.default_rng(11)
    for _ in range(60):
        spec = sample_scene(rng, ranges, n_objects=None)
        parsed = parse_prompt(spec.prompt)
        assert parsed is not None, spec.prompt
        assert len(parsed.objects) == len(spec.objects), spec.prompt
        for i, (a, b) in enumerate(zip(spec.objects, parsed.objects)):
            assert (a.colour, a.shape, a.motion) == (b.colour, b.shape, b.motion), spec.prompt
            assert spec.start_region(i) == parsed.start_region(i), spec.prompt
            if a.motion in (Motion.PROJECTILE, Motion.OCCLUDED):
                assert np.sign(a.vx_mps) == np.sign(b.vx_mps), spec.prompt
        assert (parsed.background.kind, parsed.background.colour) == \
               (spec.background.kind, spec.background.colour), spec.prompt
        assert parsed.prompt == parse_prompt(parsed.prompt).prompt  # a fixed point


@pytest.mark.parametrize("text, motion, colour, shape, region", [
    ("A green sphere drops from the top-left corner.", "freefall", "green", "ball", "upper left"),
    ("a cube is dropped from the top", "freefall", "red", "box", "top"),
    ("an orange block is launched to the left from the upper right", "projectile", "orange", "box",
     "upper right"),
    ("a purple ball tossed rightwards from the left", "projectile", "purple", "ball", "left"),
    ("a cyan box slides to the right along the bottom", "uniform", "cyan", "box", "bottom"),
    ("a white marble rolls left through the middle", "uniform", "white", "ball", "center"),
    ("the yellow ball bounces on the floor", "bounce", "yellow", "ball", "center"),
    ("a yellow ball falls from the top and bounces", "bounce", "yellow", "ball", "top"),
    ("a blue cube sits in the lower right", "rest", "blue", "box", "lower right"),
    ("a red ball lies at the bottom", "rest", "red", "ball", "bottom"),
    ("a red ball glides right behind a grey pillar", "occluded", "red", "ball", "left"),
    ("a violet orb floats up", "uniform", "purple", "ball", "center"),
])
def test_parse_prompt_paraphrases(text, motion, colour, shape, region):
    spec = parse_prompt(text)
    assert spec is not None
    obj = spec.objects[0]
    assert (obj.motion.value, obj.colour, obj.shape, spec.start_region(0)) == \
           (motion, colour, shape, region)


def test_parse_prompt_details():
    assert parse_prompt("hello world") is None
    assert parse_prompt("") is None
    spec = parse_prompt("a red ball moves right behind a black wall on a textured sky background")
    assert spec.occluder is not None and spec.occluder.colour == "black"
    assert (spec.background.kind, spec.background.colour) == ("textured", "sky")
    vis = ground_truth(spec).visible_fraction[:, 0]
    assert vis.min() == 0 and vis[0] == 1 and vis[-1] == 1  # default wall really hides it
    both = parse_prompt("a red ball and a blue box fall from the top")
    assert [o.motion for o in both.objects] == [Motion.FREEFALL] * 2
    assert [both.start_region(i) for i in range(2)] == ["top", "top"]
    assert both.objects[0].x0_m != both.objects[1].x0_m  # spread, not stacked
    small = parse_prompt("a small red ball falls")
    assert small.objects[0].size_m < SceneSpec().objects[0].size_m
    for text in ("a ball bounces", "a ball falls from the top and bounces",
                 "a ball bounces at the bottom", "a box is thrown to the left and bounces"):
        bounce = parse_prompt(text)
        assert bounce.objects[0].motion is Motion.BOUNCE
        assert ground_truth(bounce).contacts_s[0].size >= 1, text  # the bounce is in the clip
    four = parse_prompt("a red ball and a blue ball and a green ball and a white ball")
    assert len(four.objects) == 3
    assert parse_prompt("something falls").objects[0].motion is Motion.FREEFALL


def test_motion_from_words():
    assert motion_from_words("a ball falls") is Motion.FREEFALL
    assert motion_from_words("a box is thrown to the right and bounces") is Motion.BOUNCE
    assert motion_from_words("a cube is launched") is Motion.PROJECTILE
    assert motion_from_words("the ball slides across") is Motion.UNIFORM
    assert motion_from_words("a ball sits still") is Motion.REST
    assert motion_from_words("a ball rolls behind a wall") is Motion.OCCLUDED
    assert motion_from_words("a sunset over the sea") is None
    # Several objects: the first one's motion.
    assert motion_from_words("a red ball rests at the left and a blue ball falls") is Motion.REST


# -- sampling --------------------------------------------------------------------------------


def test_sampling_is_deterministic():
    a = [sample_scene(np.random.default_rng(4), n_objects=None) for _ in range(3)]
    b = [sample_scene(np.random.default_rng(4), n_objects=None) for _ in range(3)]
    assert a == b
    rng = np.random.default_rng(4)
    assert sample_scene(rng) != sample_scene(rng)


@pytest.mark.parametrize("ranges", [IN_DISTRIBUTION, OUT_OF_DISTRIBUTION])
@pytest.mark.parametrize("motion", list(Motion))
def test_sampled_scenes_are_trackable(ranges, motion):
    rng = np.random.default_rng(list(Motion).index(motion))
    for n in (1, 2):
        for _ in range(6):
            spec = sample_scene(rng, ranges, motion=motion, n_objects=n)
            truth = ground_truth(spec)
            for j, obj in enumerate(spec.objects):
                assert obj.motion is motion
                vis = truth.visible_fraction[:, j]
                assert vis[0] >= 0.999, spec
                assert np.mean(truth.in_view_fraction[:, j] >= 0.5) >= MIN_IN_VIEW_SHARE, spec
                if motion is Motion.BOUNCE:
                    assert truth.contacts_s[j].size and truth.contacts_s[j][0] < spec.t_end_s
                if motion is Motion.OCCLUDED:
                    hidden = np.flatnonzero(vis <= 1e-9)
                    assert hidden.size and vis[hidden[-1]:].max() >= 0.999, spec


def test_sampling_honours_requests_and_ranges():
    rng = np.random.default_rng(2)
    spec = sample_scene(rng, motion=["rest", "uniform"], colour=["white", None],
                        shape="box", region=["lower right", None], n_objects=2,
                        background="textured", frames=24, width=96, height=80, fps=12.0)
    assert [o.motion for o in spec.objects] == [Motion.REST, Motion.UNIFORM]
    assert spec.objects[0].colour == "white" and spec.objects[1].colour != "white"
    assert all(o.shape == "box" for o in spec.objects)
    assert spec.start_region(0) == "lower right"
    assert spec.background.kind == "textured"
    assert (spec.frames, spec.width, spec.height, spec.fps) == (24, 96, 80, 12.0)
    fixed = sample_scene(rng, g_mps2=3.0, pixels_per_metre=4.0)
    assert (fixed.g_mps2, fixed.pixels_per_metre) == (3.0, 4.0)
    for region in REGIONS:
        assert sample_scene(rng, motion="rest", region=region).start_region(0) == region
    with pytest.raises(TypeError):
        sample_scene(rng, objects=())
    with pytest.raises(ValueError):
        sample_scene(rng, region="nowhere")
    with pytest.raises(ValueError):
        sample_scene(rng, n_objects=4)


def _inside(value: float, spans) -> bool:
    return any(lo - 1e-12 <= value <= hi + 1e-12 for lo, hi in spans)


def test_id_and_ood_ranges_are_disjoint_where_documented():
    disjoint = IN_DISTRIBUTION.disjoint_from(OUT_OF_DISTRIBUTION)
    assert set(disjoint) == {"g_mps2", "size_m", "speed_mps", "restitution", "n_objects"}
    rng = np.random.default_rng(5)
    pairs = ((IN_DISTRIBUTION, OUT_OF_DISTRIBUTION), (OUT_OF_DISTRIBUTION, IN_DISTRIBUTION))
    for ranges, other in pairs:
        for motion in ("bounce", "projectile", "uniform"):
            spec = sample_scene(rng, ranges, motion=motion, n_objects=None)
            assert len(spec.objects) in ranges.n_objects
            assert _inside(spec.g_mps2, ranges.g_mps2) and not _inside(spec.g_mps2, other.g_mps2)
            for o in spec.objects:
                assert _inside(o.size_m, ranges.size_m) and not _inside(o.size_m, other.size_m)
                assert _inside(o.restitution, ranges.restitution)
                assert not _inside(o.restitution, other.restitution)
                if motion != "bounce":
                    speed = float(np.hypot(o.vx_mps, o.vy_mps))
                    assert _inside(speed, ranges.speed_mps) and not _inside(speed, other.speed_mps)


def test_parameter_ranges_validate():
    with pytest.raises(ValidationError):
        ParameterRanges(g_mps2=((5.0, 1.0),), pixels_per_metre=((2, 3),), size_m=((1, 2),),
                        speed_mps=((1, 2),), restitution=((0.5, 0.6),))
    with pytest.raises(ValidationError):
        ParameterRanges.model_validate({**IN_DISTRIBUTION.model_dump(), "colours": ("pink",)})
    dumped = json.dumps(OUT_OF_DISTRIBUTION.model_dump(mode="json"))
    again = ParameterRanges.model_validate(json.loads(dumped))
    assert again == OUT_OF_DISTRIBUTION
