"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Bad input: a wrong flag, file, name or URL. Shown without a traceback."""

    exit_code = 2
