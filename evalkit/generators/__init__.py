"""Generators: the protocol and evalkit's built-in generators (``world``, ``folder``)."""

from evalkit.generators.base import GenerationRequest, Generator

__all__ = ["GenerationRequest", "Generator"]
