"""Physics probes on camera footage: the OpenCV tracker, scale, timing and no-verdict cases.

Known-scale footage is filmed by :mod:`physics_probes.camera_sim` (textured room, sensor noise,
lighting drift, motion blur, a moving hand, a shaking or panning camera) and sent through H.264;
real clips come from ../shared/data/real_videos_extra and are skipped when it is absent.
"""

from __future__ import annotations

import fractions
import json
import os
from pathlib import Path

import numpy as np
import pytest

from evalkit.clip import Clip
from evalkit.metrics.base import ClipContext
from physics_probes.camera_sim import NEGATIVE_KINDS, FootageSpec, render_footage
from physics_probes.footage import FootageOptions, analyse_footage, analyse_video_file, work_size
from physics_probes.probes import ProbeSettings, probe_clip, run_probe
from physics_probes.select import plan_clip

GRAVITY_PROBES = ("freefall", "projectile", "bounce")
BALL_RGB = np.array([235, 120, 20])
HAND_RGB = np.array([225, 170, 140])
REAL_EXTRA = Path(os.environ.get("EVALKIT_REAL_VIDEOS_EXTRA",
                                 Path(__file__).resolve().parents[2] / "shared" / "data"
                                 / "real_videos_extra"))


def _h264(frames: np.ndarray, fps: float, tmp_path: Path, name: str = "clip.mp4") -> Path:
    from evalkit.video import write_video

    path = tmp_path / name
    write_video(path, Clip(frames, fps), crf=23)
    return path


def _clip(spec: FootageSpec, tmp_path: Path) -> Clip:
    from evalkit.video import read_video

    return read_video(_h264(render_footage(spec), spec.fps, tmp_path))


def _probe(clip: Clip, probe: str, **settings) -> object:
    (r,) = probe_clip(clip, ClipContext(probe=probe), [probe], ProbeSettings(**settings))
    return r


@pytest.mark.parametrize("seed,shake,pan", [(0, 1.5, 0.0), (3, 4.0, 0.0), (2, 1.5, 60.0)])
def test_known_scale_drop_measures_g_within_10_percent(tmp_path, seed, shake, pan):
    spec = FootageSpec(kind="drop", seed=seed, shake_px=shake, pan_px_s=pan)
    clip = _clip(spec, tmp_path)
    r = _probe(clip, "freefall", pixels_per_metre=spec.pixels_per_metre)
    assert r.status == "pass", r.reason
    assert r.measured["rel_error_g"] <= 0.1
    assert abs(r.measured["g_m_s2"] - 9.81) <= 0.981
    # The measured object is the falling ball, not the hand that let it go.
    colour = np.asarray(r.measured["object_colour_rgb"])
    assert np.linalg.norm(colour - BALL_RGB) < np.linalg.norm(colour - HAND_RGB)
    assert r.measured["chosen_by"] == "motion" and r.measured["tracker"] == "footage"
    assert r.measured["moving_camera"] is True
    boxes = np.asarray(r.plot["object_boxes_px"])
    assert boxes.shape == (len(r.plot["object_frames"]), 4)
    assert boxes[-1, 3] - boxes[0, 1] > 0.5 * spec.height  # it is followed down the frame
    json.dumps(r.values())


def test_drop_without_scale_passes_on_shape_and_says_g_is_not_measurable(tmp_path):
    spec = FootageSpec(kind="drop", seed=5)
    r = _probe(_clip(spec, tmp_path), "freefall")
    assert r.status == "pass", r.reason
    assert r.measured["g_m_s2"] is None and "not measurable" in r.measured["note"]
    assert r.measured["gravity_direction_ok"] and r.measured["g_consistent"]
    assert r.measured["gravity_angle_deg"] < 10


def test_scale_from_the_known_size_of_the_ball(tmp_path):
    spec = FootageSpec(kind="drop", seed=0)
    r = _probe(_clip(spec, tmp_path), "freefall", object_size_m=2 * spec.ball_radius_m)
    assert r.measured["scale_from"] == "object size"
    assert abs(r.measured["pixels_per_metre"] / spec.pixels_per_metre - 1) < 0.1
    assert r.status == "pass" and r.measured["rel_error_g"] <= 0.1


def test_wrong_gravity_on_footage_fails_with_the_scale_known(tmp_path):
    spec = FootageSpec(kind="drop", seed=1, g_mps2=5.0)
    r = _probe(_clip(spec, tmp_path), "freefall", pixels_per_metre=spec.pixels_per_metre)
    assert r.status == "fail" and "expected" in r.reason
    assert abs(r.measured["g_m_s2"] - 5.0) < 0.5


@pytest.mark.parametrize("kind", NEGATIVE_KINDS)
def test_clips_without_a_fall_get_no_verdict(tmp_path, kind):
    spec = FootageSpec(kind=kind, seed=11, pan_px_s=150.0 if kind == "pan" else 0.0)
    clip = _clip(spec, tmp_path)
    for probe in GRAVITY_PROBES:
        for scale in (None, spec.pixels_per_metre):
            r = _probe(clip, probe, pixels_per_metre=scale)
            assert r.status in ("not_applicable", "no_object"), (probe, scale, r.reason)
            assert r.reason


def test_object_box_names_the_object_to_measure(tmp_path):
    spec = FootageSpec(kind="drop", seed=0, hand=True)
    clip = _clip(spec, tmp_path)
    analysis_box = _probe(clip, "freefall", object_box=(170.0, 0.0, 120.0, 120.0),
                          object_frame=11, pixels_per_metre=spec.pixels_per_metre)
    assert analysis_box.measured["chosen_by"] == "box"
    colour = np.asarray(analysis_box.measured["object_colour_rgb"])
    assert np.linalg.norm(colour - BALL_RGB) < np.linalg.norm(colour - HAND_RGB)
    nothing = _probe(clip, "freefall", object_box=(600.0, 300.0, 20.0, 20.0), object_frame=2)
    assert nothing.status == "no_object" and "box" in nothing.reason


def test_too_short_clips_are_inconclusive():
    for n in (1, 2):
        clip = Clip(np.zeros((n, 200, 300, 3), np.uint8), 30.0)
        results = probe_clip(clip, ClipContext(probe="freefall"))
        assert {r.status for r in results} == {"inconclusive"}
        assert all("frame" in r.reason for r in results)


def _write_vfr_drop(tmp_path: Path) -> tuple[Path, np.ndarray, FootageSpec]:
    """A dropped ball filmed at a variable frame rate (intervals of 17, 33 and 50 ms)."""
    import av

    rng = np.random.default_rng(0)
    times = np.cumsum(rng.choice([1 / 60, 1 / 30, 1 / 20], size=48))
    times -= times[0]
    spec = FootageSpec(kind="drop", seed=4, frame_times_s=tuple(times))
    frames = render_footage(spec)
    path = tmp_path / "vfr.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        stream.codec_context.time_base = fractions.Fraction(1, 1000)
        stream.time_base = fractions.Fraction(1, 1000)
        stream.options = {"crf": "20", "bf": "0"}
        for frame, t in zip(frames, times):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.time_base = int(round(t * 1000)), fractions.Fraction(1, 1000)
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path, times, spec


def test_variable_frame_rate_is_fitted_on_the_container_time_stamps(tmp_path):
    path, times, spec = _write_vfr_drop(tmp_path)
    analysis, facts = analyse_video_file(path)
    assert facts["timing"]["vfr"] and "variable frame rate" in facts["timing"]["note"]
    assert np.allclose(analysis.times_s, times, atol=2e-3)
    clip_like = Clip(np.zeros((1, spec.height, spec.width, 3), np.uint8), 30.0)
    plan = plan_clip(clip_like, ClipContext(probe="freefall"), pixels_per_metre=250.0)
    r = run_probe("freefall", analysis, plan)
    assert r.status == "pass" and r.measured["rel_error_g"] <= 0.1
    # The same frames taken as evenly spaced are no parabola: the time stamps matter.
    even, _ = analyse_video_file(path, fps=30.0)
    r_even = run_probe("freefall", even, plan)
    assert r_even.measured["rmse_px"] > 3 * r.measured["rmse_px"]


def test_working_resolution_keeps_memory_bounded():
    options = FootageOptions()
    h, w = work_size(1080, 1920, 300, options)
    assert max(h, w) <= options.work_long_side
    h, w = work_size(2160, 3840, 20_000, options)
    assert 20_000 * h * w * 3 <= options.max_work_bytes


def test_streamed_frames_are_consumed_once_and_positions_are_in_original_pixels():
    spec = FootageSpec(kind="drop", seed=2, shake_px=0.0, noise=1.0, light_drift=0.0,
                       hand=False, height=720, width=1280, pixels_per_metre=500.0)
    frames = render_footage(spec)
    consumed = []

    def stream():
        for f in frames:
            consumed.append(1)
            yield f

    analysis = analyse_footage(stream(), spec.fps, num_frames=len(frames))
    assert len(consumed) == len(frames) and analysis.width == 1280
    assert not analysis.moving_camera
    from physics_probes.camera_sim import ball_truth_px

    truth = ball_truth_px(spec, analysis.times_s)
    (track,) = [t for t in analysis.objects() if np.ptp(t.centroid[:, 1]) > 200]
    ok = analysis.clean(track)
    err = np.abs(track.centroid[ok] - truth[track.frames[ok]])
    assert np.median(err) < 2.0  # original pixels, measured at a 384 px working size


def test_cli_streams_footage_and_writes_the_trajectory_plot(tmp_path, capsys):
    import argparse

    from physics_probes.cli import add_probe_command

    spec = FootageSpec(kind="drop", seed=0)
    path = _h264(render_footage(spec), spec.fps, tmp_path)
    parser = argparse.ArgumentParser()
    add_probe_command(parser.add_subparsers())
    args = parser.parse_args(["probe", str(path), "--probe", "freefall", "--pixels-per-metre",
                              "250", "--plot-dir", str(tmp_path / "plots")])
    assert args.func(args) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    rec = json.loads(line)
    assert rec["status"] == "pass" and rec["measured"]["tracker"] == "footage"
    assert Path(rec["plot"]).is_file() and Path(rec["plot"]).stat().st_size > 1000
    with pytest.raises(SystemExit):
        parser.parse_args(["probe", str(path), "--object", "1,2,3@4"])
    assert parser.parse_args(["probe", str(path), "--object", "1,2,3,4@5"]).object == \
        ((1.0, 2.0, 3.0, 4.0), 5)


# -- real camera clips (../shared/data/real_videos_extra) -------------------------------------

def _real(rel: str) -> Path:
    path = REAL_EXTRA / rel
    if not path.is_file():
        pytest.skip(f"real clip not found: {path} (set EVALKIT_REAL_VIDEOS_EXTRA)")
    return path


def _gravity_statuses(path: Path) -> dict[str, str]:
    analysis, _ = analyse_video_file(path)
    clip_like = Clip(np.zeros((1, analysis.height, analysis.width, 3), np.uint8), analysis.fps)
    out = {}
    for probe in GRAVITY_PROBES:
        plan = plan_clip(clip_like, ClipContext(probe=probe))
        out[probe] = run_probe(probe, analysis, plan).status
    return out


def test_real_dashcam_clip_without_a_fall_gets_no_verdict():
    statuses = _gravity_statuses(_real("udacity_CarND-Vehicle-Detection/test_video.mp4"))
    assert set(statuses.values()) <= {"not_applicable", "no_object"}, statuses


@pytest.mark.slow
@pytest.mark.parametrize("rel", [
    "udacity_CarND-LaneLines-P1/solidWhiteRight.mp4",
    "openmpf_openmpf-components/toronto-highway-shortened.mp4",
    "openmpf_openmpf/man-walking-across-screen.mp4",
    "openmpf_openmpf/five-second-marathon-clip.mp4",
    "openmpf_openmpf/video_02.mp4",
])
def test_real_clips_without_a_fall_get_no_verdict(rel):
    statuses = _gravity_statuses(_real(rel))
    assert set(statuses.values()) <= {"not_applicable", "no_object"}, statuses


# -- text-grounded object choice (open-vocabulary detector) -----------------------------------

class _BoxDetector:
    """A stand-in detector that answers one box in one frame (what OWLv2 would for the ball)."""

    source = "stand-in"

    def __init__(self, frame: int, box: tuple[float, float, float, float]) -> None:
        self.frame, self.box = frame, box

    def detect(self, frames, queries, threshold=0.1):
        from evalkit.open_vocab import Detection

        self.calls = getattr(self, "calls", 0) + 1
        return [[Detection(queries[0], 0.9, self.box)] if i == self.frame else []
                for i in range(len(frames))]


def test_detector_box_names_the_object_measured(tmp_path):
    import dataclasses

    from physics_probes.grounding import ground_object, key_frames

    spec = FootageSpec(kind="drop", seed=0)
    clip = _clip(spec, tmp_path)
    idx = key_frames(clip.num_frames)
    assert len(idx) == 4 and 0 < idx[0] < idx[-1] < clip.num_frames - 1
    # Hand at the top, ball released at frame 9: the stand-in finds the ball in key frame 1.
    from physics_probes.camera_sim import ball_truth_px

    cx, cy = ball_truth_px(spec, np.array([idx[1] / spec.fps]))[0]
    r_px = spec.ball_radius_m * spec.pixels_per_metre
    detector = _BoxDetector(1, (cx - r_px, cy - r_px, cx + r_px, cy + r_px))
    grounding = ground_object(clip.frames[idx], idx, "an orange ball", detector)
    assert grounding.frame == idx[1] and grounding.score == 0.9
    settings = dataclasses.replace(ProbeSettings(pixels_per_metre=spec.pixels_per_metre),
                                   grounding=grounding)
    (r,) = probe_clip(clip, ClipContext(probe="freefall"), ["freefall"], settings)
    assert r.measured["chosen_by"] == "detector" and r.measured["detection"]["score"] == 0.9
    colour = np.asarray(r.measured["object_colour_rgb"])
    assert np.linalg.norm(colour - BALL_RGB) < np.linalg.norm(colour - HAND_RGB)
    assert r.status == "pass" and r.measured["rel_error_g"] <= 0.1
    # Nothing found: no verdict, and the result says what was looked for.
    none = dataclasses.replace(grounding, box=None, score=None)
    (r,) = probe_clip(clip, ClipContext(probe="freefall"), ["freefall"],
                      dataclasses.replace(settings, grounding=none))
    assert r.status == "no_object" and "an orange ball" in r.reason


def test_tiny_owlv2_loads_by_path_and_grounds_the_probe(tmp_path):
    pytest.importorskip("transformers")
    from tiny_models import make_tiny_owlv2

    folder = make_tiny_owlv2(tmp_path / "owl")
    spec = FootageSpec(kind="drop", seed=0, height=180, width=320, pixels_per_metre=125.0)
    clip = Clip(render_footage(spec), spec.fps)
    settings = ProbeSettings(detector=str(folder), detector_threshold=0.0,
                             pixels_per_metre=spec.pixels_per_metre)
    (r,) = probe_clip(clip, ClipContext(prompt="a ball falls", probe="freefall"), ["freefall"],
                      settings)
    det = r.measured["detection"]
    assert det["query"] == "a ball falls" and det["detector"] and det["score"] is not None
    x, y, w, h = det["box_xywh"]
    assert w > 0 and h > 0 and 0 <= det["frame"] < clip.num_frames
    # A random model's box names some object or none: either it is measured, or no verdict.
    assert r.measured.get("chosen_by", "detector") == "detector"
    assert r.status in ("pass", "fail", "no_object", "inconclusive", "not_applicable")
    with pytest.raises(ValueError, match="prompt"):
        probe_clip(clip, ClipContext(probe="freefall"), ["freefall"], settings)


# -- permanence and constancy on footage ------------------------------------------------------

_BALL_BOX = (195.0, 20.0, 60.0, 70.0)  # around the ball just after it is let go (frame 13)


@pytest.mark.parametrize("wrong,probe,words", [
    (None, None, None), ("vanish", "permanence", "vanishes"),
    ("teleport", "permanence", "vanishes"), ("grow", "constancy", "changes size"),
    ("recolour", "constancy", "changes colour")])
def test_named_object_permanence_and_constancy_on_footage(wrong, probe, words):
    spec = FootageSpec(kind="drop", seed=2, wrong=wrong, wrong_at_s=0.62)
    clip = Clip(render_footage(spec), spec.fps)
    named = ProbeSettings(object_box=_BALL_BOX, object_frame=13)
    res = {r.probe: r for r in probe_clip(clip, ClipContext(probe="physics"),
                                          ["permanence", "constancy"], named)}
    # Camera shake, noise, lighting drift, motion blur and the hand are no violations; the
    # ball let go (a track that starts while still) is no object appearing from nowhere.
    for name, r in res.items():
        if name == probe:
            assert r.status == "fail" and words in r.reason, r.reason
        else:
            assert r.status == "pass", (name, r.reason)
    # Unnamed objects on footage are not judged: background subtraction splits people and
    # cars into masks that come and go, which are no violations.
    for r in probe_clip(clip, ClipContext(probe="physics"), ["permanence", "constancy"]):
        assert r.status == "inconclusive" and "--object" in r.reason


@pytest.mark.slow
def test_real_basketball_bounce_is_measured_on_the_ball():
    """A hand-held gym clip: a ball passed into view bounces once (the README's example)."""
    path = _real("open-mmlab_mmaction2/test_video_structuralize.mp4")
    analysis, facts = analyse_video_file(path)
    clip_like = Clip(np.zeros((1, analysis.height, analysis.width, 3), np.uint8), analysis.fps)
    r = run_probe("bounce", analysis, plan_clip(clip_like, ClipContext(probe="bounce")))
    assert r.status == "pass", r.reason
    assert r.measured["n_contacts"] == 1 and 0.5 < r.measured["max_restitution"] < 1.0
    assert r.measured["object_size_px"] < 25  # a ball at this distance, not a player
    assert 8.5 < r.measured["contact_t_s"][0] < 9.2


def test_physics_metric_on_unnamed_footage_gives_no_verdict_and_says_why():
    from physics_probes.metrics import PhysicsMetric

    spec = FootageSpec(kind="walk", seed=3)
    clip = Clip(render_footage(spec), spec.fps)
    values = PhysicsMetric().score(clip, ClipContext(prompt="a person walks across a room"))
    assert values["passed"] is None and values["status"] == "inconclusive"
    assert values["permanence_status"] == "inconclusive"
    json.dumps(values)


def test_uniform_motion_on_footage_judges_only_a_named_object():
    spec = FootageSpec(kind="drop", seed=2)
    clip = Clip(render_footage(spec), spec.fps)
    assert _probe(clip, "uniform_motion").status == "inconclusive"
    named = _probe(clip, "uniform_motion", object_box=_BALL_BOX, object_frame=13)
    assert named.measured["chosen_by"] == "box"
    assert named.status == "fail" and "accelerates" in named.reason  # a falling ball


def test_probe_metric_refuses_a_missing_detector_while_planning(tmp_path):
    from physics_probes.metrics import FreefallMetric

    problem = FreefallMetric.options_problem({"detector": str(tmp_path / "no-such-model")})
    assert problem and "\n" not in problem
    assert FreefallMetric.options_problem({}) is None


def test_the_runner_hands_a_vfr_clip_its_frame_times(tmp_path):
    """`evalkit run` decodes a clip for its metrics; a VFR file's stamps travel with it."""
    from evalkit.runner import _attach_vfr_times
    from evalkit.video import read_video
    from physics_probes.metrics import FreefallMetric

    path, times, spec = _write_vfr_drop(tmp_path)
    clip = read_video(path)
    _attach_vfr_times(clip, str(path))
    assert np.allclose(clip.metadata["frame_times_s"], times, atol=2e-3)
    metric = FreefallMetric(pixels_per_metre=250.0)
    timed = metric.score(clip, ClipContext(probe="freefall"))
    assert timed["status"] == "pass" and timed["rel_error_g"] <= 0.1
    assert "variable frame rate" in timed["timing_note"]
    even = metric.score(read_video(path), ClipContext(probe="freefall"))  # stamps dropped
    assert even["status"] != "pass" or even["rel_error_g"] > 2 * timed["rel_error_g"]
    from evalkit.video import write_video

    steady_path = write_video(tmp_path / "cfr.mp4", Clip(render_footage(FootageSpec(kind="drop", seed=1)), 30.0))
    steady = read_video(steady_path)
    _attach_vfr_times(steady, str(steady_path))
    assert "frame_times_s" not in steady.metadata  # constant rate: i / fps is exact
