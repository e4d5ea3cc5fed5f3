"""The Streamlit leaderboard (app/): data layer, every page through Streamlit's AppTest, the
``evalkit leaderboard`` command, and an end-to-end check in headless Chromium.

Runs are made by the real runner (``world`` and ``world-96``); probe, detector and FVD results
that other parts of evalkit produce are added as records in the run folder's own format, so the
pages that show them are tested whether or not those parts are installed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app import data  # noqa: E402
from app.cli import APP_FILE, add_leaderboard_command, streamlit_command  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 60


# ----------------------------------------------------------------------------------------------
# Run folders
# ----------------------------------------------------------------------------------------------


def make_run(out: Path, name: str = "demo", prompts: int = 3) -> Path:
    """A real run: generators world and world-96 on the first quickstart prompts."""
    from evalkit.runner import run_suite
    from evalkit.suite import load_suite

    resolved = load_suite({
        "name": name,
        "prompts": {"builtin": "quickstart", "limit": prompts},
        "samples_per_prompt": 1,
        "generators": [{"name": "world"},
                       {"name": "world", "label": "world-96",
                        "options": {"height": 96, "width": 96}}],
        "metrics": [{"name": "temporal_flickering"}, {"name": "motion_magnitude"}],
    }, output=out)
    report = run_suite(resolved, progress=False)
    assert report.ok
    return out


def _append(path: Path, records: list[dict]) -> None:
    with open(path, "a") as fh:
        for record in records:
            fh.write(json.dumps(record) + "\n")


def add_metric(run_dir: Path, name: str, info: dict, values_for) -> None:
    """Add a metric to run.json and one result line per clip (or per generator for a set
    metric) with ``values_for(generator, prompt_id) -> values``."""
    run_file = run_dir / "run.json"
    run = json.loads(run_file.read_text())
    run["metrics"][name] = {"name": name, "version": "1", "options": {}, "units": "",
                            "scope": "clip", **info}
    run_file.write_text(json.dumps(run))
    gens = [json.loads(line) for line in (run_dir / "generations.jsonl").read_text().splitlines()]
    records = []
    if info.get("scope") == "set":
        for gen in sorted({g["generator"] for g in gens}):
            records.append({"generator": gen, "prompt_id": "*", "prompt": "", "sample": -1,
                            "seed": None, "metric": name, "status": "ok",
                            "values": values_for(gen, "*")})
    else:
        for g in gens:
            records.append({k: g[k] for k in ("generator", "prompt_id", "prompt", "sample",
                                               "seed")}
                           | {"metric": name, "status": "ok",
                              "values": values_for(g["generator"], g["prompt_id"])})
    _append(run_dir / "results.jsonl", records)


def freefall_values(generator: str, prompt_id: str) -> dict:
    t = [i / 8 for i in range(12)]
    g = 30.0 if generator == "world" else 24.0
    tracked = [5 + 0.5 * g * x * x + (0.3 if i % 2 else -0.3) for i, x in enumerate(t)]
    fit = [5 + 0.5 * g * x * x for x in t]
    expected = [5 + 0.5 * 30.0 * x * x for x in t]
    ok = generator == "world"
    return {"passed": 1.0 if ok else 0.0, "status": "pass" if ok else "fail",
            "reason": "" if ok else "g is 20% below the scene's", "error": abs(g - 30) / 30,
            "error_key": "g_rel_error", "g_px_s2": g, "expected_g_px_s2": 30.0,
            "g_rel_error": abs(g - 30) / 30, "points_t_s": t, "points_y_px": tracked,
            "fit_t_s": t, "fit_y_px": fit, "expected_y_px": expected}


def enrich(run_dir: Path, backbone: str = "evaluator", n: int = 3) -> Path:
    """Probe, detector and FVD results in the run folder's format."""
    add_metric(run_dir, "freefall", {"higher_is_better": True, "units": "pass rate",
                                     "primary": "passed"}, freefall_values)
    add_metric(run_dir, "detector", {"higher_is_better": False, "units": "probability",
                                     "primary": "probability"},
               lambda gen, pid: {"probability": 0.2 + 0.5 * (gen == "world-96")
                                 + 0.01 * (len(pid) % 7), "label": "ai"})
    add_metric(run_dir, "fvd", {"higher_is_better": False, "units": "squared feature distance",
                                "primary": "fvd", "scope": "set"},
               lambda gen, pid: {"fvd": 12.5 if gen == "world" else 40.25, "kvd": 0.1,
                                 "backbone": backbone, "n_real": n, "n_fake": n, "frames": 16,
                                 "resolution": [64, 64], "feature_dim": 32})
    return run_dir


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory) -> Path:
    """runs/demo (real + probe/detector/FVD records) and runs/plain (real only)."""
    root = tmp_path_factory.mktemp("runs")
    enrich(make_run(root / "demo"))
    shutil.copytree(root / "demo", root / "plain")
    return root


@pytest.fixture
def plain_run(tmp_path) -> Path:
    """A fresh real run of its own (for tests that write into it)."""
    return make_run(tmp_path / "runs" / "solo", prompts=2)


def app(runs_dir: Path | str, page: str = "Leaderboard") -> AppTest:
    os.environ["EVALKIT_RUNS_DIR"] = str(runs_dir)
    try:
        at = AppTest.from_file(str(APP_FILE), default_timeout=TIMEOUT)
        at.run()
        if page != "Leaderboard":
            at.sidebar.radio(key="page").set_value(page).run()
    finally:
        os.environ.pop("EVALKIT_RUNS_DIR", None)
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame_with(at: AppTest, column: str):
    """The first table on the page that has ``column``."""
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with a '{column}' column")


def texts(at: AppTest) -> str:
    parts = []
    for kind in ("title", "markdown", "caption", "info", "warning", "error", "subheader"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------------
# Data layer
# ----------------------------------------------------------------------------------------------


def test_find_runs_accepts_a_runs_folder_a_run_folder_and_nesting(runs_root, tmp_path):
    assert [p.name for p in data.find_runs(runs_root)] == ["demo", "plain"]
    assert data.find_runs(runs_root / "demo") == [runs_root / "demo"]
    nested = tmp_path / "all"
    shutil.copytree(runs_root / "plain", nested / "group" / "plain")
    assert [p.name for p in data.find_runs(nested)] == ["plain"]
    (tmp_path / "empty").mkdir()
    assert data.find_runs(tmp_path / "empty") == []
    with pytest.raises(data.AppDataError, match="does not exist"):
        data.find_runs(tmp_path / "nope")


def test_stamp_changes_when_results_are_appended(plain_run):
    before = data.run_stamp(plain_run)
    assert {name for name, *_ in before} >= {"run.json", "generations.jsonl", "results.jsonl"}
    _append(plain_run / "results.jsonl", [{"generator": "world", "prompt_id": "x", "sample": 0,
                                           "metric": "m", "status": "error"}])
    assert data.run_stamp(plain_run) != before


def test_leaderboard_directions_set_metric_context_and_rank(runs_root):
    run = data.load_run(runs_root / "demo")
    assert run.ok and run.notes == [], run.notes
    board = data.leaderboard([run], rank_by="fvd")
    frame = board.frame
    assert list(frame["generator"]) == ["world", "world-96"]  # lower FVD first
    assert list(frame["rank"]) == [1, 2]
    assert board.issues == []
    row = frame.iloc[0]
    assert row["N"] == 3 and row["fvd"] == 12.5
    assert row["fvd backbone"] == "evaluator" and row["fvd N"] == "3/3"
    assert row["fvd frames"] == "16 @ 64x64"
    assert row["freefall"] == 1.0 and frame.iloc[1]["freefall"] == 0.0
    assert data.metric_label("fvd", board.metrics["fvd"]) == "fvd ↓"
    assert data.metric_label("temporal_flickering", board.metrics["temporal_flickering"]) \
        == "temporal_flickering ↑"
    assert data.metric_label("motion_magnitude", board.metrics["motion_magnitude"]) \
        == "motion_magnitude"


def test_leaderboard_groups_runs_that_are_not_comparable(tmp_path):
    a = enrich(make_run(tmp_path / "a", name="s1", prompts=2), backbone="evaluator", n=2)
    b = enrich(make_run(tmp_path / "b", name="s1", prompts=3), backbone="i3d", n=3)
    c = enrich(make_run(tmp_path / "c", name="s2", prompts=2), backbone="evaluator", n=2)
    board = data.leaderboard([data.load_run(p) for p in (a, b, c)], rank_by="fvd")
    text = "; ".join(board.issues)
    assert "different suites: s1, s2" in text
    assert "different N" in text
    assert "fvd: different backbone: evaluator, i3d" in text
    assert len(board.groups) == 3
    # ranks restart in every group: nothing is ranked across groups
    for _, group in board.frame.groupby("group"):
        assert sorted(group["rank"]) == [1, 2]


def test_probe_boxes_give_the_measured_object_per_frame():
    boxes = data.probe_boxes({"object_frames": [3, 4], "object_boxes_px": [[0, 1, 4, 5],
                                                                          [2, 3, 6, 9]]})
    assert boxes["frame"].tolist() == [3, 4] and boxes["cy"].tolist() == [3.0, 6.0]
    assert data.probe_boxes({"object_frames": [1], "object_boxes_px": []}).empty
    assert data.probe_boxes({}).empty


def test_probe_series_pairs_lists_with_their_time_axis():
    values = freefall_values("world-96", "p")
    frame = data.probe_series(values)
    assert set(frame["quantity"]) == {"y_px"}
    assert set(frame["role"]) == {"tracked", "fitted", "expected"}
    assert set(frame[frame["role"] == "fitted"]["x_key"]) == {"fit_t_s"}
    assert len(frame) == 3 * 12
    # no time list: the index is the x axis; unequal lengths are kept apart
    frame = data.probe_series({"track_x": [1.0, 2.0, 3.0], "track_y": [0, None, 2],
                               "status": "fail", "frames": [0, 1]})
    assert set(frame["x_key"]) == {"index"} and len(frame) == 5
    table = data.probe_table(values)
    row = table[table["quantity"] == "g_px_s2"].iloc[0]
    assert (row["measured"], row["expected"]) == ("24", "30")


def test_expected_curve_is_derived_from_the_measured_and_expected_gravity():
    """physics_probes reports the fit and g (measured, expected) but no expected curve."""
    t = [i / 8 for i in range(16)]
    tt = [i * 15 / 8 / 31 for i in range(32)]
    values = {"status": "fail", "g_px_s2": 20.0, "expected_g_px_s2": 30.0,
              "points_t_s": t, "points_x_px": [30.0] * 16,
              "points_y_px": [5 + 10 * x * x for x in t],
              "fit_t_s": tt, "fit_y_px": [5 + 10 * x * x for x in tt]}
    frame = data.probe_series(values)
    y = frame[frame["quantity"] == "y_px"]
    assert set(y["role"]) == {"tracked", "fitted", "expected"}
    assert set(y[y["role"] == "fitted"]["x_key"]) == {"fit_t_s"}
    expected = y[y["role"] == "expected"].set_index("t")["value"]
    assert expected.iloc[0] == pytest.approx(5.0)
    assert expected.iloc[-1] == pytest.approx(5 + 15 * tt[-1] ** 2)
    assert set(frame[frame["quantity"] == "x_px"]["role"]) == {"tracked"}


def test_half_written_runs_give_messages_not_exceptions(plain_run, tmp_path):
    only_info = tmp_path / "only_info"
    only_info.mkdir()
    shutil.copy(plain_run / "run.json", only_info / "run.json")
    run = data.load_run(only_info)
    assert run.error and "no clips or results yet" in run.error

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "run.json").write_text('{"suite": "x", "metr')
    assert "cannot be read" in data.load_run(broken).error

    with open(plain_run / "results.jsonl", "a") as fh:
        fh.write('{"generator": "world", "prompt_id": "a-red-ba')  # killed mid-line
    run = data.load_run(plain_run)
    assert run.ok and list(run.table.index) == ["world", "world-96"]
    assert any("damaged line" in note for note in run.notes)


def test_clip_files_are_found_when_the_run_folder_moves(plain_run, tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.move(str(plain_run), moved)
    run = data.load_run(moved)
    files = run.clips["file"].tolist()
    assert files and all(f and f.startswith(str(moved)) for f in files)


def test_detector_eval_formats(tmp_path):
    path = tmp_path / "detector-eval" / "eval.json"
    path.parent.mkdir()
    path.write_text(json.dumps({
        "auc": 0.9, "roc": {"fpr": [0, 0.1, 1], "tpr": [0, 0.8, 1]},
        "pr": {"clean": {"precision": [1, 0.9, 0.5], "recall": [0, 0.5, 1], "ap": 0.8}},
        "robustness": {"jpeg q30": {"auc": 0.8, "ap": 0.7}}}))
    ev = data.load_detector_eval(path)
    assert ev["roc"][0]["auc"] == 0.9 and ev["pr"][0]["name"] == "clean"
    assert list(ev["robustness"]["condition"]) == ["jpeg q30"]
    assert data.find_detector_evals([tmp_path]) == [path]
    (tmp_path / "bad.json").write_text("[1, 2")
    with pytest.raises(data.AppDataError, match="cannot be read"):
        data.load_detector_eval(tmp_path / "bad.json")


# ----------------------------------------------------------------------------------------------
# Pages (AppTest)
# ----------------------------------------------------------------------------------------------


def test_leaderboard_page(runs_root):
    at = app(runs_root / "demo")
    table = at.dataframe[0].value
    assert set(table["generator"]) == {"world", "world-96"}
    assert table["temporal_flickering"].is_monotonic_decreasing  # ranked by it, ↑
    assert list(table["rank"]) == [1, 2]
    assert {"N", "fvd", "fvd backbone", "fvd N", "fvd frames", "temporal_flickering",
            "freefall", "detector"} <= set(table.columns)
    assert at.selectbox(key="rank_by").value == "temporal_flickering"
    assert not at.warning  # one run: everything comparable
    at.selectbox(key="rank_by").set_value("fvd").run()
    assert list(at.dataframe[0].value["generator"]) == ["world", "world-96"]
    at.selectbox(key="rank_by").set_value("detector").run()  # lower is better
    assert list(at.dataframe[0].value["generator"]) == ["world", "world-96"]


def test_leaderboard_flags_and_filters_suites(tmp_path):
    root = tmp_path / "runs"
    enrich(make_run(root / "r1", name="s1", prompts=2))
    enrich(make_run(root / "r2", name="s2", prompts=3), backbone="i3d")
    at = app(root)
    assert "Not all rows are comparable" in texts(at)
    assert "different suites" in texts(at)
    assert len(frame_with(at, "generator")) == 4
    at.multiselect(key="suite_filter").set_value(["s2"]).run()
    assert not at.exception
    assert "Not all rows are comparable" not in texts(at)
    assert set(frame_with(at, "generator")["suite"]) == {"s2"}


def test_generator_page(runs_root):
    at = app(runs_root / "demo", "Generator")
    at.selectbox(key="gen_run").set_value("demo").run()
    at.selectbox(key="gen_name").set_value("world-96").run()
    assert not at.exception, [e.value for e in at.exception]
    videos = at.get("video")
    # 3 in the gallery, then this clip and the world clip of the same prompt
    assert len(videos) == 5
    text = texts(at)
    assert "`world` in this run (ground truth)" in text
    assert "freefall" in text and "g is 20% below" in text
    assert "a red ball falls" in text
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 2  # the probe's y_px curves and the detector histogram
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["clips"] == "3"
    assert metrics["fvd ↓"] == "40.25"
    probe_counts = [df.value for df in at.dataframe if "pass rate" in df.value.columns][0]
    assert probe_counts.iloc[0]["fail"] == 3


def test_generator_page_renders_the_world_clip_when_the_run_has_none(plain_run):
    at = app(plain_run, "Generator")
    at.selectbox(key="gen_name").set_value("world").run()  # world-96 is not the plain world
    assert "world render of the prompt's scene" in texts(at)
    assert "No physics probe results" in texts(at)
    assert "No detector results" in texts(at)


def test_generator_page_with_the_real_physics_probes(tmp_path):
    """With physics_probes installed: its freefall result is plotted on the Generator page."""
    from evalkit import registry

    if "freefall" not in registry.available("metric"):
        pytest.skip("physics_probes' metrics are not registered")
    from evalkit.runner import run_suite
    from evalkit.suite import load_suite

    out = tmp_path / "runs" / "probes"
    run_suite(load_suite({
        "name": "probes", "prompts": {"builtin": "quickstart", "limit": 2},
        "generators": [{"name": "world"}],
        "metrics": [{"name": "freefall"}, {"name": "projectile"}]}, output=out),
        progress=False)
    run = data.load_run(out)
    values = run.values.get(("world", run.clips["prompt_id"][0], 0, "freefall"))
    if not values or values.get("status") != "pass":
        pytest.skip(f"physics_probes' freefall gave no verdict here: {values}")
    at = app(out, "Generator")
    clip_box = next(b for b in at.selectbox if str(b.key).startswith("clip_choice:"))
    clip_box.select_index(0).run()
    assert not at.exception
    assert "freefall" in texts(at) and "No verdict: projectile" in texts(at)
    specs = " ".join(str(c.proto) for c in at.get("vega_lite_chart"))
    for role in ("tracked", "fitted", "expected"):
        assert role in specs
    assert "measured object: box per frame" in specs and "chosen by colour" in specs


def test_detector_page(tmp_path, runs_root):
    at = app(runs_root, "Detector")
    assert not at.exception
    shipped = REPO / "detectors" / "weights" / "detector_v2_eval.json"
    if shipped.is_file():  # the shipped model's evaluation is found without being asked for
        assert str(shipped) in texts(at)
        assert frame_with(at, "condition") is not None
    else:
        assert "No detector evaluation found" in texts(at)
    assert any("detector" in str(c.proto) for c in at.get("vega_lite_chart"))

    path = tmp_path / "detector_eval.json"
    path.write_text(json.dumps({
        "detector": "tiny-cnn", "auc": 0.93, "ap": 0.91,
        "roc": {"fpr": [0, 0.05, 0.2, 1], "tpr": [0, 0.6, 0.9, 1]},
        "pr": {"precision": [1, 0.95, 0.8, 0.5], "recall": [0, 0.5, 0.9, 1]},
        "robustness": [{"condition": "clean", "auc": 0.93, "ap": 0.91},
                       {"condition": "h264 crf 35", "auc": 0.81, "ap": 0.78}]}))
    at.text_input(key="detector_eval_path").set_value(str(path)).run()
    assert not at.exception
    assert "No detector evaluation found" not in texts(at)
    assert {m.label: m.value for m in at.metric}["auc"] == "0.93"
    table = frame_with(at, "condition")
    assert list(table["condition"]) == ["clean", "h264 crf 35"]
    specs = [str(c.proto) for c in at.get("vega_lite_chart")]
    assert any("ROC" in s for s in specs) and any("Precision-recall" in s for s in specs)

    at.text_input(key="detector_eval_path").set_value(str(tmp_path / "missing.json")).run()
    assert not at.exception
    assert "does not exist" in texts(at)


def test_detector_eval_is_found_under_the_runs_folder(runs_root, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(runs_root / "plain", root / "plain")
    (root / "detector-eval").mkdir()
    (root / "detector-eval" / "report.json").write_text(json.dumps(
        {"roc": {"fpr": [0, 1], "tpr": [0, 1]}}))
    at = app(root, "Detector")
    assert at.selectbox(key="detector_eval_pick").value.endswith("report.json")
    assert "This evaluation has no robustness table." in texts(at)


def test_compare_page(runs_root):
    at = app(runs_root, "Compare")
    assert at.selectbox(key="cmp_a").value == "demo / world"
    assert at.selectbox(key="cmp_b").value == "demo / world-96"
    summary = frame_with(at, "B wins")
    row = summary[summary["metric"] == "freefall ↑"].iloc[0]
    assert (row["better"], row["A wins"], row["B wins"]) == ("A", 3, 0)
    fvd = summary[summary["metric"] == "fvd ↓"].iloc[0]
    assert (fvd["A"], fvd["B"], fvd["better"]) == (12.5, 40.25, "A")
    assert len(at.get("video")) == 2
    at.selectbox(key="cmp_prompt").set_value(1).run()
    assert not at.exception and len(at.get("video")) == 2
    # across runs: the same prompts in another folder are matched on their text
    at.selectbox(key="cmp_b").set_value("plain / world-96").run()
    assert not at.exception
    assert len(frame_with(at, "B wins")) >= 3


@pytest.mark.parametrize("page", ["Leaderboard", "Generator", "Detector", "Compare"])
def test_missing_empty_and_half_written_folders_give_messages(page, tmp_path, runs_root):
    at = app(tmp_path / "does-not-exist", page)
    if page != "Detector":
        assert "does not exist" in texts(at)

    empty = tmp_path / "empty"
    empty.mkdir()
    at = app(empty, page)
    if page != "Detector":
        assert "No run folders" in texts(at)

    half = tmp_path / "half"
    (half / "starting").mkdir(parents=True)
    shutil.copy(runs_root / "plain" / "run.json", half / "starting" / "run.json")
    (half / "torn").mkdir()
    (half / "torn" / "run.json").write_text('{"suite": "demo", "conf')
    at = app(half, page)
    if page != "Detector":
        text = texts(at)
        assert "no clips or results yet" in text and "cannot be read" in text

    shutil.copytree(runs_root / "plain", half / "good")
    with open(half / "good" / "results.jsonl", "a") as fh:
        fh.write('{"generator": "world", "metric": "temporal_fl')
    at = app(half, page)
    if page == "Leaderboard":
        assert set(at.dataframe[0].value["generator"]) == {"world", "world-96"}
        assert "damaged line" in texts(at)


def test_results_refresh_when_files_change(plain_run):
    at = app(plain_run)
    before = at.dataframe[0].value.set_index("generator").loc["world", "temporal_flickering"]
    gens = [json.loads(line) for line in (plain_run / "generations.jsonl").read_text().splitlines()]
    # the same clips scored again with another value: the last line for a key wins
    _append(plain_run / "results.jsonl", [
        {k: g[k] for k in ("generator", "prompt_id", "prompt", "sample", "seed")}
        | {"metric": "temporal_flickering", "status": "ok",
           "values": {"temporal_flickering": 0.5, "mean_abs_diff": 1.0}}
        for g in gens if g["generator"] == "world"])
    at.run()
    after = at.dataframe[0].value.set_index("generator").loc["world", "temporal_flickering"]
    assert before > 0.9 and after == pytest.approx(0.5)


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


def test_leaderboard_command(tmp_path):
    import argparse

    parser = argparse.ArgumentParser(prog="evalkit")
    sub = parser.add_subparsers(dest="command")
    add_leaderboard_command(sub)
    args = parser.parse_args(["leaderboard", str(tmp_path), "--port", "8765"])
    assert (args.runs_dir, args.port) == (str(tmp_path), 8765)
    assert parser.parse_args(["leaderboard"]).runs_dir == "runs"
    cmd = streamlit_command(tmp_path, 8765)
    joined = " ".join(cmd)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(APP_FILE)
    for flag in ("--server.address 127.0.0.1", "--server.port 8765",
                 "--server.headless true", "--browser.gatherUsageStats false"):
        assert flag in joined
    assert cmd[-2:] == ["--", str(tmp_path)]

    from evalkit.errors import EvalkitError

    with pytest.raises(EvalkitError, match="does not exist"):
        args.func(parser.parse_args(["leaderboard", str(tmp_path / "nope")]))


def test_cli_module_does_not_import_streamlit():
    code = ("import sys, app.cli, argparse; p = argparse.ArgumentParser(); "
            "app.cli.add_leaderboard_command(p.add_subparsers()); "
            "assert 'streamlit' not in sys.modules and 'pandas' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=60)


# ----------------------------------------------------------------------------------------------
# End to end: the served app in headless Chromium
# ----------------------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(port: int, proc: subprocess.Popen, seconds: float = 45) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"streamlit exited with {proc.returncode}: "
                                 f"{proc.stdout.read().decode(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"streamlit did not answer on 127.0.0.1:{port} in {seconds} s")


def test_served_app_in_headless_chromium(runs_root, tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found (scripts/ci_browser_setup.sh installs Debian's "
                    "chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright's Python package is not installed (scripts/ci_browser_setup.sh)")

    port = _free_port()
    env = {**os.environ, "EVALKIT_RUNS_DIR": str(runs_root / "demo"),
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    proc = subprocess.Popen(
        streamlit_command(runs_root / "demo", port, ["--server.fileWatcherType", "none",
                                                     "--server.runOnSave", "false"]),
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    shot = tmp_path / "leaderboard.png"
    try:
        _wait_healthy(port, proc)
        with sync_api.sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM),
                headless=True, args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 760})
            try:
                page = context.new_page()
                page.set_default_timeout(30_000)
                page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
                table = page.locator('[data-testid="stDataFrame"]').first
                table.wait_for(state="visible")
                page.get_by_role("heading", name="Leaderboard").wait_for()
                # the grid draws on a canvas; its cells are also in an accessible table
                cells = table.locator('[role="gridcell"]')
                page.wait_for_function(
                    "() => document.querySelectorAll("
                    "'[data-testid=\"stDataFrame\"] [role=\"gridcell\"]').length > 0")
                shown = {c.strip() for c in cells.all_inner_texts() + cells.all_text_contents()}
                assert {"world", "world-96"} <= shown, shown
                page.wait_for_timeout(500)  # let the canvas finish painting
                page.screenshot(path=str(shot))
            finally:
                context.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    assert shot.stat().st_size > 10_000
    if os.environ.get("EVALKIT_SAVE_SCREENSHOT"):
        target = REPO / "app" / "screenshots" / "leaderboard.png"
        target.parent.mkdir(exist_ok=True)
        shutil.copy(shot, target)


def test_set_metric_context_separates_fvd_protocols_and_weights() -> None:
    from app.data import set_metric_context

    base = {"backbone": "i3d", "n_real": 64, "n_fake": 64, "frames": 16, "resolution": [224, 224]}
    a = set_metric_context({**base, "protocol": "styleganv", "weights_sha256": "af5c50f0" + "0" * 56})
    b = set_metric_context({**base, "protocol": "cdfvd", "weights_sha256": "af5c50f0" + "0" * 56})
    assert a["backbone"] == "i3d/styleganv@af5c50f0" and a["backbone"] != b["backbone"]
    assert set_metric_context({"backbone": "evaluator"})["backbone"] == "evaluator"


def test_detector_page_reads_the_real_video_detectors_evaluation(tmp_path, runs_root):
    shipped = REPO / "detectors" / "weights" / "detector_v3_eval.json"
    ev = data.load_detector_eval(shipped)
    assert [c["name"] for c in ev["roc"]][:2] == ["clean", "h264_crf23"] and ev["roc"][0]["auc"] > 0.5
    assert set(ev["robustness"]["condition"]) >= {"clean", "gif_8fps_256", "h264_crf35"}
    assert ev["scalars"]["families"] == 19 and 0.5 < ev["scalars"]["mean_lofo_auc"] < 1
    assert len(ev["families"]) == 19 and {"held_out", "auc", "auc_all_real_folds"} <= set(ev["families"].columns)
    assert set(ev["unseen_real"]["condition"]) >= {"clean", "gif_8fps_256"}
    at = app(runs_root, "Detector")
    at.text_input(key="detector_eval_path").set_value(str(shipped)).run()
    assert not at.exception
    assert frame_with(at, "condition") is not None
    assert frame_with(at, "held_out") is not None and frame_with(at, "labelled_ai_generated") is not None


# ----------------------------------------------------------------------------------------------
# A new user's first hour (issue 17): glitches that each had a user fooled
# ----------------------------------------------------------------------------------------------


def _make_run_with_prompts(out: Path, name: str, prompts: list[str]) -> Path:
    from evalkit.runner import run_suite
    from evalkit.suite import load_suite

    assert run_suite(load_suite({
        "name": name, "prompts": {"inline": prompts}, "samples_per_prompt": 1,
        "generators": [{"name": "world"}], "metrics": [{"name": "temporal_flickering"}],
    }, output=out), progress=False).ok
    return out


def _widget(at: AppTest, prefix: str):
    return next(b for b in at.selectbox if str(b.key).startswith(prefix))


def test_clip_vs_world_follows_a_switch_of_run(tmp_path):
    """The clip picked in one run must not carry over, by position, to another run: the
    prompt beside the clip is the prompt of the clip shown."""
    root = tmp_path / "runs"
    _make_run_with_prompts(root / "r1", "r1", ["a red ball falls from the upper left",
                                               "a blue box falls from the top",
                                               "a green ball falls from the upper right"])
    r2 = ["a white box rests at the lower right", "a yellow ball moves right across the center",
          "a cyan ball rests at the lower left"]
    _make_run_with_prompts(root / "r2", "r2", r2)
    at = app(root, "Generator")
    at.selectbox(key="gen_run").set_value("r1").run()
    _widget(at, "clip_choice:").select_index(2).run()
    before = _widget(at, "clip_choice:").value.split(" · sample")[0]
    assert before in [m.value.strip("*") for m in at.markdown]
    at.selectbox(key="gen_run").set_value("r2").run()
    assert not at.exception
    box = _widget(at, "clip_choice:")
    assert str(root / "r2") in str(box.key)
    chosen = box.value.split(" · sample")[0]
    assert chosen in r2
    shown = [m.value.strip("*") for m in at.markdown]
    assert chosen in shown and before not in shown


def test_physics_tab_plots_a_clips_probes(runs_root):
    at = app(runs_root / "demo", "Generator")
    at.selectbox(key="gen_name").set_value("world-96").run()
    physics = at.tabs[2]
    assert physics.label == "Physics probes"
    assert len(physics.get("vega_lite_chart")) >= 1, "the Physics tab has no plot"
    assert str(_widget(at, "probe_clip:").key).endswith("world-96")


def test_a_clip_that_only_failed_constancy_shows_no_error_row(tmp_path):
    run_dir = make_run(tmp_path / "runs" / "c", prompts=2)
    add_metric(run_dir, "physics", {"higher_is_better": True, "units": "pass", "primary": "passed"},
               lambda gen, pid: {"passed": 0.0, "status": "fail",
                                 "reason": "constancy: size changes by 14%",
                                 "failed_probes": ["constancy"], "error": 1.0,
                                 "error_key": "n_failed_probes", "n_failed_probes": 1,
                                 "n_verdicts": 3})
    run = data.load_run(run_dir)
    key = next(k for k in run.values if k[3] == "physics")
    values = run.values[key]
    assert "error" not in set(data.probe_table(values)["quantity"])
    table = data.clip_values(run, key[0], key[1], key[2])
    assert "error" not in set(table["value"]) and "n_failed_probes" in set(table["value"])
    at = app(run_dir, "Generator")
    for df in at.dataframe:
        if "value" in df.value.columns:
            assert "error" not in set(df.value["value"])
        if "quantity" in df.value.columns:
            assert "error" not in set(df.value["quantity"])


def test_compare_counts_repeated_prompt_texts_once(tmp_path):
    """Two prompt ids with one text: pairs are k-th copy with k-th copy, not every pair."""
    run_dir = make_run(tmp_path / "runs" / "dup", prompts=3)
    first_text = None
    for fname in ("generations.jsonl", "results.jsonl"):
        lines = [json.loads(x) for x in (run_dir / fname).read_text().splitlines()]
        ids = sorted({r["prompt_id"] for r in lines if r["prompt_id"] != "*"})
        texts_by_id = {r["prompt_id"]: r["prompt"] for r in lines}
        first_text = texts_by_id[ids[0]]
        for r in lines:
            if r["prompt_id"] == ids[1]:
                r["prompt"] = first_text  # ids[0] and ids[1] now share a text
        (run_dir / fname).write_text("".join(json.dumps(r) + "\n" for r in lines))
    run = data.load_run(run_dir)
    summary, per_clip = data.compare_generators(run, "world", run, "world-96")
    assert len(per_clip) == 3
    assert set(summary["clips"]) == {3}
    at = app(run_dir, "Compare")
    assert "3 shared clips" in texts(at)


def test_detector_page_shows_the_thresholds_the_cli_uses(tmp_path):
    import detectors

    shipped = REPO / "detectors" / "weights" / "detector_v2_eval.json"
    limits = detectors.thresholds("evalkit-detector-2")
    at = app(tmp_path, "Detector")
    at.text_input(key="detector_eval_path").set_value(str(shipped)).run()
    assert not at.exception
    text = texts(at)
    assert f"below {limits['not_ai_generated_below']:.3g}" in text
    assert f"at or above {limits['ai_generated_at_or_above']:.3g}" in text
    assert "threshold" not in {m.label for m in at.metric}


def test_a_20_mb_string_in_run_json_does_not_hang_the_page(plain_run):
    run_file = plain_run / "run.json"
    info = json.loads(run_file.read_text())
    huge = "x" * 20_000_000
    info["command"] = [huge]
    info["metrics"]["temporal_flickering"]["options"] = {"note": huge}
    info["generators"]["world"]["options"] = {"note": huge}
    run_file.write_text(json.dumps(info))
    run = data.load_run(plain_run)
    assert len(json.dumps(run.info)) < 50_000
    for page in ("Leaderboard", "Generator", "Compare"):
        start = time.monotonic()
        at = app(plain_run, page)
        assert time.monotonic() - start < 30, page
        if page == "Leaderboard":
            at.get("expandable")  # the Metrics and Runs tables render the cut text
            assert "characters, cut for display" in " ".join(
                str(df.value.to_dict()) for df in at.dataframe)


def test_a_symlink_loop_lists_each_run_once(runs_root, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(runs_root / "plain", root / "plain")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "again").symlink_to(root / "plain", target_is_directory=True)
    assert [p.name for p in data.find_runs(root)] == ["plain"]
    at = app(root)
    assert sorted(at.dataframe[0].value["generator"]) == ["world", "world-96"]


def test_stopping_evalkit_leaderboard_stops_its_streamlit_child(runs_root, tmp_path):
    import signal

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "evalkit", "leaderboard",
                             str(runs_root / "plain"), "--port", str(port)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
                                 "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"})
    try:
        _wait_healthy(port, proc)
        proc.send_signal(signal.SIGTERM)  # `kill PID`, not Ctrl-C to the whole group
        proc.wait(timeout=20)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                            timeout=1):
                    time.sleep(0.2)
            except OSError:
                break
        else:
            raise AssertionError("the Streamlit child still serves the port")
    finally:
        if proc.poll() is None:
            proc.kill()
