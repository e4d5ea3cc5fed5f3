"""Shared fixtures. Real camera clips come from ../shared/data/real_videos (never copied)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def real_videos_dir() -> Path:
    return Path(os.environ.get("EVALKIT_REAL_VIDEOS",
                               REPO.parent / "shared" / "data" / "real_videos"))


@pytest.fixture
def real_videos() -> Path:
    folder = real_videos_dir()
    if not (folder / "manifest.tsv").is_file():
        pytest.skip(f"real camera clips not found at {folder} (set EVALKIT_REAL_VIDEOS)")
    return folder


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test with the temporary folder as the current directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def hub_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Hugging Face hub: models load from the folders the tests build, or fail as offline."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
