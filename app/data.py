"""What the leaderboard shows, computed without Streamlit: run discovery, robust reading,
the leaderboard table with comparability groups, per-clip scores, probe curves, detector
evaluations.

Everything here takes paths or plain data and returns pandas frames, dicts and lists, so it
is tested without a browser and cached by the app (keyed on file modification times, see
:func:`run_stamp`). Reading never raises for a damaged, empty or half-written run folder: the
problem is recorded in :attr:`RunData.error` / :attr:`RunData.notes` for the app to show.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.errors import EvalkitError
from evalkit.results import (ARROWS, VBENCH_COLUMNS, clip_table, generator_table, load_summaries,
                             metric_label)
from evalkit.store import (GENERATIONS_FILE, RESULTS_FILE, RUN_FILE, SET_PROMPT_ID,
                           RunStore)

__all__ = [
    "PROBE_NAMES", "PROBE_STATUSES", "RunData", "arrow", "clip_scores", "compare_generators",
    "probe_boxes",
    "detector_probabilities", "find_detector_evals", "find_runs", "is_probe", "leaderboard",
    "load_detector_eval", "load_run", "metric_label", "probe_series", "run_stamp",
]

PROBE_NAMES = ("freefall", "projectile", "uniform_motion", "bounce", "permanence", "constancy",
               "physics")
PROBE_STATUSES = ("pass", "fail", "not_applicable", "no_object", "inconclusive")
DETECTOR_KEY = "probability"


class AppDataError(EvalkitError):
    """A folder or file the app was pointed at cannot be used (the message says why)."""


# ----------------------------------------------------------------------------------------------
# Finding and stamping run folders
# ----------------------------------------------------------------------------------------------


def find_runs(root: str | Path, max_depth: int = 2) -> list[Path]:
    """Run folders (folders holding ``run.json``) under ``root``, or ``[root]`` if it is one.

    Looks ``max_depth`` levels down (``runs/RUN`` and ``runs/GROUP/RUN``); does not descend
    into a run folder. Raises :class:`AppDataError` when ``root`` is not a folder.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise AppDataError(f"runs folder '{root}' does not exist")
    if not root.is_dir():
        raise AppDataError(f"'{root}' is not a folder")
    if (root / RUN_FILE).is_file():
        return [root]
    found: list[Path] = []
    # Folders by their real path: a symlink back up the tree (runs/loop -> runs) or two links
    # to one run folder would otherwise list the same runs again under other names.
    seen = {_real(root)}
    level = [root]
    for _ in range(max_depth):
        nxt = []
        for folder in level:
            try:
                # real folders before links to them, so a run keeps its own name
                children = sorted((p for p in folder.iterdir() if p.is_dir()
                                   and not p.name.startswith(".")),
                                  key=lambda p: (p.is_symlink(), p.name))
            except OSError:
                continue
            for child in children:
                real = _real(child)
                if real in seen:
                    continue
                seen.add(real)
                if (child / RUN_FILE).is_file():
                    found.append(child)
                elif child.name not in ("clips", "summary"):
                    nxt.append(child)
        level = nxt
    return found


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a link that loops onto itself
        return path.absolute()


def run_stamp(run_dir: str | Path) -> tuple[tuple[str, int, int], ...]:
    """(file, mtime_ns, size) of every file the app reads from a run folder.

    The app caches each run on ``(path, run_stamp(path))``, so any write (an appended result
    line, a new summary) gives a new key and the run is read again.
    """
    root = Path(run_dir)
    paths = [root / RUN_FILE, root / GENERATIONS_FILE, root / RESULTS_FILE]
    summary = root / "summary"
    if summary.is_dir():
        paths.extend(sorted(summary.glob("*.json")))
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((str(path.relative_to(root)), st.st_mtime_ns, st.st_size))
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# Reading one run folder
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class RunData:
    """Everything the app shows about one run folder (picklable, for ``st.cache_data``).

    Attributes:
        path: the run folder.
        name: its name for display (relative to the runs folder when possible).
        info: ``run.json`` ({} when unreadable).
        error: why the run cannot be shown at all (None when it can).
        notes: remarks worth showing (damaged lines skipped, failed clips, missing summaries).
        table: :func:`evalkit.results.generator_table` (None when there is nothing yet).
        clips: one row per clip record (generator, prompt_id, prompt, sample, seed, status,
            file: the clip's path on disk or None).
        scores: :func:`evalkit.results.clip_table` (scalar values per clip and metric).
        values: raw ``values`` per (generator, prompt_id, sample, metric), lists included
            (probe curves), for ok results.
        summaries: ``summary/*.json`` by generator.
    """

    path: str
    name: str
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    error: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    table: pd.DataFrame | None = None
    clips: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    scores: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    values: dict[tuple[str, str, int, str], dict[str, Any]] = dataclasses.field(
        default_factory=dict)
    summaries: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def suite(self) -> str:
        return str(self.info.get("suite") or "?")

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        """Metric info by name, in the suite's order (run.json stores them sorted)."""
        info = self.info.get("metrics") or {}
        order = [m.get("name") for m in (self.info.get("config") or {}).get("metrics") or []
                 if isinstance(m, dict)]
        names = [n for n in order if n in info] + [n for n in info if n not in order]
        return {n: info[n] for n in names}

    @property
    def generators(self) -> list[str]:
        if self.table is not None:
            return [str(g) for g in self.table.index]
        return []

    def generator_info(self, generator: str) -> dict[str, Any]:
        return (self.info.get("generators") or {}).get(generator) or {}

    def scenes(self) -> dict[str, dict[str, Any]]:
        """Scene spec per prompt id, from the resolved suite in ``run.json``."""
        prompts = (self.info.get("config") or {}).get("prompts") or []
        return {str(p.get("id")): p["scene"] for p in prompts
                if isinstance(p, dict) and p.get("scene")}


#: Longest string of run.json the app keeps. The page shows run.json's suite, options and
#: command in tables and captions; a 20 MB string there (a prompt list pasted into an option,
#: an embedded file) made the page hang for minutes while the browser laid it out.
MAX_TEXT = 2000


def _shorten_strings(value: Any, limit: int = MAX_TEXT) -> Any:
    """``value`` with every string longer than ``limit`` cut, saying how long it was."""
    if isinstance(value, str):
        return value if len(value) <= limit else \
            f"{value[:limit]}… ({len(value):,} characters, cut for display)"
    if isinstance(value, dict):
        return {k: _shorten_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten_strings(v, limit) for v in value]
    return value


def _damaged_lines(path: Path) -> int:
    if not path.is_file():
        return 0
    bad = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                json.loads(line)
            except json.JSONDecodeError:
                bad += 1
    return bad


def _clip_file(store: RunStore, record: dict[str, Any]) -> str | None:
    """The clip's file (records hold paths relative to the run folder, so moves are fine)."""
    if not record.get("path"):
        return None
    path = store.clip_file(record)
    return str(path) if path.is_file() else None


def load_run(run_dir: str | Path, name: str | None = None) -> RunData:
    """Read a run folder for the app; never raises for damaged or half-written folders."""
    root = Path(run_dir)
    data = RunData(path=str(root), name=name or root.name)
    store = RunStore(root)
    if not root.is_dir():
        data.error = f"run folder '{root}' does not exist"
        return data
    try:
        info = json.loads(store.run_file.read_text())
        if not isinstance(info, dict):
            raise ValueError("not a JSON object")
        data.info = _shorten_strings(info)
    except FileNotFoundError:
        data.error = f"'{root}' is not an evalkit run folder (no {RUN_FILE})"
        return data
    except (OSError, ValueError) as exc:
        data.error = (f"{RUN_FILE} of '{data.name}' cannot be read ({exc.__class__.__name__}: "
                      f"{exc}); is the run still starting?")
        return data

    for fname in (GENERATIONS_FILE, RESULTS_FILE):
        bad = _damaged_lines(root / fname)
        if bad:
            data.notes.append(f"{fname}: skipped {bad} damaged line{'s' * (bad > 1)} "
                              "(an interrupted write; re-run the suite to redo the item)")
    try:
        data.table = generator_table(root)
    except EvalkitError as exc:
        data.error = str(exc)
    except (KeyError, TypeError, ValueError) as exc:
        data.error = f"run folder '{data.name}' has malformed records ({exc!r})"
    try:
        data.scores = clip_table(root)
    except (EvalkitError, KeyError, TypeError, ValueError):
        data.scores = pd.DataFrame()

    rows = []
    try:
        generations = store.generations()
    except (KeyError, TypeError, ValueError):
        generations = {}
    for (gen, prompt_id, sample), record in sorted(generations.items()):
        rows.append({
            "generator": gen, "prompt_id": prompt_id, "prompt": record.get("prompt", ""),
            "sample": sample, "seed": record.get("seed"), "status": record.get("status"),
            "error": record.get("error"), "frames": record.get("frames"),
            "height": record.get("height"), "width": record.get("width"),
            "fps": record.get("fps"), "time_s": record.get("time_s"),
            "file": _clip_file(store, record) if record.get("status") == "ok" else None,
        })
    data.clips = pd.DataFrame(rows, columns=[
        "generator", "prompt_id", "prompt", "sample", "seed", "status", "error", "frames",
        "height", "width", "fps", "time_s", "file"])
    failed = int((data.clips["status"] != "ok").sum()) if len(data.clips) else 0
    if failed:
        data.notes.append(f"{failed} clip{'s' * (failed > 1)} failed to generate")
    missing = int(((data.clips["status"] == "ok") & data.clips["file"].isna()).sum()) \
        if len(data.clips) else 0
    if missing:
        data.notes.append(f"{missing} clip file{'s' * (missing > 1)} missing on disk")

    try:
        results = store.results()
    except (KeyError, TypeError, ValueError):
        results = {}
    n_errors = 0
    for key, record in results.items():
        if record.get("status") == "ok" and isinstance(record.get("values"), dict):
            data.values[key] = record["values"]
        else:
            n_errors += 1
    if n_errors:
        data.notes.append(f"{n_errors} score{'s' * (n_errors > 1)} failed (see results.jsonl)")
    try:
        data.summaries = load_summaries(root)
    except (EvalkitError, OSError):
        data.summaries = {}
    if data.table is not None and not data.summaries:
        data.notes.append("no summaries yet (the run is in progress or was interrupted)")
    return data


# ----------------------------------------------------------------------------------------------
# Metric helpers
# ----------------------------------------------------------------------------------------------


def arrow(info: dict[str, Any]) -> str:
    return ARROWS.get(info.get("higher_is_better"), "")


def metric_help(name: str, info: dict[str, Any]) -> str:
    direction = {True: "higher is better", False: "lower is better"}.get(
        info.get("higher_is_better"), "no direction (not ranked)")
    units = info.get("units") or "no units"
    scope = "one value per generator (set metric)" if info.get("scope") == "set" else \
        "mean over clips"
    primary = info.get("primary") or name
    return f"{name} ({primary}): {units}; {direction}; {scope}"


def is_probe(name: str, values: dict[str, Any] | None = None) -> bool:
    """A physics probe: a known probe name, or values carrying a probe status."""
    if name in PROBE_NAMES:
        return True
    return bool(values) and values.get("status") in PROBE_STATUSES


def _primary(run: RunData, metric: str) -> str:
    return (run.metrics.get(metric) or {}).get("primary") or metric


def _set_value(run: RunData, generator: str, metric: str) -> dict[str, Any] | None:
    return run.values.get((generator, SET_PROMPT_ID, -1, metric))


def _fmt_resolution(value: Any) -> str:
    if isinstance(value, (list, tuple)) and value:
        return "x".join(str(v) for v in value)
    return "" if value is None else str(value)


def _backbone_label(values: dict[str, Any]) -> Any:
    """``i3d/styleganv@af5c50f0``: backbone, FVD protocol and weights, which all move the number."""
    label = values.get("backbone")
    if label is None:
        return None
    if values.get("protocol"):
        label = f"{label}/{values['protocol']}"
    if values.get("weights_sha256"):
        label = f"{label}@{str(values['weights_sha256'])[:8]}"
    return label


def set_metric_context(values: dict[str, Any]) -> dict[str, Any]:
    """What makes a set-metric number comparable: backbone (with protocol and weights), N per
    side, frames, resolution."""
    n_real = values.get("n_real", values.get("n_a"))
    n_fake = values.get("n_fake", values.get("n_b", values.get("n")))
    return {
        "backbone": _backbone_label(values),
        "n_real": n_real,
        "n_fake": n_fake,
        "frames": values.get("frames"),
        "resolution": _fmt_resolution(values.get("resolution")),
    }


def _prompt_set(run: RunData) -> str:
    prompts = (run.info.get("config") or {}).get("prompts") or []
    ids = sorted(str(p.get("id") or p.get("text")) for p in prompts if isinstance(p, dict))
    samples = (run.info.get("config") or {}).get("samples_per_prompt")
    return hashlib.sha1(json.dumps([ids, samples]).encode()).hexdigest()[:8]


# ----------------------------------------------------------------------------------------------
# The leaderboard
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Leaderboard:
    """The leaderboard table and what the app needs to display it.

    ``frame`` has one row per (run, generator): ``rank``, ``group``, ``run``, ``suite``,
    ``generator``, ``N`` (clips scored), ``failed``, then per metric its mean under the metric
    name, ``NAME ±`` (std), and for set metrics ``NAME backbone``, ``NAME N`` and
    ``NAME frames``. ``metrics`` maps metric name to info (direction, units);
    ``issues`` says why rows are not comparable (empty when they all are).
    """

    frame: pd.DataFrame
    metrics: dict[str, dict[str, Any]]
    issues: list[str]
    groups: dict[str, str]  # group letter -> description


def leaderboard(runs: Iterable[RunData], rank_by: str | None = None) -> Leaderboard:
    """Generators x metrics over several runs, grouped by comparability and ranked in groups.

    Rows are comparable when they share the suite, the prompt set, N (clips) and, for each set
    metric, the backbone, N per side and frames. Each comparable group gets a letter; the rank
    (by ``rank_by``, in the metric's direction) is within a group, never across groups.
    """
    rows: list[dict[str, Any]] = []
    metrics: dict[str, dict[str, Any]] = {}
    keys: list[tuple[Any, ...]] = []
    for run in runs:
        if run.table is None:
            continue
        for name, info in run.metrics.items():
            metrics.setdefault(name, info)
        for gen in run.table.index:
            src = run.table.loc[gen]
            row: dict[str, Any] = {
                "run": run.name, "suite": run.suite, "generator": str(gen),
                "N": int(src.get("clips", 0) or 0), "failed": int(src.get("clips_failed", 0) or 0),
            }
            set_key = []
            for name, info in run.metrics.items():
                label = metric_label(name, info)
                if info.get("scope") == "set":
                    values = _set_value(run, str(gen), name)
                    if values is None:
                        row[name] = math.nan
                        continue
                    value = values.get(_primary(run, name))
                    row[name] = float(value) if isinstance(value, (int, float)) else math.nan
                    ctx = set_metric_context(values)
                    row[f"{name} backbone"] = ctx["backbone"]
                    row[f"{name} N"] = f"{ctx['n_real']}/{ctx['n_fake']}" \
                        if ctx["n_real"] is not None else str(ctx["n_fake"] or "")
                    row[f"{name} frames"] = (f"{ctx['frames']} @ {ctx['resolution']}"
                                             if ctx["resolution"] else str(ctx["frames"] or ""))
                    set_key.append((name, ctx["backbone"], ctx["n_real"], ctx["n_fake"],
                                    ctx["frames"], ctx["resolution"]))
                else:
                    row[name] = _num(src.get(label))
                    row[f"{name} ±"] = _num(src.get(f"{label} std"))
                    n = _num(src.get(f"{label} n"))
                    row[f"{name} n"] = int(n) if not math.isnan(n) else 0
            for column in VBENCH_COLUMNS:  # VBench's Quality / Semantic / Total, when computed
                if column in src.index:
                    row[column] = src.get(column) if column == VBENCH_COLUMNS[-1] \
                        else _num(src.get(column))
            rows.append(row)
            keys.append((run.suite, _prompt_set(run), row["N"], tuple(sorted(set_key, key=str))))
    if not rows:
        return Leaderboard(pd.DataFrame(), metrics, [], {})

    # comparability groups, in order of first appearance
    letters: dict[tuple[Any, ...], str] = {}
    for key in keys:
        letters.setdefault(key, chr(ord("A") + len(letters)) if len(letters) < 26
                           else f"G{len(letters)}")
    for row, key in zip(rows, keys):
        row["group"] = letters[key]
    issues = _comparability_issues(rows, keys) if len(letters) > 1 else []
    groups = {letter: _describe_key(key) for key, letter in letters.items()}

    frame = pd.DataFrame(rows)
    frame["rank"] = pd.NA
    if rank_by and rank_by in frame.columns:
        hib = (metrics.get(rank_by) or {}).get("higher_is_better")
        if hib is not None:
            frame["rank"] = frame.groupby("group")[rank_by].rank(
                ascending=not hib, method="min").astype("Int64")
            frame = frame.sort_values(["group", rank_by], ascending=[True, not hib],
                                      na_position="last", kind="stable")
    else:
        frame = frame.sort_values(["group", "run", "generator"], kind="stable")
    lead = ["rank", "group", "run", "suite", "generator", "N", "failed"]
    rest = [c for c in frame.columns if c not in lead]
    return Leaderboard(frame[lead + rest].reset_index(drop=True), metrics, issues, groups)


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _describe_key(key: tuple[Any, ...]) -> str:
    suite, prompts, n, set_key = key
    text = f"suite '{suite}', prompt set {prompts}, N={n}"
    for name, backbone, n_real, n_fake, frames, resolution in set_key:
        text += f"; {name}: {backbone}, N {n_real}/{n_fake}, {frames} frames"
        if resolution:
            text += f" @ {resolution}"
    return text


def _comparability_issues(rows: list[dict[str, Any]], keys: list[tuple[Any, ...]]) -> list[str]:
    issues = []
    suites = sorted({k[0] for k in keys})
    if len(suites) > 1:
        issues.append(f"different suites: {', '.join(suites)}")
    by_suite: dict[str, set[str]] = {}
    for k in keys:
        by_suite.setdefault(k[0], set()).add(k[1])
    if any(len(v) > 1 for v in by_suite.values()):
        issues.append("same suite name with different prompts or samples per prompt")
    ns = sorted({k[2] for k in keys})
    if len(ns) > 1:
        issues.append(f"different N (clips per generator): {', '.join(map(str, ns))}")
    per_metric: dict[str, dict[str, set[Any]]] = {}
    for k in keys:
        for name, backbone, n_real, n_fake, frames, resolution in k[3]:
            m = per_metric.setdefault(name, {"backbone": set(), "N": set(), "frames": set()})
            m["backbone"].add(str(backbone))
            m["N"].add(f"{n_real}/{n_fake}")
            m["frames"].add(f"{frames} @ {resolution}" if resolution else str(frames))
    for name, fields in per_metric.items():
        for field, seen in fields.items():
            if len(seen) > 1:
                issues.append(f"{name}: different {field}: {', '.join(sorted(seen))}")
    with_set = {tuple(n for n, *_ in k[3]) for k in keys}
    if len(with_set) > 1:
        issues.append("some rows lack a set metric (FVD/KVD) that others have")
    return issues


# ----------------------------------------------------------------------------------------------
# Per-clip scores, probes, detector
# ----------------------------------------------------------------------------------------------


def clip_scores(run: RunData, generator: str) -> pd.DataFrame:
    """One row per clip of ``generator``: prompt, sample, seed, file, then each clip metric's
    primary value (column = metric name) and each probe's status (``NAME status``)."""
    clips = run.clips
    if clips.empty:
        return pd.DataFrame(columns=["prompt_id", "prompt", "sample", "seed", "file"])
    mine = clips[(clips["generator"] == generator) & (clips["status"] == "ok")]
    out = mine[["prompt_id", "prompt", "sample", "seed", "file"]].copy().reset_index(drop=True)
    for name, info in run.metrics.items():
        if info.get("scope") == "set":
            continue
        primary = info.get("primary") or name
        vals, statuses = [], []
        for pid, sample in zip(out["prompt_id"], out["sample"]):
            values = run.values.get((generator, pid, int(sample), name)) or {}
            v = values.get(primary)
            vals.append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                        else math.nan)
            statuses.append(values.get("status") if is_probe(name, values) else None)
        out[name] = vals
        if any(s is not None for s in statuses):
            out[f"{name} status"] = statuses
    return out


def probe_metrics(run: RunData) -> list[str]:
    """Names of the run's metrics that are physics probes."""
    names = []
    for name in run.metrics:
        if name in PROBE_NAMES:
            names.append(name)
            continue
        for (_, _, _, metric), values in run.values.items():
            if metric == name:
                if is_probe(name, values):
                    names.append(name)
                break
    return names


def probe_status_counts(run: RunData, generator: str) -> pd.DataFrame:
    """Per probe: how many clips passed, failed, were not applicable or had no object."""
    rows = []
    for name in probe_metrics(run):
        counts = {s: 0 for s in PROBE_STATUSES}
        for (gen, pid, _, metric), values in run.values.items():
            if gen == generator and metric == name and pid != SET_PROMPT_ID:
                status = values.get("status")
                if status in counts:
                    counts[status] += 1
        judged = counts["pass"] + counts["fail"]
        rows.append({"probe": name, **counts,
                     "pass rate": counts["pass"] / judged if judged else math.nan})
    return pd.DataFrame(rows, columns=["probe", *PROBE_STATUSES, "pass rate"])


def probe_failures(run: RunData, generator: str) -> set[tuple[str, int]]:
    """(prompt id, sample) of the generator's clips with a failed probe verdict."""
    probes = set(probe_metrics(run))
    return {(pid, int(sample)) for (gen, pid, sample, metric), values in run.values.items()
            if gen == generator and pid != SET_PROMPT_ID and metric in probes
            and values.get("status") == "fail"}


_TIME = re.compile(r"(^|_)(t|t_s|time|times|time_s|frame|frames|frame_index)(_|$)")
_ROLE_PREFIXES = (("expected_", "expected"), ("fit_", "fitted"), ("fitted_", "fitted"),
                  ("points_", "tracked"), ("track_", "tracked"), ("tracked_", "tracked"),
                  ("measured_", "tracked"), ("observed_", "tracked"))


def _is_number_list(value: Any) -> bool:
    return (isinstance(value, list) and len(value) >= 2
            and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                    for v in value)
            and any(v is not None for v in value))


def _role_and_quantity(key: str) -> tuple[str, str]:
    for prefix, role in _ROLE_PREFIXES:
        if key.startswith(prefix):
            return role, key[len(prefix):]
    for suffix, role in (("_expected", "expected"), ("_fit", "fitted"), ("_fitted", "fitted")):
        if key.endswith(suffix):
            return role, key[: -len(suffix)]
    if "fit" in key:
        return "fitted", key.replace("fit", "").strip("_")
    if "expect" in key:
        return "expected", key.replace("expected", "").strip("_")
    return "tracked", key


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def probe_boxes(values: dict[str, Any]) -> pd.DataFrame:
    """The measured object's box in each frame it was seen (``object_frames``,
    ``object_boxes_px`` of a motion probe): ``frame, x0, y0, x1, y1, cx, cy`` in the frame's
    own pixels; empty when the probe recorded none."""
    frames = values.get("object_frames")
    boxes = values.get("object_boxes_px")
    cols = ["frame", "x0", "y0", "x1", "y1", "cx", "cy"]
    if not isinstance(frames, list) or not isinstance(boxes, list) or len(frames) != len(boxes):
        return pd.DataFrame(columns=cols)
    rows = []
    for f, b in zip(frames, boxes):
        if not (isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) for v in b)):
            continue
        rows.append({"frame": int(f), "x0": b[0], "y0": b[1], "x1": b[2], "y1": b[3],
                     "cx": (b[0] + b[2]) / 2, "cy": (b[1] + b[3]) / 2})
    return pd.DataFrame(rows, columns=cols)


def probe_series(values: dict[str, Any]) -> pd.DataFrame:
    """A probe's plot lists as a long table: ``quantity, role, t, value, series``.

    Generic: every list of numbers is a series; lists whose key names time (``t``, ``t_s``,
    ``time``, ``frame``...) are x axes, and each series takes the time list of its length
    whose key shares the longest prefix with it (``fit_t_s`` for ``fit_y_px``). The role is
    read from the key (``points_``/``track_`` tracked, ``fit_`` fitted, ``expected_``
    expected) and the quantity is the key without it, so the tracked, fitted and expected
    ``y_px`` share one chart. Without a time list, the index is the x axis.
    """
    lists = {k: v for k, v in values.items() if _is_number_list(v)}
    times = {k: v for k, v in lists.items() if _TIME.search(k)}
    rows = _expected_gravity_curve(values, lists)
    for key, series in lists.items():
        if key in times:
            continue
        candidates = [t for t, tv in times.items() if len(tv) == len(series)]
        if candidates:
            tkey = max(candidates, key=lambda t: (_common_prefix(t, key), -len(t)))
            xs = times[tkey]
        else:
            tkey, xs = "index", list(range(len(series)))
        role, quantity = _role_and_quantity(key)
        for x, y in zip(xs, series):
            if x is None or y is None:
                continue
            rows.append({"quantity": quantity, "role": role, "t": float(x), "value": float(y),
                         "series": key, "x_key": tkey})
    return pd.DataFrame(rows, columns=["quantity", "role", "t", "value", "series", "x_key"])


def _expected_gravity_curve(values: dict[str, Any], lists: dict[str, list]) -> list[dict]:
    """The expected ``y(t)`` when a probe measured gravity but gave no expected curve.

    Physics probes report the fitted parabola (``fit_t_s``, ``fit_y_px``), the measured
    ``g_px_s2`` and the scene's ``expected_g_px_s2``. The expected curve starts like the fit
    (same position and velocity at the first tracked time t0) and then falls with the
    scene's gravity: ``fit_y(t) + ½ (g_expected − g_measured) (t − t0)²``.
    """
    if any(k.startswith("expected_") for k in lists):
        return []
    g_meas, g_exp = values.get("g_px_s2"), values.get("expected_g_px_s2")
    t, y = lists.get("fit_t_s"), lists.get("fit_y_px")
    if not all(isinstance(g, (int, float)) and not isinstance(g, bool) for g in (g_meas, g_exp)) \
            or not t or not y or len(t) != len(y):
        return []
    starts = [v for v in (lists.get("points_t_s") or t) if v is not None]
    t0 = min(starts) if starts else t[0]
    rows = []
    for tv, yv in zip(t, y):
        if tv is None or yv is None:
            continue
        rows.append({"quantity": "y_px", "role": "expected", "t": float(tv),
                     "value": float(yv) + 0.5 * (g_exp - g_meas) * (float(tv) - t0) ** 2,
                     "series": "expected (scene's g)", "x_key": "fit_t_s"})
    return rows


def probe_table(values: dict[str, Any]) -> pd.DataFrame:
    """Measured against expected scalars: rows ``quantity, measured, expected``."""
    rows = []
    hidden = _alias_keys(values)
    for key, value in values.items():
        if key.startswith("expected_") or isinstance(value, (list, dict)):
            continue
        if key in ("status", "reason", "passed") or key in hidden:
            continue
        expected = values.get(f"expected_{key}")
        rows.append({"quantity": key, "measured": _show(value), "expected": _show(expected)})
    for key, value in values.items():
        if key.startswith("expected_") and key[len("expected_"):] not in values \
                and not isinstance(value, (list, dict)):
            rows.append({"quantity": key[len("expected_"):], "measured": "",
                         "expected": _show(value)})
    return pd.DataFrame(rows, columns=["quantity", "measured", "expected"])


def _alias_keys(values: dict[str, Any]) -> set[str]:
    """Keys that repeat another value under a generic name: a probe's ``error`` is
    ``values[error_key]`` (for medians over clips), e.g. the physics metric's ``error`` 1 is
    ``n_failed_probes`` 1. Shown as "error | 1" it read as an error of the page or the run."""
    if values.get("error_key"):
        return {"error", "error_key"}
    return set()


def clip_values(run: RunData, generator: str, prompt_id: str, sample: int) -> pd.DataFrame:
    """Every scalar value of one clip: rows ``metric, value, ""`` (no generic aliases)."""
    rows = []
    for name in run.metrics:
        values = run.values.get((generator, prompt_id, int(sample), name)) or {}
        hidden = _alias_keys(values)
        for key, value in values.items():
            if not isinstance(value, (list, dict)) and key not in hidden:
                rows.append({"metric": name, "value": key, "": _show(value)})
    return pd.DataFrame(rows, columns=["metric", "value", ""])


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def detector_metrics(run: RunData) -> list[str]:
    """Metrics whose per-clip values carry a detector probability."""
    out = []
    for name, info in run.metrics.items():
        if name == "detector" or info.get("primary") == DETECTOR_KEY:
            out.append(name)
            continue
        for (_, pid, _, metric), values in run.values.items():
            if metric == name and pid != SET_PROMPT_ID:
                if DETECTOR_KEY in values:
                    out.append(name)
                break
    return out


def detector_probabilities(run: RunData, metric: str,
                           generator: str | None = None) -> pd.DataFrame:
    """``generator, prompt_id, sample, probability`` of a detector metric's clips."""
    rows = []
    for (gen, pid, sample, name), values in run.values.items():
        if name != metric or pid == SET_PROMPT_ID or (generator and gen != generator):
            continue
        p = values.get(DETECTOR_KEY)
        if isinstance(p, (int, float)) and not isinstance(p, bool):
            rows.append({"generator": gen, "prompt_id": pid, "sample": sample,
                         "probability": float(p)})
    return pd.DataFrame(rows, columns=["generator", "prompt_id", "sample", "probability"])


# ----------------------------------------------------------------------------------------------
# Compare
# ----------------------------------------------------------------------------------------------


def compare_generators(run_a: RunData, gen_a: str, run_b: RunData, gen_b: str
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two generators on the prompts they share (matched on prompt text and sample).

    Returns ``(summary, per_clip)``: ``summary`` has one row per clip metric both have:
    mean of A, mean of B, B − A, the better one (by direction) and wins/ties over the shared
    clips; ``per_clip`` has prompt, sample, and ``METRIC A`` / ``METRIC B`` per metric, plus
    the two clip files (``file A``, ``file B``).
    """
    a = clip_scores(run_a, gen_a)
    b = clip_scores(run_b, gen_b)
    if a.empty or b.empty:
        return pd.DataFrame(), pd.DataFrame()
    # A suite may hold the same prompt text under several ids (physics-basic's 48 prompts
    # repeat some sentences with other start states): matched on text alone, each copy paired
    # with every copy on the other side ("70 shared clips" for two 64-clip generators). The
    # k-th copy pairs with the k-th copy instead, in prompt-id order.
    a, b = _number_copies(a), _number_copies(b)
    merged = a.merge(b, on=["prompt", "sample", "copy"], suffixes=(" A", " B"))
    shared = [m for m, info in run_a.metrics.items()
              if info.get("scope") != "set" and m in run_b.metrics
              and f"{m} A" in merged.columns and f"{m} B" in merged.columns]
    rows = []
    for m in shared:
        info = run_a.metrics[m]
        hib = info.get("higher_is_better")
        va, vb = merged[f"{m} A"], merged[f"{m} B"]
        both = va.notna() & vb.notna()
        row = {"metric": metric_label(m, info), "units": info.get("units") or "",
               "A": va[both].mean() if both.any() else math.nan,
               "B": vb[both].mean() if both.any() else math.nan, "clips": int(both.sum())}
        row["B − A"] = row["B"] - row["A"]
        if hib is None or not both.any():
            row.update({"better": "", "A wins": pd.NA, "B wins": pd.NA, "ties": pd.NA})
        else:
            sign = 1 if hib else -1
            diff = (vb[both] - va[both]) * sign
            row["A wins"] = int((diff < 0).sum())
            row["B wins"] = int((diff > 0).sum())
            row["ties"] = int((diff == 0).sum())
            delta = (row["B"] - row["A"]) * sign
            row["better"] = "B" if delta > 0 else "A" if delta < 0 else "tie"
        rows.append(row)
    for m, info in run_a.metrics.items():  # set metrics (FVD): one value per generator
        if info.get("scope") != "set" or m not in run_b.metrics:
            continue
        sa, sb = _set_value(run_a, gen_a, m), _set_value(run_b, gen_b, m)
        if sa is None or sb is None:
            continue
        va, vb = _num(sa.get(_primary(run_a, m))), _num(sb.get(_primary(run_b, m)))
        hib = info.get("higher_is_better")
        better = ""
        if hib is not None and not (math.isnan(va) or math.isnan(vb)):
            delta = (vb - va) * (1 if hib else -1)
            better = "B" if delta > 0 else "A" if delta < 0 else "tie"
        ca, cb = set_metric_context(sa), set_metric_context(sb)
        units = info.get("units") or ""
        if (ca["backbone"], ca["n_fake"], ca["frames"]) != (cb["backbone"], cb["n_fake"],
                                                            cb["frames"]):
            units += " — not comparable: " + f"A {ca['backbone']} N={ca['n_fake']}, " \
                     f"B {cb['backbone']} N={cb['n_fake']}"
            better = ""
        rows.append({"metric": metric_label(m, info), "units": units, "A": va, "B": vb,
                     "B − A": vb - va, "better": better, "A wins": pd.NA, "B wins": pd.NA,
                     "ties": pd.NA, "clips": ca["n_fake"]})
    summary = pd.DataFrame(rows, columns=["metric", "units", "A", "B", "B − A", "better",
                                          "A wins", "B wins", "ties", "clips"])
    cols = ["prompt", "sample", "file A", "file B"]
    for m in shared:
        cols += [f"{m} A", f"{m} B"]
    per_clip = merged[[c for c in cols if c in merged.columns]].sort_values(
        ["prompt", "sample"]).reset_index(drop=True)
    return summary, per_clip


def _number_copies(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values(["prompt_id", "sample"], kind="stable").reset_index(drop=True)
    frame["copy"] = frame.groupby(["prompt", "sample"]).cumcount()
    return frame


# ----------------------------------------------------------------------------------------------
# Detector evaluation files
# ----------------------------------------------------------------------------------------------


def find_detector_evals(roots: Iterable[str | Path], max_depth: int = 3) -> list[Path]:
    """JSON files that look like detector evaluations under ``roots`` (bounded depth).

    Matches files named ``*detector*eval*.json`` / ``*eval*detector*.json`` anywhere, and
    any ``*.json`` inside a folder whose name has both 'detector' and 'eval' in it.
    """
    found: list[Path] = []
    seen = set()
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        level = [root]
        for _ in range(max_depth + 1):
            nxt = []
            for folder in level:
                try:
                    entries = sorted(folder.iterdir())
                except OSError:
                    continue
                folder_matches = _detector_eval_name(folder.name)
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir():
                        if entry.name not in ("clips", "summary", "__pycache__", ".venv"):
                            nxt.append(entry)
                    elif entry.suffix == ".json" and (folder_matches
                                                      or _detector_eval_name(entry.name)):
                        key = entry.resolve()
                        if key not in seen:
                            seen.add(key)
                            found.append(entry)
            level = nxt
    return found


_DETECTOR_NAME = re.compile(r"evalkit-detector-\d+")


def detector_of_eval(scalars: dict[str, Any]) -> str | None:
    """The shipped detector an evaluation describes (``evalkit-detector-2`` from its
    ``model_version`` 'evalkit-detector-2+9ade4919'), or None when it names none."""
    match = _DETECTOR_NAME.search(str(scalars.get("model_version") or ""))
    return match.group(0) if match else None


def detector_of_metric(info: dict[str, Any]) -> str | None:
    """The weights a run's detector metric used: its ``model_path`` option (None: default)."""
    return (info.get("options") or {}).get("model_path") or None


def _detector_eval_name(name: str) -> bool:
    low = name.lower()
    return "detector" in low and "eval" in low


def _curve_list(obj: Any, x: str, y: str, score: str) -> list[dict[str, Any]]:
    """Normalise ``{x: [], y: []}``, ``{name: {x, y}}`` or ``[{name, x, y}]`` to curves."""
    curves = []
    if isinstance(obj, dict) and x in obj and y in obj:
        obj = [{"name": obj.get("name", ""), **obj}]
    elif isinstance(obj, dict):
        obj = [{"name": k, **v} for k, v in obj.items() if isinstance(v, dict)]
    if not isinstance(obj, list):
        return []
    for i, entry in enumerate(obj):
        if not isinstance(entry, dict):
            continue
        xs, ys = entry.get(x), entry.get(y)
        if not (_is_number_list(xs) and _is_number_list(ys)) or len(xs) != len(ys):
            continue
        curves.append({"name": str(entry.get("name") or entry.get("label") or f"curve {i + 1}"),
                       x: [float(v) if v is not None else math.nan for v in xs],
                       y: [float(v) if v is not None else math.nan for v in ys],
                       score: entry.get(score)})
    return curves


def load_detector_eval(path: str | Path) -> dict[str, Any]:
    """Read a detector evaluation JSON into ``roc``/``pr`` curve lists, a ``robustness``
    frame and the remaining ``scalars``. Raises :class:`AppDataError` with a message."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise AppDataError(f"detector evaluation '{path}' does not exist") from None
    except (OSError, ValueError) as exc:
        raise AppDataError(f"detector evaluation '{path}' cannot be read: {exc}") from None
    if not isinstance(raw, dict):
        raise AppDataError(f"detector evaluation '{path}' is not a JSON object")
    roc = _curve_list(raw.get("roc"), "fpr", "tpr", "auc")
    if roc and roc[0]["auc"] is None and len(roc) == 1:
        roc[0]["auc"] = raw.get("auc", raw.get("roc_auc"))
    pr = _curve_list(raw.get("pr"), "recall", "precision", "ap")
    if pr and pr[0]["ap"] is None and len(pr) == 1:
        pr[0]["ap"] = raw.get("ap", raw.get("average_precision"))
    rob = raw.get("robustness")
    if isinstance(rob, dict):
        rob = [{"condition": k, **(v if isinstance(v, dict) else {"value": v})}
               for k, v in rob.items()]
    robustness = pd.DataFrame(rob) if isinstance(rob, list) and rob else pd.DataFrame()
    if not robustness.empty:
        for column in robustness.columns:  # nested values would break Arrow
            if robustness[column].map(lambda v: isinstance(v, (list, dict))).any():
                robustness[column] = robustness[column].map(
                    lambda v: json.dumps(v) if isinstance(v, (list, dict)) else v)
    scalars = {k: v for k, v in raw.items()
               if isinstance(v, (int, float, str, bool)) or v is None}
    return {"path": str(path), "roc": roc, "pr": pr, "robustness": robustness,
            "families": _family_table(raw.get("leave_one_family_out")),
            "unseen_real": _unseen_real_table(raw.get("unseen_real_sources")), "scalars": scalars}


#: Columns of the per-family (leave-one-family-out) table, in the order shown.
FAMILY_COLUMNS = ("held_out", "n_fake", "n_real", "auc", "auc_all_real_folds", "ap", "tpr_at_5pct_fpr",
                  "balanced_accuracy", "fake_labelled_ai_generated", "real_labelled_ai_generated", "ece",
                  "features", "l2")


def _family_table(entries: Any) -> pd.DataFrame:
    """One row per held-out generator family (scalar columns of :data:`FAMILY_COLUMNS` that the
    evaluation has; an older file without the list gives an empty frame)."""
    if not isinstance(entries, list):
        return pd.DataFrame()
    rows = [{k: e[k] for k in FAMILY_COLUMNS if k in e and not isinstance(e[k], (list, dict))}
            for e in entries if isinstance(e, dict) and "held_out" in e]
    return pd.DataFrame(rows)


def _unseen_real_table(table: Any) -> pd.DataFrame:
    """``unseen_real_sources`` (condition → shares of real clips per label) as a frame."""
    if not isinstance(table, dict):
        return pd.DataFrame()
    return pd.DataFrame([{"condition": k, **v} for k, v in table.items() if isinstance(v, dict)])


def relative_name(path: Path, root: Path) -> str:
    try:
        rel = path.resolve().relative_to(root.resolve())
        return str(rel) if str(rel) != "." else path.name
    except ValueError:
        return path.name
