"""The run folder: clips on disk, JSON lines of results, a summary per generator.

Layout::

    RUN_DIR/
      run.json                  the last invocation: resolved suite, hashes, versions, git
      clips/GEN/PROMPT_ID/S.mp4 one clip per (generator, prompt, sample)
      generations.jsonl         one line per clip made (or failed)
      results.jsonl             one line per (generator, prompt, sample, metric)
      summary/GEN.json          aggregates, config, versions, timings, N

Every line is appended and flushed at once, so an interrupted run loses at most the item in
flight; a half-written last line (power cut, kill -9) is ignored on reading and the next
append starts on a fresh line. The last line for a key wins, so retried items supersede
failed ones without rewriting the file.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalkit.errors import ConfigError
from evalkit.jsonutil import json_default
from evalkit.runlock import LOCK_FILE

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
GENERATIONS_FILE = "generations.jsonl"
RESULTS_FILE = "results.jsonl"
SET_PROMPT_ID = "*"  # results of set metrics (FVD) concern all prompts of a generator

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(name: str) -> str:
    """A file-system-safe version of a generator label or prompt id."""
    return _SAFE.sub("_", name).strip("._") or "_"


GenKey = tuple[str, str, int]  # (generator, prompt_id, sample)
ResultKey = tuple[str, str, int, str]  # (generator, prompt_id, sample, metric)


class RunStore:
    """Reads and appends the files of one run folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- paths -----------------------------------------------------------------------------
    @property
    def run_file(self) -> Path:
        return self.root / RUN_FILE

    @property
    def generations_file(self) -> Path:
        return self.root / GENERATIONS_FILE

    @property
    def results_file(self) -> Path:
        return self.root / RESULTS_FILE

    def summary_path(self, generator: str) -> Path:
        return self.root / "summary" / f"{safe_name(generator)}.json"

    def clip_relpath(self, generator: str, prompt_id: str, sample: int, ext: str = ".mp4") -> str:
        return f"clips/{safe_name(generator)}/{safe_name(prompt_id)}/{sample:03d}{ext}"

    # -- opening ---------------------------------------------------------------------------
    def open(self, run_info: dict[str, Any]) -> None:
        """Create the folder (or reuse an evalkit run folder) and record this invocation.

        Whether existing clips may be reused is decided per item by the runner (same seed,
        same generator options), so a run can be extended with more prompts or samples.
        """
        self.check_folder()
        self.root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.run_file, run_info)

    def check_folder(self) -> None:
        """Refuse a folder that is neither absent, empty, nor an evalkit run folder."""
        if self.run_file.exists():
            try:
                json.loads(self.run_file.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise ConfigError(f"{self.run_file}: unreadable run file ({exc})") from None
        elif self.root.exists() and any(p.name != LOCK_FILE for p in self.root.iterdir()):
            raise ConfigError(
                f"output folder '{self.root}' is not empty and holds no evalkit run; "
                "use --out to choose another folder"
            )

    def clip_file(self, record: dict[str, Any]) -> Path:
        """The clip of a generation record (paths are stored relative to the run folder)."""
        return self.root / record["path"]

    def read_run_info(self) -> dict[str, Any]:
        return json.loads(self.run_file.read_text())

    # -- records ---------------------------------------------------------------------------
    def append(self, path: Path, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, allow_nan=False, default=json_default)
        with open(path, "ab+") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":  # a previous writer died mid-line
                    fh.write(b"\n")
            fh.write(line.encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())

    def add_generation(self, record: dict[str, Any]) -> None:
        self.append(self.generations_file, record)

    def add_result(self, record: dict[str, Any]) -> None:
        self.append(self.results_file, record)

    def generations(self) -> dict[GenKey, dict[str, Any]]:
        """The latest record per (generator, prompt_id, sample)."""
        return {
            (r["generator"], r["prompt_id"], int(r["sample"])): r
            for r in read_jsonl(self.generations_file)
        }

    def results(self) -> dict[ResultKey, dict[str, Any]]:
        """The latest record per (generator, prompt_id, sample, metric)."""
        return {
            (r["generator"], r["prompt_id"], int(r["sample"]), r["metric"]): r
            for r in read_jsonl(self.results_file)
        }


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSON-lines file, skipping (and logging) damaged lines."""
    if not path.exists():
        return
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: skipping a damaged line (interrupted write?)", path, number)
                continue
            if isinstance(record, dict):
                yield record


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=json_default) + "\n")
    os.replace(tmp, path)


def duplicate_clips(generations: dict[GenKey, dict[str, Any]]) -> set[GenKey]:
    """Clips that repeat an earlier clip of the same generator pixel for pixel.

    Generation records carry ``content_sha256`` (of the frames made, or of the file copied);
    of each group of equal hashes the first (by prompt id, sample) counts, the others are
    duplicates. A generator that ignores the seed for a prompt (the ``world`` renders a
    plain-background scene the same for every seed) would otherwise be reported with N and a
    spread over copies. Records without a hash (older runs) are never duplicates.
    """
    first: dict[tuple[str, str], GenKey] = {}
    out: set[GenKey] = set()
    for key in sorted(generations):
        record = generations[key]
        digest = record.get("content_sha256")
        if record.get("status") != "ok" or not digest:
            continue
        if first.setdefault((key[0], digest), key) != key:
            out.add(key)
    return out
