"""Errors of the engine: bad configuration and unreadable or untrusted model files."""

from __future__ import annotations

from hpsearch.errors import UserError


class ConfigError(UserError, ValueError):
    """A bad architecture or optimizer setting (an unknown name, a value out of range).

    A `ValueError` for programmers and a `UserError` for the CLI, which prints it on one line.
    """


class ModelFileError(UserError):
    """A saved model that cannot be trusted or read; the message names the file and the problem."""
