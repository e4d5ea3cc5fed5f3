"""The runner: generate → write clips → score → results lines → summary per generator.

Work is cut into independent items (make a batch of clips for one generator; score one clip
with every metric it still lacks; compute one set metric for one generator) that an
:class:`~evalkit.executor.Executor` runs. The main process is the only writer of the run
folder's JSON lines, so a run can be interrupted at any point and re-run: what is on disk is
kept and only the missing work is done.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

import evalkit
from evalkit import registry
from evalkit.clip import Clip
from evalkit.errors import ConfigError
from evalkit.executor import Executor, make_executor
from evalkit.generators.base import GenerationRequest, Generator
from evalkit.metrics.base import ClipContext, Metric
from evalkit.options import resolve_relative_paths
from evalkit.jsonutil import json_default
from evalkit.hashing import file_sha256
from evalkit.runlock import RunLock, RunStorageError, storage_error
from evalkit.store import SET_PROMPT_ID, RunStore, duplicate_clips, safe_name, write_json_atomic
from evalkit.suite import ResolvedSuite, _format_validation_error

log = logging.getLogger(__name__)

__all__ = ["Plan", "RunReport", "plan_run", "run_suite"]


# ----------------------------------------------------------------------------------------------
# Planning: everything checked before anything is written
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ComponentSpec:
    """A generator or metric by registry name and validated options (picklable)."""

    kind: str
    name: str
    options: dict[str, Any]
    version: str = ""

    @property
    def cache_key(self) -> str:
        return json.dumps([self.kind, self.name, self.options], sort_keys=True, default=str)

    @property
    def fingerprint(self) -> str:
        """Identity of what this component computes: name, options and code version.

        Stored in every record, so a re-run reuses a clip or a score only when it was made
        the same way (changing a metric's options recomputes it, never relabels old values).
        """
        return _digest([self.cache_key, self.version])


def _digest(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:12]


@dataclasses.dataclass
class Plan:
    resolved: ResolvedSuite
    generators: dict[str, ComponentSpec]  # label -> spec
    generator_info: dict[str, dict[str, Any]]
    clip_metrics: dict[str, ComponentSpec]
    set_metrics: dict[str, ComponentSpec]
    metric_info: dict[str, dict[str, Any]]
    requests: list[GenerationRequest]
    probes: dict[str, str | None]  # prompt_id -> explicit probe from the suite
    #: prompt_id -> VBench auxiliary_info (object, colour, relation) for the grounded dimensions
    auxiliary: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    #: prompt_id -> the VBench dimensions the prompt is for (prompts read from
    #: VBench_full_info.json); a VBench dimension scores only its own prompts, as in VBench
    dimensions: dict[str, set[str]] = dataclasses.field(default_factory=dict)

    def scores_prompt(self, metric: str, prompt_id: str) -> bool:
        """Whether ``metric`` scores clips of ``prompt_id``: every metric scores every prompt,
        except that a VBench dimension skips prompts tagged for other dimensions only."""
        wanted = self.dimensions.get(prompt_id)
        is_dimension = "vbench_dimension" in self.metric_info.get(metric, {})
        return wanted is None or not is_dimension or metric in wanted

    @property
    def n_clips(self) -> int:
        return len(self.requests) * len(self.generators)


def plan_run(resolved: ResolvedSuite) -> Plan:
    """Resolve components and options and ask each generator whether it can do the work."""
    suite = resolved.suite
    base_dir = resolved.source.resolve().parent if resolved.source else Path.cwd()
    label = str(resolved.source) if resolved.source else "suite"

    requests = [
        GenerationRequest(
            prompt=p.text, prompt_id=p.id or "", sample=s, seed=suite.seed_for(s), scene=p.scene
        )
        for p in resolved.prompts
        for s in range(suite.samples_per_prompt)
    ]

    generators: dict[str, ComponentSpec] = {}
    generator_info: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(suite.generators):
        where = f"{label}: generators[{i}]"
        cls = _load("generator", entry.name, f"{where}.name")
        options = _validate_options(cls, entry.options, base_dir, f"{where}.options")
        instance: Generator = cls(**options)
        problems = instance.check(requests)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ConfigError(f"{where} ({entry.key}): {problems[0]}{more}")
        generators[entry.key] = ComponentSpec("generator", entry.name, options, cls.version)
        generator_info[entry.key] = instance.info()

    clip_metrics: dict[str, ComponentSpec] = {}
    set_metrics: dict[str, ComponentSpec] = {}
    metric_info: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(suite.metrics):
        where = f"{label}: metrics[{i}]"
        cls = _load("metric", entry.name, f"{where}.name")
        options = _validate_options(cls, entry.options, base_dir, f"{where}.options")
        spec = ComponentSpec("metric", entry.name, options, cls.version)
        if cls.scope == "set":
            if getattr(cls, "needs_reference", True) and suite.reference is None:
                raise ConfigError(f"{where}: metric '{entry.name}' needs a 'reference:' set")
            if suite.reference is not None and suite.reference.kind == "stats" \
                    and not getattr(cls, "accepts_reference_stats", False):
                raise ConfigError(f"{where}: metric '{entry.name}' cannot use a statistics reference "
                                  "(reference kind 'stats'); give it a folder or the world")
            check = getattr(cls, "reference_problem", None)
            problem = check(options, suite.reference) if check and suite.reference else None
            if problem:
                raise ConfigError(f"{where} ({entry.name}): {problem}")
            set_metrics[entry.name] = spec
        else:
            clip_metrics[entry.name] = spec
        # Weights a metric cannot find: one line now, before any clip is generated or decoded.
        options_problem = getattr(cls, "options_problem", None)
        problem = options_problem(options) if options_problem else None
        if problem:
            raise ConfigError(f"{where} ({entry.name}): {problem}")
        metric_info[entry.name] = cls(**options).info()
    _refuse_name_collisions(label, [p.id or "" for p in resolved.prompts], "prompt id")
    _refuse_name_collisions(label, list(generators), "generator label")
    probes = {p.id or "": p.probe for p in resolved.prompts}
    auxiliary = {p.id or "": p.auxiliary_info for p in resolved.prompts if p.auxiliary_info}
    dimensions = {p.id or "": set(p.dimensions) for p in resolved.prompts if p.dimensions}
    return Plan(resolved, generators, generator_info, clip_metrics, set_metrics, metric_info,
                requests, probes, auxiliary, dimensions)


def _refuse_name_collisions(label: str, names: list[str], what: str) -> None:
    """Two names that map to one file name would overwrite each other's clips or summary."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(safe_name(name), name)
        if other != name:
            raise ConfigError(f"{label}: {what}s '{other}' and '{name}' map to the same file "
                              f"name '{safe_name(name)}'; rename one")


def _load(kind: registry.Kind, name: str, where: str) -> type:
    try:
        return registry.load(kind, name)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _validate_options(
    cls: type, options: dict[str, Any], base_dir: Path, where: str
) -> dict[str, Any]:
    model: type[BaseModel] = cls.Options
    try:
        parsed = model.model_validate(options)
    except ValidationError as exc:
        raise ConfigError(f"{where}.{_format_validation_error(exc, model)}") from None
    return resolve_relative_paths(parsed, base_dir).model_dump(mode="json")


# ----------------------------------------------------------------------------------------------
# Work items (run inside executor workers; must be picklable and catch their own errors)
# ----------------------------------------------------------------------------------------------

_COMPONENTS: dict[str, Any] = {}  # per-process cache: models load once per worker


def _instance(spec: ComponentSpec) -> Any:
    obj = _COMPONENTS.get(spec.cache_key)
    if obj is None:
        obj = registry.load(spec.kind, spec.name)(**spec.options)  # type: ignore[arg-type]
        _COMPONENTS[spec.cache_key] = obj
    return obj


@dataclasses.dataclass(frozen=True)
class GenerateTask:
    generator_label: str
    generator: ComponentSpec
    requests: tuple[GenerationRequest, ...]
    clip_paths: tuple[str, ...]  # destination per request, relative to root (ext may change)
    crf: int
    root: str  # the run folder
    fingerprint: str  # generator identity + video settings, stored in every record


@dataclasses.dataclass(frozen=True)
class ScoreTask:
    generator_label: str
    request: GenerationRequest
    clip_path: str
    metrics: tuple[ComponentSpec, ...]
    probe: str | None = None
    auxiliary_info: dict[str, Any] | None = None


def run_generate_task(task: GenerateTask) -> list[dict[str, Any]]:
    """Make and write the clips of a batch; one record per request."""
    from evalkit.video import write_video

    try:
        gen: Generator = _instance(task.generator)
    except Exception as exc:  # noqa: BLE001 - reported per request, the run goes on
        return [_gen_record(task, r, None, 0.0, exc) for r in task.requests]

    records: list[dict[str, Any]] = []
    root = Path(task.root)
    pending = [(r, root / p) for r, p in zip(task.requests, task.clip_paths)]
    try:
        sources = [gen.source_file(r) for r, _ in pending]
    except Exception as exc:  # noqa: BLE001 - e.g. a file vanished after the plan was checked
        return [_gen_record(task, r, None, 0.0, exc) for r in task.requests]
    if all(src is not None for src in sources):
        for (request, dest), src in zip(pending, sources):
            start = time.perf_counter()
            try:
                # Checked before it is copied: a corrupt or empty file is a clip that failed,
                # counted as such in the table (it used to pass as made and score as None).
                check_source_clip(Path(src))  # type: ignore[arg-type]
                target = dest.with_suffix(Path(src).suffix.lower())  # type: ignore[arg-type]
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.part")
                shutil.copyfile(src, tmp)  # type: ignore[arg-type]
                tmp.replace(target)
                records.append(_gen_record(task, request, target, time.perf_counter() - start,
                                           digest=file_sha256(target)))
            except Exception as exc:  # noqa: BLE001
                _raise_if_storage(exc, root)
                records.append(_gen_record(task, request, None, 0.0, exc))
        return records

    start = time.perf_counter()
    try:
        clips = gen.generate_batch([r for r, _ in pending])
        if len(clips) != len(pending):
            raise RuntimeError(f"generate_batch returned {len(clips)} clips for {len(pending)}")
        per_clip = (time.perf_counter() - start) / len(pending)
        made = [(r, d, c, per_clip) for (r, d), c in zip(pending, clips)]
    except Exception:  # noqa: BLE001 - isolate the failing request(s) one by one
        made = []
        for request, dest in pending:
            t0 = time.perf_counter()
            try:
                made.append((request, dest, gen.generate(request), time.perf_counter() - t0))
            except Exception as exc:  # noqa: BLE001
                records.append(_gen_record(task, request, None, 0.0, exc))
    for request, dest, clip, seconds in made:
        try:
            clip = clip.with_metadata(
                prompt=request.prompt, prompt_id=request.prompt_id, sample=request.sample,
                seed=request.seed, generator=task.generator_label,
                generator_name=task.generator.name, generator_version=gen.version,
            )
            path = write_video(dest, clip, crf=task.crf)
            digest = hashlib.sha256(np.ascontiguousarray(clip.frames).tobytes()).hexdigest()
            records.append(_gen_record(task, request, Path(path), seconds, clip=clip,
                                       digest=digest))
        except Exception as exc:  # noqa: BLE001
            _raise_if_storage(exc, root)
            records.append(_gen_record(task, request, None, 0.0, exc))
    return records


def _raise_if_storage(exc: BaseException, root: Path) -> None:
    """A full disk or read-only run folder stops the run (every next item would fail the
    same way) instead of being recorded as one failed clip."""
    if storage_error(exc, root):
        assert isinstance(exc, OSError)
        # A plain OSError: it crosses a process pool intact (FFmpeg's own subclass may not).
        raise OSError(exc.errno, exc.strerror or str(exc), exc.filename) from exc


def check_source_clip(path: Path) -> None:
    """Raise :class:`~evalkit.video.VideoReadError` unless ``path`` decodes to frames.

    Decodes the whole file as a stream (one frame in memory), so a file truncated past its
    header fails here, as a failed clip, rather than later as a row of failed scores.
    """
    from evalkit.video import VideoReadError, iter_video_frames

    n = 0
    for _frame in iter_video_frames(path):
        n += 1
    if n == 0:
        raise VideoReadError(path, "no frames decoded (empty or corrupt?)")


def _gen_record(task: GenerateTask, request: GenerationRequest, path: Path | None,
                seconds: float, error: BaseException | None = None, clip: Any = None,
                digest: str | None = None) -> dict:
    record: dict[str, Any] = {
        "generator": task.generator_label,
        "prompt_id": request.prompt_id,
        "prompt": request.prompt,
        "sample": request.sample,
        "seed": request.seed,
        "status": "ok" if error is None else "error",
        "spec": task.fingerprint,
        "time_s": round(seconds, 6),
    }
    if path is not None:
        record["path"] = path.relative_to(task.root).as_posix()
        record["size_bytes"] = path.stat().st_size
    if clip is not None:
        record.update(frames=clip.num_frames, height=clip.height, width=clip.width, fps=clip.fps)
    if digest is not None:
        # pixels (or copied bytes): finds clips that repeat another (store.duplicate_clips)
        record["content_sha256"] = digest
    if error is not None:
        record["error"] = _describe(error)
    return record


def run_score_task(task: ScoreTask) -> list[dict[str, Any]]:
    """Read a clip once and score it with each metric it lacks; one record per metric."""
    from evalkit.video import read_video

    base = {
        "generator": task.generator_label,
        "prompt_id": task.request.prompt_id,
        "prompt": task.request.prompt,
        "sample": task.request.sample,
        "seed": task.request.seed,
    }
    try:
        clip = read_video(task.clip_path)
    except Exception as exc:  # noqa: BLE001
        return [{**base, "metric": m.name, "status": "error", "error": _describe(exc)}
                for m in task.metrics]
    _attach_vfr_times(clip, task.clip_path)
    context = ClipContext(
        prompt=task.request.prompt, scene=task.request.scene,
        probe=task.probe, seed=task.request.seed, generator=task.generator_label,
        auxiliary_info=task.auxiliary_info,
    )
    records = []
    for spec in task.metrics:
        start = time.perf_counter()
        try:
            metric: Metric = _instance(spec)
            values = metric.score(clip, context)  # type: ignore[attr-defined]
            values = _check_values(spec.name, values, metric.primary)
            records.append({**base, "metric": spec.name, "spec": spec.fingerprint,
                            "status": "ok", "values": values,
                            "time_s": round(time.perf_counter() - start, 6)})
        except Exception as exc:  # noqa: BLE001
            records.append({**base, "metric": spec.name, "spec": spec.fingerprint,
                            "status": "error", "error": _describe(exc)})
    return records


def _attach_vfr_times(clip: Clip, path: str) -> None:
    """A variable-frame-rate file's frame times in ``clip.metadata["frame_times_s"]`` (seconds
    from the first frame, from the container's stamps), so that metrics that fit motion over
    time (the physics probes) do not take its frames as evenly spaced. Constant-rate files get
    nothing (``i / fps`` is exact)."""
    from evalkit.video import frame_times

    timing = frame_times(path)
    times = timing.get("times_s")
    if timing.get("vfr") and times is not None:
        if len(times) == clip.num_frames:
            clip.metadata["frame_times_s"] = [float(t) for t in times]
            clip.metadata["timing_note"] = timing["note"]
        else:
            log.warning("%s: variable frame rate, but %d time stamps for %d frames; frames taken "
                        "as evenly spaced", path, len(times), clip.num_frames)


def _check_values(name: str, values: Any, primary: str) -> dict[str, Any]:
    """The values as plain JSON types; a missing primary value or a NaN anywhere is an error
    of this metric on this clip (never a silent default, never a crash of the whole run)."""
    if not isinstance(values, dict):
        raise TypeError(f"metric '{name}' returned {type(values).__name__}, expected a dict")
    if primary and primary not in values:
        raise ValueError(f"metric '{name}' did not return its primary value '{primary}'")
    try:
        return json.loads(json.dumps(values, allow_nan=False, default=json_default))
    except ValueError:
        bad = [k for k, v in values.items()
               if isinstance(v, (float, np.floating)) and not math.isfinite(float(v))]
        where = f" for '{bad[0]}'" if bad else ""
        raise ValueError(f"metric '{name}' returned a non-finite value{where}") from None
    except TypeError as exc:
        raise TypeError(f"metric '{name}' returned a value JSON cannot hold: {exc}") from None


def _describe(exc: BaseException) -> str:
    log.debug("work item failed", exc_info=exc)
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, ValueError) else text


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class RunReport:
    output_dir: Path
    clips_made: int = 0
    clips_reused: int = 0
    clips_failed: int = 0
    scores_made: int = 0
    scores_reused: int = 0
    scores_failed: int = 0
    summaries: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.clips_failed == 0 and self.scores_failed == 0


def run_suite(
    resolved: ResolvedSuite,
    *,
    executor: Executor | None = None,
    progress: bool = True,
) -> RunReport:
    """Run (or resume) a suite and return what was done. Raises ConfigError before writing."""
    plan = plan_run(resolved)
    suite = resolved.suite
    store = RunStore(resolved.output_dir)
    run_info = {
        "suite": suite.name,
        "suite_file": str(resolved.source) if resolved.source else None,
        "config": resolved.config(),
        "config_hash": resolved.config_hash(),
        "generation_hash": resolved.generation_hash(),
        "generators": plan.generator_info,
        "metrics": plan.metric_info,
        "evalkit_version": evalkit.__version__,
        "versions": package_versions(),
        "git": git_info(),
        "command": sys.argv,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _refuse_conflicting_clips(plan, store)
    store.check_folder()  # a foreign folder is refused before a lock file is put in it
    owned = executor is None  # an executor made here is closed here (Ray workers hold GPUs)
    if executor is None:
        if suite.executor.kind == "ray":
            from evalkit.ray_executor import check_ray

            check_ray()  # one line before anything is written
        executor = make_executor(suite.executor.kind, suite.executor.workers,
                                 **suite.executor.options())
    try:
        with RunLock(store.root):
            # Read again under the lock: a run that held it until now may have added clips.
            _refuse_conflicting_clips(plan, store)
            start = getattr(executor, "start", None)
            if start is not None:
                start()  # a cluster that cannot host the workers says so before any writing
            store.open(run_info)
            report = RunReport(store.root)
            log.info("run folder %s: %d prompts x %d samples x %d generators, %d metrics",
                     store.root, len(resolved.prompts), suite.samples_per_prompt,
                     len(plan.generators), len(plan.clip_metrics) + len(plan.set_metrics))

            _generate(plan, store, executor, report, progress)
            _warn_duplicates(plan, store)
            _score(plan, store, executor, report, progress)
            _score_sets(plan, store, report)
            for label in plan.generators:
                report.summaries[label] = write_summary(plan, store, label, run_info)
    except OSError as exc:
        if storage_error(exc, store.root):
            raise RunStorageError(store.root, exc) from exc
        raise
    finally:
        close = getattr(executor, "close", None)
        if owned and close is not None:
            close()
    return report


def _warn_duplicates(plan: Plan, store: RunStore) -> None:
    """Say when a generator's clips repeat each other: means, std and n count them once."""
    wanted = {(r.prompt_id, r.sample) for r in plan.requests}
    gens = {k: r for k, r in store.generations().items() if (k[1], k[2]) in wanted}
    repeats = duplicate_clips(gens)
    for label in plan.generators:
        n_dup = sum(k[0] == label for k in repeats)
        if n_dup:
            n = sum(k[0] == label and r["status"] == "ok" for k, r in gens.items())
            log.warning("%s: %d of %d clips repeat another of its clips pixel for pixel (the "
                        "seed changed nothing for those prompts); clip metrics count each "
                        "distinct clip once (n = %d), set metrics such as FVD see all %d",
                        label, n_dup, n, n - n_dup, n)


def _generation_fingerprint(plan: Plan, label: str) -> str:
    """What makes a clip: the generator's identity and the video settings it is stored with."""
    return _digest([plan.generators[label].fingerprint, plan.resolved.suite.video.crf])


def _refuse_conflicting_clips(plan: Plan, store: RunStore) -> None:
    """Refuse, before writing anything, a folder whose clips were made another way.

    A run may be extended (more prompts, more samples, other metrics), but a clip already on
    disk for the same (generator, prompt, sample) with another seed or other generator options
    would be silently mixed with the new ones.
    """
    done = store.generations()
    if not done:
        return
    for label in plan.generators:
        fingerprint = _generation_fingerprint(plan, label)
        for request in plan.requests:
            record = done.get((label, request.prompt_id, request.sample))
            if not record or record["status"] != "ok":
                continue
            if record.get("seed") != request.seed or record.get("spec") != fingerprint:
                what = "seed" if record.get("seed") != request.seed else "generator options"
                raise ConfigError(
                    f"output folder '{store.root}' holds a clip of {label} / '{request.prompt}' "
                    f"#{request.sample} made with another {what}; use --out to choose "
                    "another folder"
                )


def _save(records: list[dict[str, Any]], append: Any, report: RunReport, kind: str) -> None:
    """Append work records and count them; failures are logged with their message."""
    for record in records:
        append(record)
        ok = record["status"] == "ok"
        field = f"{kind}_{'made' if ok else 'failed'}"
        setattr(report, field, getattr(report, field) + 1)
        if not ok:
            what = record.get("metric", "generate")
            log.error("%s %s / %s #%d: %s", what, record["generator"], record["prompt"],
                      record["sample"], record["error"])


def _generate(plan: Plan, store: RunStore, executor: Executor, report: RunReport,
              progress: bool) -> None:
    done = store.generations()
    tasks: list[GenerateTask] = []
    crf = plan.resolved.suite.video.crf
    for label, spec in plan.generators.items():
        fingerprint = _generation_fingerprint(plan, label)
        missing = []
        for request in plan.requests:
            record = done.get((label, request.prompt_id, request.sample))
            if record and record["status"] == "ok" and store.clip_file(record).is_file():
                report.clips_reused += 1
            else:
                missing.append(request)
        # A generator whose batch size is an option (diffusers: what fits the GPU) says so in
        # its options; others declare it on the class.
        batch = max(1, int(spec.options.get("batch_size")
                           or getattr(registry.load("generator", spec.name), "batch_size", 1)))
        for i in range(0, len(missing), batch):
            chunk = tuple(missing[i: i + batch])
            paths = tuple(store.clip_relpath(label, r.prompt_id, r.sample) for r in chunk)
            tasks.append(GenerateTask(label, spec, chunk, paths, crf, str(store.root),
                                      fingerprint))
    total = sum(len(t.requests) for t in tasks)
    if report.clips_reused:
        log.info("reusing %d clips already on disk", report.clips_reused)
    if not total:
        return
    from evalkit.progress import progress_hook

    with _progress(total, "generate", progress) as bar:
        # A batching generator reports clips done inside a batch (in this process; a pool's
        # workers cannot), so the bar moves per clip rather than once per batch of 16.
        advanced = 0

        def advance(n: float) -> None:
            nonlocal advanced
            advanced += int(n)
            bar.update(int(n))

        with progress_hook(advance):
            for _task, records in executor.map(run_generate_task, tasks):
                _save(records, store.add_generation, report, "clips")
                bar.update(max(0, len(records) - advanced))
                advanced = 0


def _score(plan: Plan, store: RunStore, executor: Executor, report: RunReport,
           progress: bool) -> None:
    if not plan.clip_metrics:
        return
    gens = store.generations()
    done = store.results()
    tasks: list[ScoreTask] = []
    for label in plan.generators:
        for request in plan.requests:
            record = gens.get((label, request.prompt_id, request.sample))
            if not record or record["status"] != "ok":
                continue
            missing = []
            for name, spec in plan.clip_metrics.items():
                if not plan.scores_prompt(name, request.prompt_id):
                    continue
                result = done.get((label, request.prompt_id, request.sample, name))
                if result and result["status"] == "ok" and result.get("spec") == spec.fingerprint:
                    report.scores_reused += 1
                else:
                    missing.append(spec)
            if missing:
                tasks.append(ScoreTask(label, request, str(store.clip_file(record)),
                                       tuple(missing), plan.probes.get(request.prompt_id),
                                       plan.auxiliary.get(request.prompt_id)))
    if report.scores_reused:
        log.info("reusing %d scores already on disk", report.scores_reused)
    if not tasks:
        return
    with _progress(len(tasks), "score", progress) as bar:
        for _task, records in executor.map(run_score_task, tasks):
            _save(records, store.add_result, report, "scores")
            bar.update(1)


def _score_sets(plan: Plan, store: RunStore, report: RunReport) -> None:
    """Set metrics (FVD-like): one result per generator against the reference set.

    A stored result is reused only when its inputs are the same: the metric, the reference
    spec, and the exact list of this plan's clips (a clip regenerated after a failure, or a
    run extended with more prompts, recomputes it).
    """
    if not plan.set_metrics:
        return
    done = store.results()
    gens = store.generations()
    reference_spec = plan.resolved.suite.reference
    ref_json = reference_spec.model_dump(mode="json") if reference_spec else None
    todo = []
    for label in plan.generators:
        records = [gens.get((label, r.prompt_id, r.sample)) for r in plan.requests]
        clips = [r for r in records if r and r["status"] == "ok"]
        for name, spec in plan.set_metrics.items():
            fingerprint = _digest([spec.fingerprint, ref_json, plan.resolved.suite.samples_per_prompt,
                                   [(r["path"], r.get("spec")) for r in clips]])
            stored = done.get((label, SET_PROMPT_ID, -1, name), {})
            if stored.get("status") == "ok" and stored.get("spec") == fingerprint:
                report.scores_reused += 1
            else:
                todo.append((label, name, spec, clips, fingerprint))
    if not todo:
        return
    from evalkit.video import VideoFile

    reference = load_reference(plan)
    for label, name, spec, clips, fingerprint in todo:
        base = {"generator": label, "prompt_id": SET_PROMPT_ID, "prompt": "", "sample": -1,
                "seed": None, "metric": name, "spec": fingerprint}
        start = time.perf_counter()
        try:
            metric = _instance(spec)
            metric.reset()
            if hasattr(metric, "bind_reference"):
                metric.bind_reference(reference_spec.kind)
            # Files, not decoded clips, for a metric that streams (I3D FVD reads only the frames
            # it uses, at model size); decoded clips for every other set metric.
            streams = getattr(metric, "streams_files", False)
            metric.update(reference if streams else _as_clips(reference), real=True)
            files = [VideoFile(store.clip_file(r)) for r in clips]
            metric.update(files if streams else _as_clips(files), real=False)
            values = _check_values(name, metric.compute(), metric.primary)
            record = {**base, "status": "ok", "values": values,
                      "time_s": round(time.perf_counter() - start, 6)}
        except Exception as exc:  # noqa: BLE001
            record = {**base, "status": "error", "error": _describe(exc)}
        _save([record], store.add_result, report, "scores")


def _as_clips(items: Any) -> Any:
    """Decoded clips for a set metric that takes clips (files are read; statistics pass as is)."""
    from evalkit.video import VideoFile

    if not isinstance(items, list):
        return items
    return [item.read() if isinstance(item, VideoFile) else item for item in items]


def load_reference(plan: Plan) -> Any:
    """The suite's reference set: world renders of its prompts (clips), a folder's videos (as
    :class:`~evalkit.video.VideoFile` handles, decoded by whoever streams them), or precomputed
    :class:`~evalkit.metrics.video_features.stats.ReferenceStats`."""
    ref = plan.resolved.suite.reference
    assert ref is not None
    if ref.kind == "folder":
        from evalkit.video import VideoFile, find_videos

        return [VideoFile(p) for p in find_videos(ref.path)]
    if ref.kind == "stats":
        from evalkit.metrics.video_features.stats import load_stats

        return load_stats(ref.path)
    from evalkit.generators.world import WorldGenerator

    world = WorldGenerator()
    clips = []
    # Same N as the generated side by default: FVD is biased by N.
    per_prompt = ref.samples_per_prompt or plan.resolved.suite.samples_per_prompt
    for prompt in plan.resolved.prompts:
        for s in range(per_prompt):
            clips.append(world.generate(GenerationRequest(
                prompt=prompt.text, prompt_id=prompt.id or "", sample=s, seed=ref.seed + s,
                scene=prompt.scene)))
    return clips


# ----------------------------------------------------------------------------------------------
# Summaries
# ----------------------------------------------------------------------------------------------


def write_summary(plan: Plan, store: RunStore, label: str, run_info: dict[str, Any]) -> dict:
    """Aggregate everything on disk for one generator into ``summary/GEN.json``."""
    gens = [r for (g, _, _), r in store.generations().items() if g == label]
    wanted = {(r.prompt_id, r.sample) for r in plan.requests}
    gens = [r for r in gens if (r["prompt_id"], int(r["sample"])) in wanted]
    ok = [r for r in gens if r["status"] == "ok"]
    # Only this plan's items, scored by this plan's metric settings: a run folder extended
    # with more prompts or re-scored with other options keeps the other lines for the record.
    wanted_results = wanted | {(SET_PROMPT_ID, -1)}
    results = {
        key: r for key, r in store.results().items()
        if key[0] == label and (key[1], key[2]) in wanted_results
    }
    repeats = duplicate_clips({(r["generator"], r["prompt_id"], int(r["sample"])): r
                               for r in gens})
    metrics: dict[str, Any] = {}
    vbench_rows: list[dict[str, Any]] = []  # VBench dimensions' records, for its aggregates
    for name in [*plan.clip_metrics, *plan.set_metrics]:
        is_set = name in plan.set_metrics
        spec = plan.set_metrics[name] if is_set else plan.clip_metrics[name]
        rows = [r for (g, p, smp, m), r in results.items() if m == name
                and (g, p, smp) not in repeats]
        if not is_set:
            rows = [r for r in rows if r.get("spec") == spec.fingerprint]
        values = [r["values"] for r in rows if r["status"] == "ok"]
        if "vbench_dimension" in plan.metric_info[name]:
            vbench_rows.extend(rows)
        entry: dict[str, Any] = {
            **plan.metric_info[name],
            "n": len(values),
            "n_errors": sum(r["status"] != "ok" for r in rows),
        }
        if is_set:
            entry["value"] = values[-1] if values else None
        else:
            entry["summary"] = _instance(spec).summarize(values) if values else {}
        metrics[name] = entry
    gen_times = [float(r.get("time_s", 0.0)) for r in ok]
    score_times: dict[str, float] = {}
    for (_, _, _, m), r in results.items():
        if r["status"] == "ok":
            score_times[m] = score_times.get(m, 0.0) + float(r.get("time_s", 0.0))
    summary = {
        "generator": label,
        "generator_info": plan.generator_info[label],
        "suite": run_info["suite"],
        "config_hash": run_info["config_hash"],
        "generation_hash": run_info["generation_hash"],
        "config": run_info["config"],
        "n_prompts": len(plan.resolved.prompts),
        "samples_per_prompt": plan.resolved.suite.samples_per_prompt,
        "n_clips": len(ok),
        "n_clips_failed": len(gens) - len(ok),
        "n_clips_duplicate": len(repeats),
        "metrics": metrics,
        "timings": {
            "generation_s_total": round(sum(gen_times), 4),
            "generation_s_per_clip": round(sum(gen_times) / len(gen_times), 6) if gen_times
            else None,
            "scoring_s_total": {m: round(t, 4) for m, t in sorted(score_times.items())},
        },
        "evalkit_version": evalkit.__version__,
        "versions": run_info["versions"],
        "git": run_info["git"],
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if vbench_rows:
        summary["vbench"] = _vbench_results(plan, store, label, gens, vbench_rows)
    write_json_atomic(store.summary_path(label), summary)
    return summary


def _vbench_results(plan: Plan, store: RunStore, label: str, gens: list[dict[str, Any]],
                    rows: list[dict[str, Any]]) -> dict[str, Any]:
    """VBench's Quality / Semantic / Total for one generator (the dimensions not computed
    named), and its ``vbench/GEN_eval_results.json`` (per video: the clip file's path)."""
    from evalkit.metrics.vbench.aggregate import (dimension_results, eval_results, vbench_scores,
                                                  write_eval_results)

    clips = {(r["prompt_id"], int(r["sample"])): r for r in gens if r["status"] == "ok"}

    def video(record: dict[str, Any]) -> str:
        gen = clips.get((record["prompt_id"], int(record["sample"])))
        return str(store.clip_file(gen)) if gen else f"{record['prompt_id']}-{record['sample']}"

    per_dim = dimension_results(plan.metric_info, rows, video)
    path = store.root / "vbench" / f"{safe_name(label)}_eval_results.json"
    write_eval_results(path, eval_results(per_dim))
    scores = vbench_scores({d: agg for d, (agg, _) in per_dim.items()})
    scores["dimensions"] = {d: agg for d, (agg, _) in per_dim.items()}
    run = {plan.metric_info[r["metric"]]["vbench_dimension"] for r in rows}
    scores["run_without_value"] = sorted(d for d in run if d not in per_dim)
    scores["eval_results"] = str(path.relative_to(store.root))
    return scores


# ----------------------------------------------------------------------------------------------
# Provenance helpers
# ----------------------------------------------------------------------------------------------

_VERSIONED = ("evalkit", "numpy", "scipy", "torch", "av", "pydantic", "pandas",
              "transformers", "torchmetrics")


def package_versions(names: Iterable[str] = _VERSIONED) -> dict[str, str]:
    """Installed versions (read from metadata, so nothing heavy is imported)."""
    out = {"python": sys.version.split()[0]}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_info() -> dict[str, Any]:
    """Commit of the evalkit source tree (None when installed from a wheel), and dirtiness."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                    cwd=here, capture_output=True, text=True, timeout=5,
                                    check=True).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


class _NullBar:
    def __enter__(self) -> _NullBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None


def _progress(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return _NullBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="clip", leave=True, dynamic_ncols=True,
                file=sys.stderr)

