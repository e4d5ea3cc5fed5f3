"""Read a run folder back as tables: one row per generator, or one row per clip and metric."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import EvalkitError
from evalkit.store import SET_PROMPT_ID, RunStore, duplicate_clips, read_jsonl

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ARROWS", "VBENCH_COLUMNS", "clip_table", "display_table", "export_table", "generator_table",
           "load_summaries", "metric_label"]

ARROWS = {True: "↑", False: "↓", None: ""}


def _store(run_dir: str | Path) -> RunStore:
    store = RunStore(Path(run_dir))
    if not store.root.is_dir():
        raise EvalkitError(f"run folder '{store.root}' does not exist")
    if not store.run_file.is_file():
        raise EvalkitError(f"'{store.root}' is not an evalkit run folder (no {store.run_file.name})")
    return store


def load_summaries(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``summary/*.json`` by generator label (a run interrupted before summaries has none)."""
    store = _store(run_dir)
    out = {}
    for path in sorted((store.root / "summary").glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # a summary being written right now; the next read will have it
        out[data.get("generator", path.stem)] = data
    return out


def clip_table(run_dir: str | Path) -> pd.DataFrame:
    """One row per (generator, prompt, sample, metric) with every scalar value as a column.

    Columns: generator, prompt_id, prompt, sample, seed, metric, status, error, and
    ``value.KEY`` for each scalar the metric returned.
    """
    import pandas as pd

    store = _store(run_dir)
    rows = []
    for record in store.results().values():
        row = {k: record.get(k) for k in ("generator", "prompt_id", "prompt", "sample", "seed",
                                           "metric", "status", "error")}
        for key, value in (record.get("values") or {}).items():
            if isinstance(value, (int, float, str, bool)) or value is None:
                row[f"value.{key}"] = value
        rows.append(row)
    columns = ["generator", "prompt_id", "prompt", "sample", "seed", "metric", "status", "error"]
    frame = pd.DataFrame(rows, columns=None if rows else columns)
    return frame.sort_values(["generator", "metric", "prompt_id", "sample"]).reset_index(
        drop=True
    ) if rows else frame


def generator_table(run_dir: str | Path) -> pd.DataFrame:
    """One row per generator: N and the mean of each metric's primary value (± std).

    Clips that repeat another clip of their generator pixel for pixel are counted in
    ``clips`` and in a ``duplicates`` column (present only when there are any) and scored
    once: a metric's mean, std and n are over distinct clips.

    Built from the JSON lines, so it works for a run that was interrupted before its
    summaries were written. Column names carry the direction (↑ higher is better).
    """
    import pandas as pd

    store = _store(run_dir)
    info = store.read_run_info()
    metric_info: dict[str, dict[str, Any]] = info.get("metrics", {})
    gens: dict[str, dict[str, Any]] = {}
    generations = store.generations()
    repeats = duplicate_clips(generations)
    for record in generations.values():
        g = gens.setdefault(record["generator"], {"generator": record["generator"],
                                                  "clips": 0, "clips_failed": 0})
        g["clips" if record["status"] == "ok" else "clips_failed"] += 1
    for key in repeats:  # a column only where some generator repeats itself
        gens[key[0]]["duplicates"] = gens[key[0]].get("duplicates", 0) + 1
    values: dict[tuple[str, str], list[float]] = {}
    set_values: dict[tuple[str, str], float] = {}
    for record in store.results().values():
        if record.get("status") != "ok":
            continue
        name = record["metric"]
        primary = metric_info.get(name, {}).get("primary") or name
        value = (record.get("values") or {}).get(primary)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        key = (record["generator"], name)
        if (record["generator"], record["prompt_id"], int(record["sample"])) in repeats:
            continue  # a copy of another clip: its score is already counted
        if record["prompt_id"] == SET_PROMPT_ID:
            set_values[key] = float(value)
        else:
            values.setdefault(key, []).append(float(value))
    for (gen, name), column in values.items():
        row = gens.setdefault(gen, {"generator": gen, "clips": 0, "clips_failed": 0})
        label = metric_label(name, metric_info.get(name, {}))
        series = pd.Series(column)
        row[label] = series.mean()
        row[f"{label} std"] = series.std(ddof=0)
        row[f"{label} n"] = len(column)
    for (gen, name), value in set_values.items():
        row = gens.setdefault(gen, {"generator": gen, "clips": 0, "clips_failed": 0})
        row[metric_label(name, metric_info.get(name, {}))] = value
    _add_vbench_columns(gens, store, metric_info, repeats)
    if not gens:
        raise EvalkitError(f"run folder '{store.root}' holds no clips or results yet")
    frame = pd.DataFrame(list(gens.values())).set_index("generator").sort_index()
    if "duplicates" in frame.columns:
        frame["duplicates"] = frame["duplicates"].fillna(0).astype(int)
        frame.insert(2, "duplicates", frame.pop("duplicates"))
    return frame


#: Columns of VBench's combined scores in the generator table (present when a run has VBench
#: dimensions): Quality, Semantic and Total over the dimensions computed, and those not computed.
VBENCH_COLUMNS = ("VBench total ↑", "VBench quality ↑", "VBench semantic ↑", "VBench missing")


def _add_vbench_columns(gens: dict[str, dict[str, Any]], store: RunStore,
                        metric_info: dict[str, dict[str, Any]], repeats: Any) -> None:
    """VBench's Quality / Semantic / Total per generator (:mod:`evalkit.metrics.vbench.aggregate`),
    from each dimension's VBench aggregate; ``VBench missing`` names the dimensions not computed
    (they are left out, not counted as 0)."""
    dims = {n for n, i in metric_info.items() if i.get("vbench_dimension")}
    if not dims:
        return
    from evalkit.metrics.vbench.aggregate import dimension_results, missing_text, vbench_scores

    per_gen: dict[str, list[dict[str, Any]]] = {}
    for record in store.results().values():
        if record.get("metric") in dims and (record["generator"], record["prompt_id"],
                                             int(record["sample"])) not in repeats:
            per_gen.setdefault(record["generator"], []).append(record)
    for gen, records in per_gen.items():
        results = dimension_results(metric_info, records)
        scores = vbench_scores({d: agg for d, (agg, _) in results.items()})
        row = gens.setdefault(gen, {"generator": gen, "clips": 0, "clips_failed": 0})
        for column, key in zip(VBENCH_COLUMNS[:3], ("total", "quality", "semantic")):
            row[column] = scores[key] if scores[key] is not None else float("nan")
        run = {metric_info[r["metric"]]["vbench_dimension"] for r in records}
        row[VBENCH_COLUMNS[3]] = missing_text(scores, sorted(run))


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The generator table for a terminal: ``mean ± std (n)`` in one column per metric."""
    import pandas as pd

    out = pd.DataFrame(index=table.index)
    for column in table.columns:
        if column.endswith((" std", " n")):
            continue
        std, n = f"{column} std", f"{column} n"
        if std in table.columns:
            out[column] = [
                f"{m:.4g} ± {s:.2g} ({int(k)})" if pd.notna(m) else "-"
                for m, s, k in zip(table[column], table[std], table[n])
            ]
        else:
            out[column] = table[column]
    return out


def metric_label(name: str, info: dict[str, Any]) -> str:
    """A metric's column name: ``name ↑`` (higher is better), ``name ↓``, or ``name``."""
    arrow = ARROWS.get(info.get("higher_is_better"), "")
    return f"{name} {arrow}".strip()


def export_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV or Parquet, chosen by the file extension."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path)
    elif suffix in (".parquet", ".pq"):
        frame.to_parquet(path)
    else:
        raise EvalkitError(f"cannot export to '{path}': use a .csv or .parquet file name")
    return path


def iter_results(run_dir: str | Path) -> Any:
    """Raw result records, for tools that want everything (the leaderboard)."""
    return read_jsonl(_store(run_dir).results_file)
