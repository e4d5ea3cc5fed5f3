"""The generator protocol: prompts and seeds in, :class:`~evalkit.clip.Clip` out.

A generator class declares ``name``, ``description``, ``version`` and an ``Options`` pydantic
model (the ``options:`` mapping of a suite entry, validated before anything runs). The runner
calls :meth:`Generator.check` at validation time and :meth:`Generator.generate_batch` to work.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from evalkit.clip import Clip
from evalkit.options import NoOptions


@dataclasses.dataclass(frozen=True)
class GenerationRequest:
    """One clip to make.

    Attributes:
        prompt: the text prompt.
        prompt_id: stable id of the prompt within the suite (used in file names).
        sample: index of the sample for this prompt (0-based).
        seed: the seed to sample with; the same request must give the same clip.
        scene: the prompt's physics-world ``SceneSpec`` when the suite has one, else None.
    """

    prompt: str
    prompt_id: str
    sample: int
    seed: int
    scene: Any = None


class Generator(abc.ABC):
    """Base class of text-to-video generators (see the module docstring)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    Options: ClassVar[type[BaseModel]] = NoOptions
    #: How many requests :meth:`generate_batch` takes at once (runner groups work by this).
    batch_size: ClassVar[int] = 1

    def __init__(self, **options: Any) -> None:
        self.options = self.Options(**options)

    def check(self, requests: Sequence[GenerationRequest]) -> list[str]:
        """Problems that would make requests fail, found before any work (one message each)."""
        return []

    @abc.abstractmethod
    def generate(self, request: GenerationRequest) -> Clip:
        """Make one clip. Raise an exception with a clear message when it cannot."""

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Clip]:
        """Make several clips; override when batching is faster (one forward pass)."""
        return [self.generate(r) for r in requests]

    def source_file(self, request: GenerationRequest) -> Path | None:
        """An existing file that *is* the clip (copied verbatim instead of re-encoded)."""
        return None

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "options": self.options.model_dump(mode="json"),
        }
