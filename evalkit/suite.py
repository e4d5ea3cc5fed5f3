"""The ``suite.yaml`` schema: one file is the whole experiment.

A suite says which prompts (inline, from a file, or a built-in set), how many samples per
prompt and with which seeds, which generators with which options, which metrics with which
options, the reference set for distribution metrics, and where the run folder goes::

    name: quickstart
    prompts:
      builtin: quickstart          # or  file: prompts.txt   or  inline: ["a red ball falls"]
    samples_per_prompt: 2
    seed: 0                        # sample i of every prompt uses seed + i (or list `seeds:`)
    generators:
      - name: world
    metrics:
      - name: temporal_flickering
      - name: motion_magnitude
    output: runs/quickstart

Paths inside the suite (prompt files, folders in options) are relative to the suite file;
``output`` is relative to the current directory, like the ``--out`` flag that overrides it.

:func:`load_suite` validates everything that can be checked before work starts and raises
:class:`~evalkit.errors.ConfigError` with a one-line message naming the offending key.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evalkit.errors import ConfigError
from evalkit.world import SceneSpec

__all__ = [
    "GeneratorEntry",
    "MetricEntry",
    "PromptItem",
    "ReferenceSpec",
    "ResolvedSuite",
    "Suite",
    "load_suite",
    "prompt_id_for",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PromptItem(_Strict):
    """One prompt: its text, and optionally its world scene spec and the probe to apply."""

    text: str = Field(min_length=1)
    id: str | None = None
    scene: SceneSpec | None = None
    probe: str | None = None
    #: VBench's dimensions this prompt is meant for, and its auxiliary_info (from an import of
    #: VBench_full_info.json), kept with the run's config for the metrics that need them.
    dimensions: list[str] | None = None
    auxiliary_info: dict[str, Any] | None = None


class PromptsFromFile(_Strict):
    """Prompts from a file: plain text (one prompt per line, ``#`` comments), a YAML/JSON list of
    prompts, or VBench's ``VBench_full_info.json`` (``dimensions`` picks some of its dimensions).
    """

    file: Path
    limit: int | None = Field(default=None, ge=1)
    dimensions: list[str] | None = Field(default=None, min_length=1)


class PromptsBuiltin(_Strict):
    builtin: str
    limit: int | None = Field(default=None, ge=1)


class PromptsInline(_Strict):
    inline: list[PromptItem | str] = Field(min_length=1)


class GeneratorEntry(_Strict):
    name: str
    label: str | None = Field(default=None, description="unique name in results (default: name)")
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.label or self.name


class MetricEntry(_Strict):
    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class ReferenceSpec(_Strict):
    """The reference set that distribution metrics (FVD, KVD) compare against.

    ``world``: renders of the suite's prompts (the physics world); ``folder``: a folder of videos
    (e.g. real footage); ``stats``: statistics precomputed once by ``evalkit fvd-stats``.
    """

    kind: Literal["world", "folder", "stats"] = "world"
    path: Path | None = Field(default=None, description="folder of videos (kind: folder) or "
                                                        "statistics file (kind: stats)")
    samples_per_prompt: int | None = Field(
        default=None, ge=1, description="world renders per prompt (default: as the suite)")
    seed: int = 10_000

    @model_validator(mode="after")
    def _path_matches_kind(self) -> ReferenceSpec:
        if self.kind in ("folder", "stats") and self.path is None:
            raise ValueError(f"kind '{self.kind}' needs a 'path'")
        if self.kind == "world" and self.path is not None:
            raise ValueError("'path' is only used with kind 'folder'")
        return self


class ExecutorSpec(_Strict):
    """Where work items run: ``local`` (this process, or a pool of ``workers`` processes) or
    ``ray`` (``workers`` Ray actors with ``num_cpus``/``num_gpus`` each, on a private local
    instance or the cluster at ``address``). Not part of the config hash: the rows are the
    same whichever runs them, so a run may resume under another executor."""

    kind: Literal["local", "ray"] = "local"
    workers: int = Field(default=1, ge=1, le=4096)
    address: str | None = Field(default=None, description="ray: none (a private local "
                                "instance), 'auto', 'HOST:PORT' or 'ray://HOST:PORT'")
    num_cpus: float | None = Field(default=None, gt=0, description="ray: CPUs per worker (1)")
    num_gpus: float | None = Field(default=None, ge=0, description="ray: GPUs per worker (0)")

    @model_validator(mode="after")
    def _ray_only_keys(self) -> ExecutorSpec:
        if self.kind != "ray":
            given = [k for k in ("address", "num_cpus", "num_gpus") if getattr(self, k) is not None]
            if given:
                raise ValueError(f"'{given[0]}' is a setting of executor kind 'ray'")
        return self

    def options(self) -> dict[str, Any]:
        """The kind's own settings, for :func:`~evalkit.executor.make_executor`."""
        if self.kind != "ray":
            return {}
        out: dict[str, Any] = {"address": self.address}
        if self.num_cpus is not None:
            out["num_cpus"] = self.num_cpus
        if self.num_gpus is not None:
            out["num_gpus"] = self.num_gpus
        return out


class VideoSpec(_Strict):
    """How generated clips are stored (H.264 mp4)."""

    crf: int = Field(default=18, ge=0, le=51)


class Suite(_Strict):
    name: str = Field(default="suite", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    prompts: PromptsBuiltin | PromptsFromFile | PromptsInline | list[PromptItem | str]
    samples_per_prompt: int = Field(default=1, ge=1, le=10_000)
    seed: int = Field(default=0, ge=0)
    seeds: list[int] | None = None
    generators: list[GeneratorEntry] = Field(min_length=1)
    metrics: list[MetricEntry] = Field(default_factory=list)
    reference: ReferenceSpec | None = None
    output: str = "runs/{name}"
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)
    video: VideoSpec = Field(default_factory=VideoSpec)

    @field_validator("seeds")
    @classmethod
    def _seeds_non_empty(cls, seeds: list[int] | None) -> list[int] | None:
        if seeds is not None and (not seeds or len(set(seeds)) != len(seeds)):
            raise ValueError("must be a non-empty list of distinct integers")
        return seeds

    @model_validator(mode="after")
    def _consistent(self) -> Suite:
        if self.seeds is not None:
            if "samples_per_prompt" in self.model_fields_set and self.samples_per_prompt != len(
                self.seeds
            ):
                raise ValueError(
                    f"samples_per_prompt ({self.samples_per_prompt}) differs from the number "
                    f"of seeds ({len(self.seeds)}); give one or make them agree"
                )
            self.samples_per_prompt = len(self.seeds)
        keys = [g.key for g in self.generators]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"generator '{dupes[0]}' appears twice; give each a distinct 'label'")
        names = [m.name for m in self.metrics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"metric '{dupes[0]}' is listed twice")
        return self

    def seed_for(self, sample: int) -> int:
        return self.seeds[sample] if self.seeds is not None else self.seed + sample


class ResolvedSuite(BaseModel):
    """A validated suite with its prompts loaded and paths made absolute."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    suite: Suite
    prompts: list[PromptItem]
    source: Path | None
    output_dir: Path

    def config(self) -> dict[str, Any]:
        """The whole experiment as JSON-able data (prompts expanded), recorded in every run."""
        data = self.suite.model_dump(mode="json", exclude={"prompts"})
        data["prompts"] = [p.model_dump(mode="json", exclude_none=True) for p in self.prompts]
        return data

    def config_hash(self) -> str:
        """Hash of everything that changes results (not the output folder or executor)."""
        data = self.config()
        for key in ("output", "executor"):
            data.pop(key, None)
        return _hash(data)

    def generation_hash(self) -> str:
        """Hash of what determines the clips: prompts, samples, seeds, generators, video."""
        data = self.config()
        keep = ("prompts", "samples_per_prompt", "seed", "seeds", "generators", "video")
        return _hash({k: data.get(k) for k in keep})


def _hash(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


_SLUG = re.compile(r"[^a-z0-9]+")


def prompt_id_for(text: str) -> str:
    """A stable, file-name-safe id: a slug of the text plus a short hash of it."""
    slug = _SLUG.sub("-", text.lower()).strip("-")[:48].rstrip("-") or "prompt"
    return f"{slug}-{hashlib.sha1(text.encode()).hexdigest()[:6]}"


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------


def load_suite(
    source: str | Path | Mapping[str, Any],
    *,
    overrides: Mapping[str, Any] | None = None,
    output: str | Path | None = None,
    limit: int | None = None,
) -> ResolvedSuite:
    """Read, validate and resolve a suite; every problem is a one-line :class:`ConfigError`.

    Args:
        source: a YAML file path, or the suite as a mapping (paths then relative to cwd).
        overrides: dotted keys to set after reading (``{"samples_per_prompt": 2}``), as CLI
            flags do.
        output: the run folder, overriding the suite's ``output``.
        limit: use only the first ``limit`` prompts (whatever their source).
    """
    if isinstance(source, Mapping):
        raw, path, base_dir = dict(source), None, Path.cwd()
        label = "suite"
    else:
        path = Path(source)
        label = str(path)
        raw = _read_yaml(path)
        base_dir = path.resolve().parent
        raw.setdefault("name", path.stem)
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    try:
        suite = Suite.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{label}: {_format_validation_error(exc, Suite)}") from None

    prompts = _resolve_prompts(suite, base_dir, label)
    if limit is not None:
        if limit < 1:
            raise ConfigError(f"--limit must be at least 1, got {limit}")
        prompts = prompts[:limit]
    if suite.reference is not None and suite.reference.path is not None:
        ref_path = suite.reference.path
        if not ref_path.is_absolute():
            ref_path = (base_dir / ref_path).resolve()
        if suite.reference.kind == "folder" and not ref_path.is_dir():
            raise ConfigError(f"{label}: reference.path: folder '{ref_path}' does not exist")
        if suite.reference.kind == "stats":
            _check_stats_file(ref_path, label)
        suite.reference.path = ref_path

    out = Path(output) if output is not None else Path(suite.output.format(name=suite.name))
    return ResolvedSuite(suite=suite, prompts=prompts, source=path, output_dir=out.resolve())


def _check_stats_file(path: Path, label: str) -> None:
    """A statistics reference must be a readable evalkit stats file (checked before any work)."""
    from evalkit.metrics.video_features.stats import load_stats

    try:
        load_stats(path)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"{label}: reference.path: {exc}") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"suite file '{path}' does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys (name, prompts, generators, ...)")
    return data


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.0.c`` in nested mappings and lists; a path that cannot exist is a ConfigError."""
    node: Any = raw
    parts = dotted.split(".")
    try:
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(parts[-1])] = value
        elif isinstance(node, dict):
            node[parts[-1]] = value
        else:
            raise TypeError
    except (IndexError, ValueError, TypeError, AttributeError):
        raise ConfigError(f"--set {dotted}: no such key in the suite") from None


def _resolve_prompts(suite: Suite, base_dir: Path, label: str) -> list[PromptItem]:
    from evalkit.builtin_suites import BUILTIN_SUITES

    spec = suite.prompts
    limit = getattr(spec, "limit", None)
    if isinstance(spec, PromptsBuiltin):
        if spec.builtin not in BUILTIN_SUITES:
            close = difflib.get_close_matches(spec.builtin, BUILTIN_SUITES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(
                f"{label}: prompts.builtin: unknown built-in suite '{spec.builtin}'{hint}; "
                f"available: {', '.join(BUILTIN_SUITES)}"
            )
        items = BUILTIN_SUITES[spec.builtin].prompts()
    elif isinstance(spec, PromptsFromFile):
        file = spec.file if spec.file.is_absolute() else base_dir / spec.file
        items = _read_prompt_file(file, label, spec.dimensions)
    else:
        entries = spec.inline if isinstance(spec, PromptsInline) else spec
        items = [PromptItem(text=e) if isinstance(e, str) else e for e in entries]
    if limit is not None:
        items = items[:limit]
    if not items:
        raise ConfigError(f"{label}: prompts: no prompts found")
    resolved: list[PromptItem] = []
    seen: set[str] = set()
    for item in items:
        pid = item.id or prompt_id_for(item.text)
        if pid in seen:
            raise ConfigError(f"{label}: prompts: duplicate prompt '{item.text}' (id '{pid}')")
        seen.add(pid)
        resolved.append(item.model_copy(update={"id": pid}))
    return resolved


def _read_prompt_file(file: Path, label: str,
                      dimensions: list[str] | None = None) -> list[PromptItem]:
    if not file.is_file():
        raise ConfigError(f"{label}: prompts.file: file '{file}' does not exist")
    try:
        # utf-8-sig: a byte-order mark (Windows editors) is not part of the first prompt
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: prompts.file: cannot read '{file}': {exc}") from None
    if file.suffix.lower() in (".yaml", ".yml", ".json"):
        try:
            data = yaml.safe_load(text)  # JSON is a subset of YAML
        except yaml.YAMLError:
            raise ConfigError(f"{label}: prompts.file: '{file}' is not valid YAML/JSON") from None
        if not isinstance(data, list):
            raise ConfigError(f"{label}: prompts.file: '{file}' must hold a list of prompts")
        if data and all(isinstance(e, dict) and _VBENCH_KEYS & set(e) for e in data):
            return _vbench_prompts(data, file, label, dimensions)
    if dimensions is not None:
        raise ConfigError(f"{label}: prompts.dimensions: only a VBench_full_info.json file has "
                          f"dimensions; '{file}' is a plain prompt list")
    if file.suffix.lower() in (".yaml", ".yml", ".json"):
        try:
            return [
                PromptItem(text=e) if isinstance(e, str) else PromptItem.model_validate(e)
                for e in data
            ]
        except ValidationError as exc:
            raise ConfigError(
                f"{label}: prompts.file '{file}': {_format_validation_error(exc, PromptItem)}"
            ) from None
    lines = (line.strip() for line in text.splitlines())
    return [PromptItem(text=line) for line in lines if line and not line.startswith("#")]


_VBENCH_KEYS = {"prompt_en", "prompt"}


def _vbench_prompts(data: list[dict[str, Any]], file: Path, label: str,
                    dimensions: list[str] | None) -> list[PromptItem]:
    """Entries of VBench's ``VBench_full_info.json``: ``{"prompt_en": ..., "dimension": [...],
    "auxiliary_info": {...}}``, filtered to ``dimensions`` when given (in the file's order).

    A prompt listed under several entries (VBench repeats none, other exports do) is kept once,
    with the union of its dimensions.
    """
    by_text: dict[str, PromptItem] = {}
    for n, entry in enumerate(data):
        text = entry.get("prompt_en", entry.get("prompt"))
        dims = entry.get("dimension", [])
        dims = [dims] if isinstance(dims, str) else dims
        if not isinstance(text, str) or not text.strip() or not isinstance(dims, list):
            raise ConfigError(f"{label}: prompts.file '{file}': entry {n} needs a 'prompt_en' "
                              "text and a 'dimension' list (VBench_full_info.json format)")
        text = text.strip()
        aux = entry.get("auxiliary_info") if isinstance(entry.get("auxiliary_info"), dict) \
            else None
        item = by_text.get(text)
        if item is None:
            by_text[text] = PromptItem(text=text, dimensions=[str(d) for d in dims],
                                       auxiliary_info=aux)
        else:
            have = item.dimensions or []
            item.dimensions = [*have, *(str(d) for d in dims if str(d) not in have)]
            if aux:
                item.auxiliary_info = {**(item.auxiliary_info or {}), **aux}
    items = list(by_text.values())
    if dimensions is None:
        return items
    known = sorted({d for item in items for d in item.dimensions or []})
    for name in dimensions:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{label}: prompts.dimensions: '{name}' is not a dimension of "
                              f"'{file}'{hint}; it has: {', '.join(known)}")
    wanted = set(dimensions)
    return [item for item in items if wanted & set(item.dimensions or [])]


# ----------------------------------------------------------------------------------------------
# One-line validation messages
# ----------------------------------------------------------------------------------------------


def _format_validation_error(exc: ValidationError, model: type[BaseModel]) -> str:
    """The most useful pydantic error as ``key.path: what is wrong; expected ...``."""
    errors = exc.errors()
    # A union (prompts) reports one error per branch; prefer unknown/missing-key errors that
    # name a real key the user wrote over "input should be a list".
    def rank(err: dict[str, Any]) -> int:
        return {"extra_forbidden": 0, "missing": 1}.get(err["type"], 2)

    err = sorted(errors, key=rank)[0]
    loc = _format_loc(err["loc"])
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        allowed = _allowed_keys(model, err["loc"][:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        expected = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"{loc}: unknown key{hint}{expected}"
    if err["type"] == "missing":
        return f"{loc}: required key is missing"
    msg = err["msg"]
    msg = msg.removeprefix("Value error, ")
    return f"{loc}: {msg}" + (f" (got {err['input']!r})" if _short_input(err) else "")


def _short_input(err: dict[str, Any]) -> bool:
    value = err.get("input")
    return isinstance(value, (int, float, str, bool)) and len(repr(value)) <= 40


_BRANCH_TAGS = re.compile(r"^(PromptsBuiltin|PromptsFromFile|PromptsInline|list\[.*\]|str|.*\[.*\])$")


def _format_loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif _BRANCH_TAGS.match(str(part)):
            continue  # pydantic's name of a union branch, not a key the user wrote
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "suite"


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the sub-model at ``loc`` (best effort through lists and unions)."""
    candidates: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int) or _BRANCH_TAGS.match(str(part)):
            if _BRANCH_TAGS.match(str(part)):
                named = [m for m in _SUBMODELS if m.__name__ == str(part)]
                candidates = named or candidates
            continue
        nxt: list[type[BaseModel]] = []
        for cand in candidates:
            field = cand.model_fields.get(str(part))
            if field is not None:
                nxt.extend(_models_in(field.annotation))
        candidates = nxt
        if not candidates:
            return []
    keys: list[str] = []
    for cand in candidates:
        keys.extend(k for k in cand.model_fields if k not in keys)
    return keys


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out.extend(_models_in(arg))
    return out


_SUBMODELS: list[type[BaseModel]] = [PromptsBuiltin, PromptsFromFile, PromptsInline, PromptItem]
