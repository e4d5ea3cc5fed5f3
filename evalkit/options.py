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
    """
    updates = {}
    for name, field in type(options).model_fields.items():
        value = getattr(options, name)
        if isinstance(value, Path) and _is_path_annotation(field.annotation):
            if not value.is_absolute():
                updates[name] = (base_dir / value).resolve()
    return options.model_copy(update=updates) if updates else options
