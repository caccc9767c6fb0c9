"""The one error of the data layer: a dataset or file that cannot be used."""

from __future__ import annotations

from hpsearch.errors import UserError


class DatasetError(UserError):
    """A missing, malformed or untrusted dataset file; the message names the file and problem."""
