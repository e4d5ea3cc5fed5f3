"""Errors a user can act on. The CLI turns these into one line and exit code 2."""

from __future__ import annotations


class EvalkitError(Exception):
    """Base of errors whose message is meant for the user, not a traceback."""


class ConfigError(EvalkitError):
    """A suite, option or command-line value is invalid; nothing has been written."""


class UnknownComponentError(ConfigError):
    """A generator or metric name is not in the registry."""
