"""Options models shared by generators and metrics, and resolution of relative paths in them."""

from __future__ import annotations

import typing
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class NoOptions(BaseModel):
    """Options model of a component that takes none (unknown keys are refused)."""

    model_config = ConfigDict(extra="forbid")


def _is_path_annotation(annotation: object) -> bool:
    if annotation is Path:
        return True
    return any(_is_path_annotation(arg) for arg in typing.get_args(annotation))


def resolve_relative_paths(options: BaseModel, base_dir: Path) -> BaseModel:
    """A copy of ``options`` whose relative ``Path`` fields are made absolute from ``base_dir``.

    Suites say paths relative to the suite file, so a run does not depend on the caller's cwd.
    A ``str`` field marked ``json_schema_extra={"relative_path": "if_exists"}`` (a hub id *or*
    a folder, like the diffusers generator's ``model``) is resolved only when that path exists
    next to the suite, so ``THUDM/CogVideoX-2b`` stays a hub id.
    """
    updates: dict[str, object] = {}
    for name, field in type(options).model_fields.items():
        value = getattr(options, name)
        if isinstance(value, Path) and _is_path_annotation(field.annotation):
            if not value.is_absolute():
                updates[name] = (base_dir / value).resolve()
        elif isinstance(value, str) and value and _path_if_exists(field):
            candidate = Path(value).expanduser()
            if not candidate.is_absolute() and (base_dir / candidate).exists():
                updates[name] = str((base_dir / candidate).resolve())
    return options.model_copy(update=updates) if updates else options


def _path_if_exists(field: object) -> bool:
    extra = getattr(field, "json_schema_extra", None)
    return isinstance(extra, dict) and extra.get("relative_path") == "if_exists"
