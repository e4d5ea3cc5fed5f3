"""evalkit leaderboard and report (Streamlit).

Start it with ``evalkit leaderboard [RUNS_DIR] [--port N]``, or directly::

    streamlit run app/streamlit_app.py -- RUNS_DIR

RUNS_DIR is a folder of run folders (each holding ``run.json``) or one run folder; it comes
from the command line, else ``$EVALKIT_RUNS_DIR``, else ``./runs``, and can be changed in the
sidebar. Pages: Leaderboard, Generator, Detector, Compare (sidebar, or ``?page=Compare``).
Each run is cached on the modification times of its files, so new results show on the next
rerun (press R, or the Refresh button) without a restart.
"""

from __future__ import annotations

import math
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

try:
    from app import data
except ImportError:  # started from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from app import data

PAGES = ("Leaderboard", "Generator", "Detector", "Compare")
REPO = Path(__file__).resolve().parents[1]
_STATUS_TEXT = {"pass": ":green[**pass**]", "fail": ":red[**fail**]",
                "not_applicable": ":gray[n/a]", "no_object": ":orange[no object]",
                "inconclusive": ":gray[inconclusive]"}
_GALLERY_PAGE = 12


# ----------------------------------------------------------------------------------------------
# Inputs and cached loading
# ----------------------------------------------------------------------------------------------


def default_runs_dir() -> str:
    """RUNS_DIR from ``streamlit run streamlit_app.py -- RUNS_DIR``, the environment, or ./runs."""
    if sys.argv and Path(sys.argv[0]).name == Path(__file__).name:
        args = [a for a in sys.argv[1:] if not a.startswith("-")]
        if args:
            return args[0]
    return os.environ.get("EVALKIT_RUNS_DIR") or "runs"


@st.cache_data(show_spinner=False, max_entries=256)
def _load_run(path: str, name: str, stamp: tuple[Any, ...]) -> data.RunData:
    """One run folder; ``stamp`` (file mtimes and sizes) is part of the cache key."""
    del stamp
    return data.load_run(path, name)


def load_runs(root: str) -> list[data.RunData]:
    paths = data.find_runs(root)
    base = Path(root).expanduser()
    return [_load_run(str(p), data.relative_name(p, base.parent if p == base else base),
                      data.run_stamp(p)) for p in paths]


@st.cache_data(show_spinner=False, max_entries=64)
def _detector_eval(path: str, mtime_ns: int) -> dict[str, Any]:
    del mtime_ns
    return data.load_detector_eval(path)


@st.cache_data(show_spinner=False, max_entries=16)
def detector_thresholds(weights: str | None) -> dict[str, float] | None:
    """The thresholds in a detector's weights (what ``evalkit detect`` and the API label with),
    or None when the weights cannot be read."""
    try:
        import detectors

        return detectors.thresholds(weights)
    except Exception:  # noqa: BLE001 - a missing detector must not hide its evaluation
        return None


def thresholds_caption(name: str, thresholds: dict[str, float]) -> str:
    return (f"Labels of `{name}` (as `evalkit detect` and the API give them): "
            f"**not_ai_generated** below {thresholds['not_ai_generated_below']:.3g}, "
            f"**ai_generated** at or above {thresholds['ai_generated_at_or_above']:.3g}, "
            "**inconclusive** between.")


@st.cache_data(show_spinner=False, max_entries=128)
def _world_clip(scene: dict[str, Any], prompt: str, prompt_id: str, seed: int) -> bytes:
    """Render the world (ground truth) clip of a prompt's scene as mp4 bytes."""
    import tempfile

    from evalkit.generators.base import GenerationRequest
    from evalkit.generators.world import WorldGenerator
    from evalkit.video import write_video
    from evalkit.world import SceneSpec

    spec = SceneSpec.model_validate(scene)
    clip = WorldGenerator().generate(GenerationRequest(prompt=prompt, prompt_id=prompt_id,
                                                       sample=0, seed=seed, scene=spec))
    with tempfile.TemporaryDirectory() as tmp:
        path = write_video(Path(tmp) / "world.mp4", clip)
        return Path(path).read_bytes()


# ----------------------------------------------------------------------------------------------
# Small display helpers
# ----------------------------------------------------------------------------------------------


def fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def number_format(series: pd.Series) -> str:
    values = pd.to_numeric(series, errors="coerce").abs().dropna()
    top = values.max() if len(values) else 0.0
    return "%.1f" if top >= 100 else "%.3f" if top >= 1 else "%.4f"


def ok_runs(runs: list[data.RunData]) -> list[data.RunData]:
    return [r for r in runs if r.ok and r.generators]


def show_run_problems(runs: list[data.RunData]) -> None:
    """A message for each run that cannot be shown, and notes on the others."""
    for run in runs:
        if not run.ok:
            st.warning(f"Run **{run.name}**: {run.error}", icon="⚠️")
    noted = [r for r in runs if r.ok and r.notes]
    if noted:
        with st.expander(f"Notes on {len(noted)} run folder{'s' * (len(noted) > 1)}"):
            for run in noted:
                st.markdown(f"**{run.name}**: " + "; ".join(run.notes))


def no_runs_message(root: str, runs: list[data.RunData]) -> None:
    if not runs:
        st.info(f"No run folders in `{root}` (a run folder holds run.json). Make one with "
                "`evalkit run suites/quickstart.yaml`, or point the sidebar at a runs folder.")
    else:
        st.info("None of the run folders holds results yet.")


def pick_run(runs: list[data.RunData], key: str, label: str = "Run") -> data.RunData:
    names = [r.name for r in runs]
    name = st.selectbox(label, names, key=key)
    return runs[names.index(name)] if name in names else runs[0]


def video(path: str | None, caption: str | None = None, width: int | str = "stretch") -> None:
    if path and Path(path).is_file():
        st.video(path, loop=True, muted=True, width=width)
    else:
        st.warning("clip file missing")
    if caption:
        st.caption(caption)


def score_line(row: pd.Series, run: data.RunData) -> str:
    parts = []
    for name, info in run.metrics.items():
        if info.get("scope") == "set":
            continue
        status = row.get(f"{name} status")
        if isinstance(status, str):
            parts.append(f"{name} {_STATUS_TEXT.get(status, status)}")
        elif name in row and not pd.isna(row[name]):
            parts.append(f"{data.metric_label(name, info)} {fmt(float(row[name]))}")
    return " · ".join(parts)


# ----------------------------------------------------------------------------------------------
# Leaderboard
# ----------------------------------------------------------------------------------------------


def page_leaderboard(runs: list[data.RunData], root: str) -> None:
    st.title("Leaderboard")
    good = ok_runs(runs)
    st.caption(f"{len(good)} run folder{'s' * (len(good) != 1)} with results in `{root}`")
    show_run_problems(runs)
    if not good:
        no_runs_message(root, runs)
        return

    suites = sorted({r.suite for r in good})
    chosen = st.multiselect("Suite", suites, default=suites, key="suite_filter",
                            help="rank only runs of the same suite together")
    shown = [r for r in good if r.suite in chosen]
    if not shown:
        st.info("No run matches the suite filter.")
        return
    metrics: dict[str, dict[str, Any]] = {}
    for run in shown:
        for name, info in run.metrics.items():
            metrics.setdefault(name, info)
    rankable = [m for m, i in metrics.items() if i.get("higher_is_better") is not None]
    rank_by = st.selectbox(
        "Rank by", rankable or ["(no metric with a direction)"], key="rank_by",
        format_func=lambda m: data.metric_label(m, metrics.get(m, {})) if m in metrics else m)
    board = data.leaderboard(shown, rank_by if rank_by in metrics else None)
    frame = board.frame
    if frame.empty:
        st.info("No generator has results yet.")
        return
    if board.issues:
        st.warning(
            "**Not all rows are comparable** — " + "; ".join(board.issues) + ". Ranks are "
            "given within each comparability group (column *group*); do not compare numbers "
            "across groups.", icon="⚠️")
        st.dataframe(pd.DataFrame({"group": list(board.groups),
                                   "shared by its rows": list(board.groups.values())}),
                     hide_index=True)
    show_details = st.toggle("Show std and n per metric", value=False, key="details")
    config: dict[str, Any] = {
        "rank": st.column_config.NumberColumn("rank", help=f"within the group, by {rank_by}"),
        "group": st.column_config.TextColumn(
            "group", help="rows with the same letter share suite, prompts, N and backbone"),
        "N": st.column_config.NumberColumn("N", help="clips generated and scored"),
        "failed": st.column_config.NumberColumn("failed", help="clips that failed"),
    }
    columns = ["rank", "group", "run", "suite", "generator", "N", "failed"]
    if len(board.groups) == 1:
        columns.remove("group")
    if len({r.suite for r in shown}) == 1:
        columns.remove("suite")
    if len(shown) == 1:
        columns.remove("run")
    for name, info in board.metrics.items():
        if name not in frame.columns:
            continue
        label = data.metric_label(name, info)
        config[name] = st.column_config.NumberColumn(
            label, help=data.metric_help(name, info),
            format=number_format(frame[name]))
        columns.append(name)
        if info.get("scope") == "set":
            for extra, text in (("backbone", "feature backbone"), ("N", "N real/generated"),
                                ("frames", "frames @ resolution")):
                if f"{name} {extra}" in frame.columns:
                    config[f"{name} {extra}"] = st.column_config.TextColumn(
                        f"{name} {extra}", help=f"{name}: {text}")
                    columns.append(f"{name} {extra}")
        elif show_details:
            config[f"{name} ±"] = st.column_config.NumberColumn(
                f"{name} ±", help="standard deviation over clips",
                format=number_format(frame[f"{name} ±"]))
            config[f"{name} n"] = st.column_config.NumberColumn(
                f"{name} n", help="clips with a value")
            columns += [f"{name} ±", f"{name} n"]
    for column in data.VBENCH_COLUMNS:  # VBench's combined scores, after its dimensions
        if column in frame.columns:
            config[column] = st.column_config.TextColumn(
                column, help="VBench dimensions not computed (left out, not counted as 0)") \
                if column == data.VBENCH_COLUMNS[-1] else st.column_config.NumberColumn(
                column, help="VBench's normalised, weighted score over the dimensions computed; "
                             "Total = (4·Quality + Semantic)/5", format="%.4f")
            columns.append(column)
    st.dataframe(frame, column_order=columns, column_config=config, hide_index=True,
                 key="leaderboard_table")
    units = " · ".join(f"**{n}** {i.get('units')}" for n, i in board.metrics.items()
                       if i.get("units") and n in frame.columns)
    st.caption("Click a column header to sort. ↑ higher is better, ↓ lower is better, no "
               "arrow: not ranked. Means over clips; set metrics (FVD) one value per "
               "generator. Units: " + (units or "–"))
    st.download_button("Download CSV", frame.to_csv(index=False).encode(),
                       file_name="leaderboard.csv", mime="text/csv")

    with st.expander("Metrics"):
        st.dataframe(pd.DataFrame([
            {"metric": data.metric_label(n, i), "units": i.get("units"), "scope": i.get("scope"),
             "primary value": i.get("primary"),
             "direction": {True: "higher is better", False: "lower is better"}.get(
                 i.get("higher_is_better"), "none"),
             "options": str(i.get("options") or {})}
            for n, i in board.metrics.items()]), hide_index=True)
    with st.expander("Runs"):
        st.dataframe(pd.DataFrame([
            {"run": r.name, "suite": r.suite, "config hash": r.info.get("config_hash"),
             "started": r.info.get("started"),
             "git": ((r.info.get("git") or {}).get("commit") or "")[:10],
             "evalkit": r.info.get("evalkit_version"),
             "torch": (r.info.get("versions") or {}).get("torch"), "path": r.path}
            for r in shown]), hide_index=True)


# ----------------------------------------------------------------------------------------------
# Generator
# ----------------------------------------------------------------------------------------------


def world_clip_for(run: data.RunData, generator: str, row: pd.Series) -> tuple[Any, str]:
    """(file or bytes, caption) of the world clip of the same prompt, or (None, why not)."""
    for gen in run.generators:
        info = run.generator_info(gen)
        options = info.get("options") or {}
        if gen != generator and info.get("name") == "world" and not any(options.values()):
            clips = run.clips
            match = clips[(clips["generator"] == gen) & (clips["prompt_id"] == row["prompt_id"])
                          & (clips["sample"] == row["sample"]) & clips["file"].notna()]
            if len(match):
                return match.iloc[0]["file"], f"`{gen}` in this run (ground truth)"
    scene = run.scenes().get(str(row["prompt_id"]))
    if not scene:
        return None, "this prompt has no physics-world scene"
    try:
        seed = int(row["seed"]) if not pd.isna(row["seed"]) else 0
        return _world_clip(scene, str(row["prompt"]), str(row["prompt_id"]), seed), \
            "world render of the prompt's scene (ground truth)"
    except Exception as exc:  # noqa: BLE001 - a render problem must not hide the page
        return None, f"cannot render the world clip: {exc}"


def probe_chart(frame: pd.DataFrame, quantity: str) -> Any:
    import altair as alt

    sub = frame[frame["quantity"] == quantity]
    y_scale = alt.Scale(zero=False, reverse=quantity.startswith("y"))
    low, high = float(sub["value"].min()), float(sub["value"].max())
    if quantity.endswith("_px") and high - low < 10:  # do not blow sub-pixel jitter up
        mid = (low + high) / 2
        y_scale = alt.Scale(zero=False, reverse=quantity.startswith("y"),
                            domain=[mid - 5, mid + 5])
    x_key = str(sub["x_key"].iloc[0]) if len(sub) else "t"
    base = alt.Chart(sub).encode(
        x=alt.X("t:Q", title="time (s)" if x_key.endswith("_s") else x_key),
        y=alt.Y("value:Q", title=quantity + (" (image y: down is down)"
                                             if quantity.startswith("y") else ""),
                scale=y_scale),
        color=alt.Color("role:N", scale=alt.Scale(domain=["tracked", "fitted", "expected"],
                                                  range=["#1f77b4", "#d62728", "#2ca02c"])),
        tooltip=["series", "t", "value"],
    )
    points = base.transform_filter(alt.datum.role == "tracked").mark_point(filled=True, size=40)
    fitted = base.transform_filter(alt.datum.role == "fitted").mark_line()
    expected = base.transform_filter(alt.datum.role == "expected").mark_line(strokeDash=[5, 4])
    return alt.layer(expected, fitted, points).properties(height=240)


def probe_box_chart(boxes: pd.DataFrame, chosen_by: Any = None) -> Any:
    """The measured object: its box in every frame it was seen (image axes, y down), darker
    for later frames, with its centre path: which object the probe measured."""
    import altair as alt

    title = "measured object: box per frame (pixels)" + (f", chosen by {chosen_by}"
                                                         if chosen_by else "")
    x = alt.Scale(zero=False)
    y = alt.Scale(zero=False, reverse=True)
    rects = alt.Chart(boxes).mark_rect(fillOpacity=0.0, strokeWidth=1).encode(
        x=alt.X("x0:Q", title="x (px)", scale=x), x2="x1:Q",
        y=alt.Y("y0:Q", title="y (px, down)", scale=y), y2="y1:Q",
        stroke=alt.Color("frame:Q", scale=alt.Scale(scheme="greens")),
        tooltip=["frame", "x0", "y0", "x1", "y1"])
    path = alt.Chart(boxes).mark_line(point=True, color="#d62728").encode(
        x=alt.X("cx:Q", scale=x), y=alt.Y("cy:Q", scale=y), order="frame:Q")
    return alt.layer(rects, path).properties(height=260, title=title)


def show_probe(name: str, values: dict[str, Any]) -> None:
    """A probe's verdict, its tracked trajectory against the fitted and expected curves, and
    its measured against expected values."""
    status = values.get("status")
    reason = values.get("reason") or ""
    st.markdown(f"**{name}**: {_STATUS_TEXT.get(status, f'`{status}`')}"
                + (f" — {reason}" if reason else ""))
    series = data.probe_series(values)
    if not series.empty:
        quantities = list(dict.fromkeys(series["quantity"]))
        # the quantities with a fit or an expectation first (y before x for a fall)
        quantities.sort(key=lambda q: -series[series["quantity"] == q]["role"].nunique())
        cols = st.columns(2)
        for i, quantity in enumerate(quantities[:4]):
            with cols[i % 2]:
                st.altair_chart(probe_chart(series, quantity), width="stretch")
    boxes = data.probe_boxes(values)
    if not boxes.empty:
        st.altair_chart(probe_box_chart(boxes, values.get("chosen_by")), width="stretch")
    table = data.probe_table(values)
    table = table[(table["measured"] != "") | (table["expected"] != "")]
    if not table.empty:
        with st.expander(f"{name}: measured and expected values"):
            st.dataframe(table, hide_index=True)


def pick_clip(scores: pd.DataFrame, run: data.RunData, gen: str, key: str, index: int = 0,
              label: str = "Clip") -> pd.Series:
    """A clip of ``scores`` picked by its identity (prompt id, sample), not its position.

    The widget's key names the run and generator: with one key for all runs, the choice (a
    row number) outlived a switch of run and showed another run's clip under the old prompt.
    """
    labels = [f"{p} · sample {s}" for p, s in zip(scores["prompt"], scores["sample"])]
    repeated = {t for t, n in Counter(labels).items() if n > 1}
    labels = [f"{t} ({pid})" if t in repeated else t for t, pid in zip(labels, scores["prompt_id"])]
    choice = st.selectbox(label, labels, index=min(index, len(labels) - 1),
                          key=f"{key}:{run.path}:{gen}")
    return scores.iloc[labels.index(choice) if choice in labels else 0]


def show_probes(run: data.RunData, gen: str, clip: pd.Series) -> None:
    """Every probe of one clip: verdicts with curves first, then those without a verdict."""
    no_verdict = []
    for name in data.probe_metrics(run):
        values = run.values.get((gen, clip["prompt_id"], int(clip["sample"]), name))
        if not values:
            continue
        if values.get("status") in ("not_applicable", "no_object", "inconclusive") and \
                data.probe_series(values).empty:
            no_verdict.append(f"{name} ({values.get('reason') or values.get('status')})")
            continue
        show_probe(name, values)
    if no_verdict:
        st.caption("No verdict: " + "; ".join(no_verdict))


def detector_histogram(probs: pd.DataFrame, title: str,
                       thresholds: dict[str, float] | None = None) -> Any:
    """Probabilities per generator, with the detector's two label thresholds as rules."""
    import altair as alt

    bars = alt.Chart(probs).mark_bar(opacity=0.7).encode(
        x=alt.X("probability:Q", bin=alt.Bin(extent=[0, 1], step=0.05),
                title="P(AI-generated)"),
        y=alt.Y("count():Q", title="clips", stack=None),
        color=alt.Color("generator:N"),
    )
    if thresholds:
        rules = alt.Chart(pd.DataFrame({"threshold": list(thresholds.values()),
                                        "label": list(thresholds)})).mark_rule(
            strokeDash=[4, 3], color="gray").encode(x="threshold:Q", tooltip=["label", "threshold"])
        bars = bars + rules
    return bars.properties(height=220, title=title)


def page_generator(runs: list[data.RunData], root: str) -> None:
    st.title("Generator")
    show_run_problems(runs)
    good = ok_runs(runs)
    if not good:
        no_runs_message(root, runs)
        return
    c1, c2 = st.columns(2)
    with c1:
        run = pick_run(good, "gen_run")
    with c2:
        gen = st.selectbox("Generator", run.generators, key="gen_name")
    if gen not in run.generators:
        gen = run.generators[0]
    info = run.generator_info(gen)
    summary = run.summaries.get(gen, {})
    st.caption(f"`{info.get('name', '?')}` v{info.get('version', '?')} · options "
               f"{ {k: v for k, v in (info.get('options') or {}).items() if v is not None} }"
               f" · suite `{run.suite}`")

    row = data.leaderboard([run]).frame
    row = row[row["generator"] == gen]
    if len(row):
        cards = [("clips", int(row.iloc[0]["N"]))]
        for name, minfo in run.metrics.items():
            if name in row.columns:
                cards.append((data.metric_label(name, minfo), fmt(row.iloc[0][name])))
        cols = st.columns(min(len(cards), 6))
        for i, (label, value) in enumerate(cards):
            cols[i % len(cols)].metric(label, value)
    if summary.get("timings"):
        per_clip = summary["timings"].get("generation_s_per_clip")
        st.caption(f"generation {fmt(per_clip)} s per clip")

    scores = data.clip_scores(run, gen)
    tab_gallery, tab_clip, tab_probes, tab_det = st.tabs(
        ["Gallery", "Clip vs world", "Physics probes", "Detector"])
    with tab_gallery:
        if scores.empty:
            st.info("This generator has no clips yet.")
        else:
            text = st.text_input("Filter prompts", key="gallery_filter")
            shown = scores[scores["prompt"].str.contains(text, case=False, regex=False)] \
                if text else scores
            pages = max(1, math.ceil(len(shown) / _GALLERY_PAGE))
            page = st.number_input("Page", 1, pages, 1, key="gallery_page") if pages > 1 else 1
            part = shown.iloc[(page - 1) * _GALLERY_PAGE: page * _GALLERY_PAGE]
            st.caption(f"{len(shown)} clips · page {page} of {pages}")
            cols = st.columns(4)
            for i, (_, clip) in enumerate(part.iterrows()):
                with cols[i % 4]:
                    video(clip["file"])
                    st.markdown(f"**{clip['prompt']}**  \nsample {clip['sample']} · seed "
                                f"{clip['seed']}  \n{score_line(clip, run)}")
            st.dataframe(scores.drop(columns=["file", "prompt_id"]), hide_index=True)

    with tab_clip:
        if scores.empty:
            st.info("This generator has no clips yet.")
        else:
            clip = pick_clip(scores, run, gen, "clip_choice")
            left, right = st.columns(2)
            with left:
                st.subheader(gen)
                # the prompt printed from the same row as the video, so they cannot disagree
                st.markdown(f"**{clip['prompt']}**")
                video(clip["file"], f"seed {clip['seed']} · {score_line(clip, run)}", width=360)
            with right:
                st.subheader("world")
                world, caption = world_clip_for(run, gen, clip)
                if world is None:
                    st.info(caption)
                else:
                    st.video(world, loop=True, muted=True, width=360)
                    st.caption(caption)
            values = data.clip_values(run, gen, clip["prompt_id"], int(clip["sample"]))
            if not values.empty:
                with st.expander("All values of this clip"):
                    st.dataframe(values, hide_index=True)
            show_probes(run, gen, clip)

    with tab_probes:
        counts = data.probe_status_counts(run, gen)
        if counts.empty:
            st.info("No physics probe results in this run (probes: "
                    + ", ".join(data.PROBE_NAMES) + ").")
        else:
            st.dataframe(counts, hide_index=True, column_config={
                "pass rate": st.column_config.ProgressColumn(
                    "pass rate", min_value=0.0, max_value=1.0, format="%.2f")})
            # The plots belong on this tab (they were only under Clip vs world, collapsed):
            # a clip picker that starts on a failed verdict, then its probes' curves.
            failed = data.probe_failures(run, gen)
            start = next((i for i, (pid, sample) in enumerate(zip(scores["prompt_id"],
                                                                  scores["sample"]))
                          if (pid, int(sample)) in failed), 0)
            clip = pick_clip(scores, run, gen, "probe_clip", start,
                             "Clip (failed verdicts first)" if failed else "Clip")
            st.markdown(f"**{clip['prompt']}** · sample {clip['sample']}")
            show_probes(run, gen, clip)

    with tab_det:
        metrics = data.detector_metrics(run)
        if not metrics:
            st.info("No detector results in this run (add the `detector` metric to the suite).")
        for name in metrics:
            probs = data.detector_probabilities(run, name)
            if probs.empty:
                st.info(f"`{name}` has no probabilities yet.")
                continue
            mine = probs[probs["generator"] == gen]
            st.metric(f"{name}: mean P(AI-generated)", fmt(mine["probability"].mean())
                      if len(mine) else "–")
            weights = data.detector_of_metric(run.metrics.get(name) or {})
            limits = detector_thresholds(weights)
            st.altair_chart(detector_histogram(probs, f"{name}: all generators of the run",
                                               limits), width="stretch")
            if limits:
                st.caption(thresholds_caption(weights or "the default detector", limits))


# ----------------------------------------------------------------------------------------------
# Detector
# ----------------------------------------------------------------------------------------------


def page_detector(runs: list[data.RunData], root: str) -> None:
    import altair as alt

    st.title("Detector")
    roots = [Path(root).expanduser(), REPO / "detectors"]
    env = os.environ.get("EVALKIT_DETECTOR_EVAL")
    found = ([Path(env)] if env else []) + data.find_detector_evals(roots)
    typed = st.text_input("Detector evaluation JSON", key="detector_eval_path",
                          help="a file with roc {fpr, tpr}, pr {precision, recall} and a "
                               "robustness table; found automatically under the runs folder")
    path: Path | None = Path(typed).expanduser() if typed.strip() else None
    if path is None and found:
        names = [str(p) for p in found]
        path = Path(st.selectbox("Found evaluations", names, key="detector_eval_pick"))
    if path is None:
        st.info("No detector evaluation found (looked for `*detector*eval*.json` under "
                f"`{root}` and `detectors/`). Give the path of one above.")
    else:
        try:
            mtime = path.stat().st_mtime_ns if path.exists() else 0
            ev = _detector_eval(str(path), mtime)
        except data.AppDataError as exc:
            st.error(str(exc))
            ev = None
        if ev is not None:
            st.caption(f"`{ev['path']}`")
            # The labels' thresholds come from the detector's weights, as in `evalkit detect`
            # and the API; an evaluation's own "threshold" (0.5) is only where it computed
            # accuracy, and shown as a card it read as the detector's threshold.
            name = data.detector_of_eval(ev["scalars"])
            limits = detector_thresholds(name) if name else None
            if limits:
                st.markdown(thresholds_caption(name, limits))
            numbers = {k: v for k, v in ev["scalars"].items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)
                       and k != "threshold"}
            if "threshold" in ev["scalars"]:
                st.caption(f"Accuracy columns of this evaluation are computed at "
                           f"{ev['scalars']['threshold']}; labels use the thresholds above.")
            if numbers:
                cols = st.columns(min(len(numbers), 6))
                for i, (k, v) in enumerate(list(numbers.items())[:12]):
                    cols[i % len(cols)].metric(k, fmt(float(v)))
            texts = {k: v for k, v in ev["scalars"].items() if isinstance(v, str)}
            if texts:
                st.caption(" · ".join(f"{k}: {v}" for k, v in texts.items()))
            left, right = st.columns(2)
            with left:
                if ev["roc"]:
                    rows = [{"curve": c["name"] + (f" (AUC {c['auc']:.3f})"
                                                   if isinstance(c["auc"], (int, float)) else ""),
                             "fpr": x, "tpr": y} for c in ev["roc"]
                            for x, y in zip(c["fpr"], c["tpr"])]
                    diag = alt.Chart(pd.DataFrame({"fpr": [0, 1], "tpr": [0, 1]})).mark_line(
                        strokeDash=[4, 4], color="gray").encode(x="fpr", y="tpr")
                    curve = alt.Chart(pd.DataFrame(rows)).mark_line().encode(
                        x=alt.X("fpr:Q", title="false positive rate",
                                scale=alt.Scale(domain=[0, 1])),
                        y=alt.Y("tpr:Q", title="true positive rate",
                                scale=alt.Scale(domain=[0, 1])),
                        color="curve:N", order="fpr:Q")
                    st.altair_chart((diag + curve).properties(title="ROC", height=320),
                                    width="stretch")
                else:
                    st.info("This evaluation has no ROC curve.")
            with right:
                if ev["pr"]:
                    rows = [{"curve": c["name"] + (f" (AP {c['ap']:.3f})"
                                                   if isinstance(c["ap"], (int, float)) else ""),
                             "recall": x, "precision": y} for c in ev["pr"]
                            for x, y in zip(c["recall"], c["precision"])]
                    curve = alt.Chart(pd.DataFrame(rows)).mark_line().encode(
                        x=alt.X("recall:Q", scale=alt.Scale(domain=[0, 1])),
                        y=alt.Y("precision:Q", scale=alt.Scale(domain=[0, 1])),
                        color="curve:N", order="recall:Q")
                    st.altair_chart(curve.properties(title="Precision-recall", height=320),
                                    width="stretch")
                else:
                    st.info("This evaluation has no precision-recall curve.")
            if not ev["families"].empty:
                st.subheader("Per generator family (left out of training)")
                st.caption("`auc`: against one held-out fold of real sources; `auc_all_real_folds`: "
                           "mean over every fold of real sources, each by a probe that saw neither "
                           "(uses all real clips). Families with a few clips move by 0.05-0.1 per clip.")
                st.dataframe(ev["families"], hide_index=True, key="family_table")
            if not ev["unseen_real"].empty:
                st.subheader("Real cameras the detector never saw")
                st.dataframe(ev["unseen_real"], hide_index=True, key="unseen_real_table")
            st.subheader("Robustness")
            if ev["robustness"].empty:
                st.info("This evaluation has no robustness table.")
            else:
                st.dataframe(ev["robustness"], hide_index=True, key="robustness_table")

    good = ok_runs(runs)
    probs = [(r, m) for r in good for m in data.detector_metrics(r)]
    if probs:
        st.subheader("Detector probabilities in the runs")
        for run, name in probs:
            frame = data.detector_probabilities(run, name)
            if not frame.empty:
                limits = detector_thresholds(data.detector_of_metric(run.metrics.get(name) or {}))
                st.altair_chart(detector_histogram(frame, f"{run.name}: {name}", limits),
                                width="stretch")


# ----------------------------------------------------------------------------------------------
# Compare
# ----------------------------------------------------------------------------------------------


def page_compare(runs: list[data.RunData], root: str) -> None:
    st.title("Compare")
    show_run_problems(runs)
    good = ok_runs(runs)
    options = [(r, g) for r in good for g in r.generators]
    if len(options) < 2:
        if not good:
            no_runs_message(root, runs)
        else:
            st.info("Compare needs two generators with results; this folder has one.")
        return
    labels = [f"{r.name} / {g}" for r, g in options]
    c1, c2 = st.columns(2)
    with c1:
        a_label = st.selectbox("A", labels, index=0, key="cmp_a")
    with c2:
        b_label = st.selectbox("B", labels, index=1, key="cmp_b")
    run_a, gen_a = options[labels.index(a_label)]
    run_b, gen_b = options[labels.index(b_label)]
    if (run_a.path, gen_a) == (run_b.path, gen_b):
        st.info("Pick two different generators.")
        return
    board = data.leaderboard([run_a, run_b] if run_a is not run_b else [run_a])
    if board.issues:
        st.warning("A and B are not comparable: " + "; ".join(board.issues), icon="⚠️")
    summary, per_clip = data.compare_generators(run_a, gen_a, run_b, gen_b)
    if per_clip.empty:
        st.info("A and B share no prompts (matched on prompt text and sample).")
        return
    st.caption(f"{len(per_clip)} shared clips (same prompt and sample)")
    if not summary.empty:
        st.dataframe(summary, hide_index=True, key="compare_table", column_config={
            "A": st.column_config.NumberColumn(f"A: {gen_a}", format="%.4f"),
            "B": st.column_config.NumberColumn(f"B: {gen_b}", format="%.4f"),
            "B − A": st.column_config.NumberColumn("B − A", format="%.4f")})
    labels = [f"{p} · sample {s}" for p, s in zip(per_clip["prompt"], per_clip["sample"])]
    choice = st.selectbox("Prompt", range(len(labels)), format_func=labels.__getitem__,
                          key="cmp_prompt")
    row = per_clip.iloc[int(choice or 0)]
    left, right = st.columns(2)
    for col, side, gen in ((left, "A", gen_a), (right, "B", gen_b)):
        with col:
            st.subheader(f"{side}: {gen}")
            scores = [f"{c[:-2]} {fmt(row[c])}" for c in per_clip.columns
                      if c.endswith(f" {side}") and c != f"file {side}"]
            video(row[f"file {side}"], " · ".join(scores), width=360)
    st.dataframe(per_clip.drop(columns=["file A", "file B"]), hide_index=True)


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------

_PAGES = {"Leaderboard": page_leaderboard, "Generator": page_generator,
          "Detector": page_detector, "Compare": page_compare}


def main() -> None:
    st.set_page_config(page_title="evalkit leaderboard", page_icon="🎬", layout="wide")
    wanted = st.query_params.get("page")
    index = PAGES.index(wanted) if wanted in PAGES else 0
    with st.sidebar:
        st.header("evalkit")
        page = st.radio("Page", PAGES, index=index, key="page")
        root = st.text_input("Runs folder", value=default_runs_dir(), key="runs_dir",
                             help="a folder of run folders, or one run folder")
        if st.button("Refresh", help="runs are re-read automatically when their files change"):
            st.cache_data.clear()
    try:
        runs = load_runs(root)
    except data.AppDataError as exc:
        if page != "Detector":
            st.title(page)
            st.error(str(exc))
            return
        runs = []
    try:
        _PAGES[page](runs, root)
    except Exception as exc:  # noqa: BLE001 - the last guard: a message, not a traceback
        st.error(f"This page could not be shown: {type(exc).__name__}: {exc}")


main()
