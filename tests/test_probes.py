"""Tests of physics_probes: extraction, tracking, each probe, the metrics and the CLI."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext
from evalkit.world import IN_DISTRIBUTION, Motion, render, sample_scene
from physics_probes.analysis import analyse_frames, analysis_from_truth
from physics_probes.extract import extract_objects
from physics_probes.perturb import WRONG_KINDS, make_wrong
from physics_probes.probes import probe_clip
from physics_probes.select import PROBES, plan_clip


def _scene(motion: str, seed: int = 0, **kw):
    spec = sample_scene(np.random.default_rng(seed), IN_DISTRIBUTION, motion=motion, **kw)
    return spec, render(spec, seed)


def _by_probe(results):
    return {r.probe: r for r in results}


# -- extraction and tracking -----------------------------------------------------------------

@pytest.mark.parametrize("background", ["plain", "textured"])
@pytest.mark.parametrize("motion", ["freefall", "rest", "uniform"])
def test_extraction_finds_object_with_subpixel_centroid(motion, background):
    spec, scene = _scene(motion, 1, background=background)
    dets = extract_objects(scene.clip.frames)
    assert np.bincount(dets.frame, minlength=spec.frames).min() >= 1
    for t in range(spec.frames):
        if scene.truth.visible_fraction[t, 0] > 0.999:
            err = np.linalg.norm(dets.centroid[dets.in_frame(t)] - scene.truth.position_px[t, 0], axis=1)
            assert err.min() < 0.1


def test_static_object_is_found_despite_temporal_median():
    spec, scene = _scene("rest", 2)
    dets = extract_objects(scene.clip.frames)
    assert dets.static.any()
    assert len(analyse_frames(scene.clip.frames, spec.fps).objects()) == len(spec.objects)


@pytest.mark.parametrize("size", [32, 128])
def test_extraction_works_at_other_resolutions(size):
    spec, _ = _scene("freefall", 3)
    spec = spec.at_resolution(size, size)
    scene = render(spec, 3)
    (r,) = probe_clip(scene.clip, ClipContext(scene=spec), ["freefall"])
    assert r.status == "pass", r.reason


def test_tracks_link_each_object_once():
    spec, scene = _scene("projectile", 4, n_objects=2)
    an = analyse_frames(scene.clip.frames, spec.fps)
    assert len(an.objects()) == 2
    assert all(len(t) >= spec.frames - 4 for t in an.objects())


def test_blank_and_noise_clips_say_no_object():
    blank = Clip(np.full((8, 32, 32, 3), 90, np.uint8), 8.0)
    noise = Clip(np.random.default_rng(0).integers(0, 255, (8, 32, 32, 3), dtype=np.uint8), 8.0)
    for clip in (blank, noise):
        res = _by_probe(probe_clip(clip, ClipContext(probe="freefall")))
        assert res["freefall"].status in ("no_object", "fail")
        assert res["permanence"].status in ("no_object", "pass", "fail")
        json.dumps([r.values() for r in res.values()])


# -- probes on clean clips -------------------------------------------------------------------

@pytest.mark.parametrize("motion,probe", [("freefall", "freefall"), ("projectile", "projectile"),
                                          ("uniform", "uniform_motion"), ("bounce", "bounce"),
                                          ("occluded", "uniform_motion")])
def test_clean_clips_pass_their_probe(motion, probe):
    spec, scene = _scene(motion, 0)
    res = _by_probe(probe_clip(scene.clip, ClipContext(prompt=spec.prompt, scene=spec)))
    assert res[probe].status == "pass", res[probe].reason
    assert res["permanence"].status == "pass", res["permanence"].reason
    assert res["constancy"].status in ("pass", "no_object")
    others = [p for p in ("freefall", "projectile", "uniform_motion", "bounce") if p != probe]
    assert all(res[p].status == "not_applicable" for p in others)


def test_freefall_measures_g_in_both_units():
    spec, scene = _scene("freefall", 5)
    (r,) = probe_clip(scene.clip, ClipContext(scene=spec), ["freefall"])
    assert r.measured["rel_error_g"] < 0.02
    assert r.measured["g_m_s2"] == pytest.approx(spec.g_mps2, rel=0.02)
    assert r.expected["g_px_s2"] == pytest.approx(spec.g_mps2 * spec.pixels_per_metre)
    v = r.values()
    assert v["passed"] == 1.0 and len(v["points_t_s"]) == len(v["points_y_px"]) >= 4
    assert len(v["fit_t_s"]) == len(v["fit_y_px"])


def test_freefall_without_scale_checks_shape_only():
    spec, scene = _scene("freefall", 6)
    clip = Clip(scene.clip.frames, scene.clip.fps)
    (r,) = probe_clip(clip, ClipContext(prompt=f"a {spec.objects[0].colour} ball falls"),
                      ["freefall"])
    assert r.status == "pass" and r.expected == {} and r.measured["g_m_s2"] is None
    assert "not measurable" in r.measured["note"]
    assert r.measured["gravity_direction_ok"] and r.measured["g_consistent"]


def test_bounce_measures_restitution():
    spec, scene = _scene("bounce", 7)
    (r,) = probe_clip(scene.clip, ClipContext(scene=spec), ["bounce"])
    assert r.status == "pass", r.reason
    assert r.measured["n_contacts"] >= 1
    assert r.measured["restitution"][0] == pytest.approx(spec.objects[0].restitution, abs=0.1)


# -- wrong physics ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(WRONG_KINDS))
def test_wrong_physics_is_flagged_by_its_probe(kind):
    spec, _ = _scene("freefall", 8)
    wrong = make_wrong(spec, kind, 8)
    (r,) = probe_clip(wrong.clip, ClipContext(scene=spec), [wrong.probe])
    assert r.status == "fail", (kind, r.reason)
    truth = analysis_from_truth(wrong.truth, spec, wrong.positions_px, wrong.sizes_px, wrong.visible)
    (r,) = probe_clip(wrong.clip, ClipContext(scene=spec), [wrong.probe], analysis=truth)
    assert r.status == "fail"


def test_ground_truth_floor_is_exact():
    spec, scene = _scene("freefall", 9)
    (r,) = probe_clip(scene.clip, ClipContext(scene=spec), ["freefall"],
                      analysis=analysis_from_truth(scene.truth, spec))
    assert r.measured["rel_error_g"] < 1e-9


# -- probe selection ---------------------------------------------------------------------------

def test_probe_selection_order():
    spec, scene = _scene("freefall", 10)
    assert set(plan_clip(scene.clip, ClipContext(scene=spec)).motion_targets) == {"freefall"}
    assert plan_clip(scene.clip, ClipContext(scene=spec, probe="bounce")).source == "explicit"
    bare = Clip(scene.clip.frames, 8.0)
    plan = plan_clip(bare, ClipContext(prompt="a ball drops"))
    assert plan.source == "prompt" and "freefall" in plan.motion_targets
    assert plan.motion_targets["freefall"].pixels_per_metre is None
    assert plan_clip(bare, ClipContext(prompt="hello")).source == "none"
    # a world clip's metadata carries its scene
    assert plan_clip(scene.clip, ClipContext()).source == "scene"
    with pytest.raises(ValueError):
        plan_clip(bare, ClipContext(probe="nope"))


# -- metrics ----------------------------------------------------------------------------------

def test_metrics_values_and_summary():
    from physics_probes.metrics import FreefallMetric, PhysicsMetric, ProjectileMetric

    spec, scene = _scene("freefall", 11)
    ctx = ClipContext(scene=spec)
    m = FreefallMetric()
    v = m.score(scene.clip, ctx)
    json.dumps(v)
    assert v["passed"] == 1.0 and v["status"] == "pass"
    na = ProjectileMetric().score(scene.clip, ctx)
    assert na["passed"] is None and na["status"] == "not_applicable"
    s = m.summarize([v, {**v, "passed": 0.0, "status": "fail", "error": 0.5}, na])
    assert s["pass_rate"] == 0.5 and s["n_applicable"] == 2 and s["n_not_applicable"] == 1
    assert s["median_error"] == pytest.approx((v["error"] + 0.5) / 2)
    phys = PhysicsMetric().score(scene.clip, ctx)
    assert phys["passed"] == 1.0 and phys["freefall_status"] == "pass"
    with pytest.raises(Exception):
        FreefallMetric(bogus=1)


# -- CLI ----------------------------------------------------------------------------------------

def test_cli_prints_json_lines_and_reports_bad_files(tmp_path, capsys):
    from evalkit.video import write_video
    from physics_probes.cli import add_probe_command

    spec, scene = _scene("freefall", 12)
    good = tmp_path / "good.mp4"
    write_video(good, scene.clip, crf=28)
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    parser = argparse.ArgumentParser()
    add_probe_command(parser.add_subparsers())
    args = parser.parse_args(["probe", str(good), str(bad), "--probe", "freefall"])
    assert args.func(args) == 2
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["probe"] == "freefall" and lines[0]["status"] == "pass"
    assert set(lines[0]) >= {"file", "probe", "status", "measured", "expected"}
    assert "error" in lines[1] and "bad.mp4" in lines[1]["file"]
    args = parser.parse_args(["probe", str(good), "--fps", "-1"])
    assert args.func(args) == 2


def test_cli_module_import_is_light():
    code = ("import sys, physics_probes.cli; "
            "print(any(m in sys.modules for m in ('scipy', 'torch', 'av', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_all_probe_names_are_known():
    assert PROBES == ("freefall", "projectile", "uniform_motion", "bounce", "permanence", "constancy")


def test_real_footage_does_not_crash(real_videos):
    from evalkit.clip import resize
    from evalkit.video import find_videos, read_video

    files = find_videos(real_videos, recursive=True)[:2]
    assert files
    for path in files:
        clip = read_video(path, first_frames=16)
        clip = resize(clip, 96, max(1, round(96 * clip.width / clip.height)))
        for r in probe_clip(clip, ClipContext(prompt="a ball falls")):
            assert r.status in ("pass", "fail", "no_object", "not_applicable", "inconclusive")
            json.dumps(r.values())


# -- regressions of the method fixes (vanish at an edge, contact between frames, H.264) -------

def _bench_scene(seed: list[int], motion: str, **kw):
    spec = sample_scene(np.random.default_rng(seed), IN_DISTRIBUTION, motion=motion, **kw)
    return spec, render(spec, seed[1])


def _h264(clip, tmp_path, crf=28):
    from evalkit.video import read_video, write_video

    path = tmp_path / "clip.mp4"
    write_video(path, clip, crf=crf)
    return read_video(path)


@pytest.mark.parametrize("seed", [4, 30, 57])
def test_vanish_mid_clip_next_to_a_side_edge_is_flagged(seed):
    # The object falls along the left or right edge (wholly in view, 1-3 px from it) and
    # vanishes mid-clip: it is not heading out of the view, so nothing excuses the death.
    spec = sample_scene(np.random.default_rng([2, seed]), IN_DISTRIBUTION, motion="freefall",
                        background=("plain", "textured")[seed % 2])
    wrong = make_wrong(spec, "vanish", seed)
    x = wrong.positions_px[spec.frames // 2 - 1, 0, 0]
    assert min(x, spec.width - x) - wrong.sizes_px[0, 0] < 5.0  # the case: near a side edge
    (r,) = probe_clip(wrong.clip, ClipContext(scene=spec), ["permanence"])
    assert r.status == "fail" and r.measured["n_deaths_open"] == 1, r.reason
    truth = analysis_from_truth(wrong.truth, spec, wrong.positions_px, wrong.sizes_px, wrong.visible)
    (r,) = probe_clip(wrong.clip, ClipContext(scene=spec), ["permanence"], analysis=truth)
    assert r.status == "fail"


def test_object_leaving_through_the_bottom_is_excused():
    from physics_probes.perturb import draw_scene

    spec, scene = _scene("freefall", 3)
    pos = scene.truth.position_px.copy()
    size = np.broadcast_to(scene.truth.size_px[None, :], pos.shape[:2]).copy()
    pos[..., 1] += spec.height - pos[11, 0, 1]  # the centre crosses the bottom edge at frame 11
    vis = pos[..., 1] - size < spec.height
    assert not vis[-1, 0] and vis[10, 0]
    clip = Clip(draw_scene(spec, 3, pos, size, vis), spec.fps)
    (r,) = probe_clip(clip, ClipContext(), ["permanence"])
    assert r.status == "pass", r.reason
    # The same object vanishing two frames before it reaches the edge is flagged.
    vis[9:] = False
    clip = Clip(draw_scene(spec, 3, pos, size, vis), spec.fps)
    (r,) = probe_clip(clip, ClipContext(), ["permanence"])
    assert r.status == "fail" and r.measured["n_deaths_open"] == 1, r.reason


@pytest.mark.parametrize("seed", [3, 14, 16, 27])
def test_bounce_with_contact_between_frames(seed):
    # The contact falls between two frames that are nearly level: both look like turning
    # points; they are one contact and the restitution is read where the flights meet.
    idx = list(Motion).index(Motion.BOUNCE)
    spec, scene = _bench_scene([3, seed, idx], "bounce", n_objects=None)
    e_true = spec.objects[0].restitution
    truth = analysis_from_truth(scene.truth, spec)
    (r,) = probe_clip(scene.clip, ClipContext(scene=spec), ["bounce"], analysis=truth)
    assert r.status == "pass" and r.measured["n_contacts"] == 1, r.reason
    assert r.measured["restitution"][0] == pytest.approx(e_true, abs=1e-3)
    (r,) = probe_clip(scene.clip, ClipContext(scene=spec), ["bounce"])
    assert r.status == "pass", r.reason
    assert r.measured["restitution"][0] == pytest.approx(e_true, abs=0.1)


def test_touching_objects_of_different_colours_are_split():
    # A white and a green ball 1.3 px apart join through their antialiased rims (frame 15).
    idx = list(Motion).index(Motion.BOUNCE)
    spec, scene = _bench_scene([3, 1, idx], "bounce", n_objects=None)
    dets = extract_objects(scene.clip.frames)
    last = dets.in_frame(spec.frames - 1)
    assert last.size == 2
    assert np.sort(dets.area[last]) == pytest.approx(np.sort(np.pi * scene.truth.size_px ** 2), rel=0.1)
    (r,) = probe_clip(scene.clip, ClipContext(scene=spec), ["permanence"])
    assert r.status == "pass", r.reason


def test_single_object_after_h264_is_not_split(tmp_path):
    # Chroma subsampling smears a box's rim into another hue: a fringe, not a second object.
    idx = list(Motion).index(Motion.UNIFORM)
    for seed in (4, 13):
        spec, scene = _bench_scene([3, seed, idx], "uniform", n_objects=None)
        an = analyse_frames(_h264(scene.clip, tmp_path).frames, spec.fps)
        assert len(an.objects()) == len(spec.objects)
        assert all(len(t) == spec.frames for t in an.objects())



@pytest.mark.parametrize("seed", [4, 6])
def test_occluded_h264_noise_on_four_points_is_not_acceleration(tmp_path, seed):
    # Behind the occluder only 4 clean sightings remain; after H.264 their quadratic fit shows
    # an "acceleration" of 12-14% of the travel that is within its own noise (t test, 1 dof).
    idx = list(Motion).index(Motion.OCCLUDED)
    spec, scene = _bench_scene([3, seed, idx], "occluded", n_objects=None)
    (r,) = probe_clip(_h264(scene.clip, tmp_path), ClipContext(scene=spec), ["uniform_motion"])
    assert r.measured["n_points"] == 4 and r.measured["rel_accel"] > 0.1
    assert r.status == "pass", r.reason


def test_acceleration_claimed_uniform_is_still_flagged(tmp_path):
    # A thrown object under gravity, prompted as uniform motion: significant on 16 points.
    claimed = sample_scene(np.random.default_rng([9, 0]), IN_DISTRIBUTION, motion="uniform",
                           n_objects=1)
    actual = sample_scene(np.random.default_rng([9, 0]), IN_DISTRIBUTION, motion="projectile",
                          n_objects=1)
    clip = _h264(render(actual, 0).clip, tmp_path)
    (r,) = probe_clip(clip, ClipContext(scene=claimed), ["uniform_motion"])
    assert r.status == "fail"
    assert r.measured["accel_px_s2"] > 10 * r.measured["accel_px_s2_stderr"]

def test_two_object_h264_clean_scene_is_not_flagged(tmp_path):
    # Magenta and cyan balls 2 px apart merge after H.264 CRF 28 (chroma at half resolution),
    # and the codec leaves background-coloured blobs where the balls uncovered the texture.
    idx = list(Motion).index(Motion.FREEFALL)
    spec, scene = _bench_scene([3, 19, idx], "freefall", n_objects=None)
    assert len(spec.objects) == 2
    clip = _h264(scene.clip, tmp_path)
    results = _by_probe(probe_clip(clip, ClipContext(prompt=spec.prompt, scene=spec)))
    assert {p: r.status for p, r in results.items() if r.status == "fail"} == {}
    assert results["freefall"].status == "pass"


def test_slow_object_footprint_in_the_median_is_no_occluder(tmp_path):
    # g x 0.5: the ball lingers near its start, so after H.264 part of it is "static" in a few
    # frames. That footprint must not become an occluder that hides the ball from the fit.
    spec = sample_scene(np.random.default_rng([2, 14]), IN_DISTRIBUTION, motion="freefall",
                        background="plain")
    wrong = make_wrong(spec, "g_half", 14)
    an = analyse_frames(_h264(wrong.clip, tmp_path).frames, spec.fps)
    assert an.occluders.shape[0] == 0
    (r,) = probe_clip(Clip(_h264(wrong.clip, tmp_path).frames, spec.fps),
                      ClipContext(scene=spec), ["freefall"])
    assert r.status == "fail" and r.measured["rel_error_g"] > 0.3, r.reason


# -- fragments and objects merged into one another (H.264 false flags) -------------------------

def _track(tid, frames, cx, cy, area, colour):
    from physics_probes.track import Track

    frames = np.asarray(frames)
    c = np.stack([np.broadcast_to(np.asarray(cx, float), frames.shape),
                  np.broadcast_to(np.asarray(cy, float), frames.shape)], axis=1)
    area = np.broadcast_to(np.asarray(area, float), frames.shape).copy()
    half = 0.5642 * np.sqrt(area)[:, None]
    return Track(track_id=tid, frames=frames, centroid=c, area=area,
                 colour=np.broadcast_to(np.asarray(colour, float), (frames.size, 3)),
                 bbox=np.concatenate([c - half, c + half], axis=1),
                 touches_border=np.zeros(frames.size, bool), static=np.zeros(frames.size, bool))


def _analysis(*tracks):
    from physics_probes.analysis import ClipAnalysis

    return ClipAnalysis(tracks=tuple(tracks), num_frames=16, height=64, width=64, fps=8.0,
                        occluders=np.zeros((0, 4)))


def test_short_blob_next_to_an_object_is_a_fragment_not_an_object():
    from physics_probes.permanence import probe_permanence

    t = np.arange(16)
    ball = _track(0, t, 10 + 2 * t, 20.0, 50.0, (230, 140, 50))
    # A 2-frame codec blob of an in-between colour on the ball's rim: no object.
    rim = _track(1, [9, 14], [28 + 4.0, 38 + 4.0], 20.0, 17.0, (125, 65, 10))
    an = _analysis(ball, rim)
    assert [tr.track_id for tr in an.objects()] == [0]
    assert probe_permanence(an).status == "pass"
    # The same blob in open view, far from any object, still appears from nowhere.
    lone = _track(1, [9, 14], [30.0, 30.0], 50.0, 17.0, (125, 65, 10))
    an = _analysis(ball, lone)
    assert len(an.objects()) == 2
    assert probe_permanence(an).status == "fail"


def test_object_merging_into_another_is_excused_and_not_measured():
    from physics_probes.constancy import probe_constancy
    from physics_probes.permanence import probe_permanence

    t = np.arange(16)
    # The blue ball catches up with the white one; from frame 6 their masks are one (larger)
    # blob until, at the blue ball's speed, it would have passed the white one (frame 10).
    white = _track(0, t, 20 + t, 30.0, np.where((t >= 6) & (t < 10), 90.0, 70.0),
                   (245, 245, 250))
    blue = _track(1, t[:6], 2 + 4 * t[:6], 30.0, 65.0, (45, 75, 220))
    an = _analysis(white, blue)
    assert probe_permanence(an).status == "pass"
    merged = an.merged(white)
    assert merged[3:10].all() and not merged[:3].any() and not merged[10:].any()
    assert probe_constancy(an).status == "pass"  # the merged (larger) masks are left out
    assert probe_constancy(_analysis(white)).status == "fail"  # ... which alone would fail
    # Vanishing far from the white ball is still a violation.
    far = _track(1, t[:6], 2 + 4 * t[:6], 55.0, 65.0, (45, 75, 220))
    assert probe_permanence(_analysis(white, far)).status == "fail"


def test_same_colour_tracks_of_one_object_are_not_merged():
    t = np.arange(16)
    a = _track(0, t[:9], 30.0, 8 + 0.2 * t[:9], 70.0, (50, 80, 205))
    b = _track(1, t[4:], 30.0, 10 + 0.5 * t[4:], 75.0, (54, 77, 211))
    an = _analysis(a, b)
    assert not an.merged(a).any() and not an.merged(b).any()


# -- faint background blobs (generated video) ---------------------------------------------------

def _faint_discs_near_the_fall(scene, rng, per_frame=2, contrast=(15.0, 20.0)):
    """The clip with, in every frame, ``per_frame`` faint darker discs (radius 3-5 px, 26-35 RGB
    off the background) at random heights within 12 px of the object's column: the shimmer of a
    generated background, whose blobs barely clear the foreground threshold."""
    frames = scene.clip.frames.astype(np.float32)
    t_len, h, w, _ = frames.shape
    yy, xx = np.mgrid[:h, :w] + 0.5
    x = scene.truth.position_px[:, 0, 0]
    for k in range(t_len):
        for _ in range(per_frame):
            cx, cy, r = x[k] + rng.uniform(-12, 12), rng.uniform(0, h), rng.uniform(3.0, 5.0)
            cover = np.clip(r + 0.5 - np.hypot(yy - cy, xx - cx), 0.0, 1.0)
            frames[k] -= (rng.uniform(*contrast) * cover)[..., None]
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", [0, 13])
def test_faint_background_blobs_are_no_objects_and_cost_the_fall_no_frames(seed):
    # Faint blobs around a falling ball must not become objects whose "merge" with the ball
    # drops its sightings from the fit (on generated clips that left too few points, and the
    # verdict flipped under a +-3 RGB watermark).
    spec = sample_scene(np.random.default_rng([7, seed]), IN_DISTRIBUTION, motion="freefall",
                        background=("plain", "textured")[seed % 2])
    scene = render(spec, seed)
    ctx = ClipContext(scene=spec)
    (ref,) = probe_clip(scene.clip, ctx, ["freefall"])
    frames = _faint_discs_near_the_fall(scene, np.random.default_rng([8, seed]))
    an = analyse_frames(frames, spec.fps)
    lasting = [tr for tr in an.objects() if len(tr) >= 4]
    assert len(lasting) == 1, [(len(tr), tr.mean_colour.round()) for tr in lasting]
    (r,) = probe_clip(Clip(frames, spec.fps), ctx, ["freefall"])
    assert r.status == "pass", r.reason
    assert r.measured["n_points"] == ref.measured["n_points"]


def test_static_speck_beside_the_fall_is_no_occluder():
    # A static speck far smaller than the object (a stain of a generated texture) hides
    # nothing: it must not become an occluder that drops the ball's sightings next to it.
    spec, scene = _scene("freefall", 10, background="plain")
    ctx = ClipContext(scene=spec)
    (ref,) = probe_clip(scene.clip, ctx, ["freefall"])
    pos, size = scene.truth.position_px[:, 0], float(scene.truth.size_px[0])
    frames = scene.clip.frames.copy()
    x0 = int(np.ceil(pos[0, 0] + size))  # the column next to the box
    y0 = int(np.median(pos[:, 1]))
    frames[:, y0:y0 + 3, x0:x0 + 3] = np.clip(frames[:, y0:y0 + 3, x0:x0 + 3].astype(int) - 60,
                                             0, 255).astype(np.uint8)
    an = analyse_frames(frames, spec.fps)
    assert an.occluders.shape[0] == 0
    (r,) = probe_clip(Clip(frames, spec.fps), ctx, ["freefall"])
    assert r.status == "pass" and r.measured["n_points"] == ref.measured["n_points"], r.reason


def test_dull_moving_objects_need_a_lower_core_contrast():
    # The price of ignoring faint blobs: an object whose core stands under 50 RGB off the
    # background is ignored too, unless the option is lowered.
    from physics_probes.extract import ExtractOptions

    spec, scene = _scene("freefall", 10, background="plain")
    frames = scene.clip.frames.astype(np.float32)
    bg = np.median(frames.reshape(-1, 3), axis=0)
    dull = np.clip(np.rint(bg + 0.2 * (frames - bg)), 0, 255).astype(np.uint8)
    assert not [tr for tr in analyse_frames(dull, spec.fps).objects() if len(tr) >= 4]
    found = analyse_frames(dull, spec.fps, ExtractOptions(min_core_contrast=20.0))
    assert [len(tr) for tr in found.objects()] == [16]


@pytest.mark.parametrize("seed", [3, 4])
def test_bright_object_on_a_noisy_textured_background_is_kept(seed):
    # The foreground threshold grows with the clip's noise (here 54 RGB); the core-contrast
    # floor must not grow so fast with it that a bright object on a busy, noisy texture (2x
    # the threshold at its dimmest) is lost as "faint".
    spec = sample_scene(np.random.default_rng([9, seed]), IN_DISTRIBUTION, motion="freefall",
                        background="textured").model_copy(update={"noise_std": 4.0})
    frames = render(spec, seed).clip.frames
    assert [len(tr) for tr in analyse_frames(frames, spec.fps).objects()] == [16]
