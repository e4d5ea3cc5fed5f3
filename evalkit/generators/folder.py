"""``folder``: clips made by any external model, read from a folder.

Which file belongs to which prompt and sample comes from, in order:

1. a mapping file (``mapping:``): CSV with columns ``file,prompt[,sample]``, or JSON/YAML as a
   list of ``{file, prompt, sample}`` or a ``{file: prompt}`` mapping;
2. VBench's naming, ``{prompt}-{index}.mp4`` (any video extension), also with the prompt id
   instead of the text, and ``{prompt}.mp4`` for sample 0.

Files are copied into the run folder verbatim (never re-encoded), so metrics and detectors
see exactly the bytes the model produced.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from evalkit.clip import Clip
from evalkit.generators.base import GenerationRequest, Generator
from evalkit.video import VIDEO_EXTENSIONS


class FolderOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path = Field(description="folder holding the clips (relative to the suite file)")
    mapping: Path | None = Field(default=None, description="CSV/JSON/YAML file -> prompt map")
    model_label: str = Field(default="", description="what made the clips, for the record")


class FolderGenerator(Generator):
    name = "folder"
    description = "clips made by any model, from a folder (VBench '{prompt}-{index}.mp4' naming)"
    version = "1"
    Options = FolderOptions

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self._index: dict[tuple[str, int], Path] | None = None

    # -- lookup ----------------------------------------------------------------------------
    def _files(self) -> dict[tuple[str, int], Path]:
        """(prompt text or id, sample) -> file, built once."""
        if self._index is not None:
            return self._index
        folder = self.options.path
        index: dict[tuple[str, int], Path] = {}
        if self.options.mapping is not None:
            for file, prompt, sample in _read_mapping(self.options.mapping):
                path = Path(file) if Path(file).is_absolute() else folder / file
                index[(prompt, sample)] = path
        else:
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() not in VIDEO_EXTENSIONS or not path.is_file():
                    continue
                stem = path.stem
                head, sep, tail = stem.rpartition("-")
                if sep and tail.isdigit():
                    index.setdefault((head, int(tail)), path)
                index.setdefault((stem, 0), path)
        self._index = index
        return index

    def _lookup(self, request: GenerationRequest) -> Path | None:
        files = self._files()
        for key in (request.prompt, request.prompt_id):
            path = files.get((key, request.sample))
            if path is not None:
                return path
        return None

    # -- protocol --------------------------------------------------------------------------
    def check(self, requests: Sequence[GenerationRequest]) -> list[str]:
        folder = self.options.path
        if not folder.is_dir():
            return [f"folder '{folder}' does not exist"]
        if self.options.mapping is not None and not self.options.mapping.is_file():
            return [f"mapping file '{self.options.mapping}' does not exist"]
        try:
            self._files()
        except ValueError as exc:
            return [str(exc)]
        problems = []
        for request in requests:
            path = self._lookup(request)
            if path is None:
                problems.append(
                    f"no clip in '{folder}' for prompt '{request.prompt}' sample "
                    f"{request.sample} (looked for '{request.prompt}-{request.sample}.mp4')"
                )
            elif not path.is_file():
                problems.append(f"mapped file '{path}' does not exist")
        return problems

    def source_file(self, request: GenerationRequest) -> Path | None:
        path = self._lookup(request)
        if path is None:
            raise FileNotFoundError(
                f"no clip for prompt '{request.prompt}' sample {request.sample}"
            )
        return path

    def generate(self, request: GenerationRequest) -> Clip:
        from evalkit.video import read_video

        path = self.source_file(request)
        assert path is not None
        return read_video(path).with_metadata(prompt=request.prompt, seed=request.seed)


def _read_mapping(path: Path) -> list[tuple[str, str, int]]:
    """Rows ``(file, prompt, sample)`` of a mapping file; ValueError names what is wrong."""
    text = path.read_text(encoding="utf-8")
    rows: list[tuple[str, str, int]] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or not {"file", "prompt"} <= set(reader.fieldnames):
            raise ValueError(f"mapping '{path}' needs CSV columns 'file' and 'prompt'")
        for row in reader:
            rows.append((row["file"], row["prompt"], int(row.get("sample") or 0)))
        return rows
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError):
        raise ValueError(f"mapping '{path}' is not valid JSON/YAML") from None
    if isinstance(data, dict):
        return [(str(f), str(p), 0) for f, p in data.items()]
    if isinstance(data, list):
        for entry in data:
            if not isinstance(entry, dict) or "file" not in entry or "prompt" not in entry:
                raise ValueError(f"mapping '{path}': every entry needs 'file' and 'prompt'")
            rows.append((str(entry["file"]), str(entry["prompt"]), int(entry.get("sample", 0))))
        return rows
    raise ValueError(f"mapping '{path}' must be a CSV, a list of entries or a file->prompt map")
