"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""

import re

UPGRADE_COMMAND = "hpsearch db upgrade"  # the one step that migrates every schema


class UserError(Exception):
    """Bad input: a wrong flag, file, name or URL. Shown without a traceback."""

    exit_code = 2


class OutdatedSchema(UserError):
    """A database whose schema is not at the head its code expects; only the command fixes it."""

    def __init__(self, what: str, where: str, revision: str | None, head: str) -> None:
        state = f"has no {what} tables" if revision is None else f"is at revision {revision}"
        super().__init__(f"the {what} database at {where} {state}, expected {head}: "
                         f"run `{UPGRADE_COMMAND}`")  # fmt: skip


MAX_SHOWN_CHARS = 200  # an echoed value is cut here: a message stays one readable line
MAX_MESSAGE_CHARS = 1000  # the whole error line, as a last resort


def error_line(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """An error message as the CLI prints it: one line, at most `limit` characters."""
    flat = " ".join(message[: limit * 2].split())
    return flat if len(flat) <= limit else f"{flat[: limit - 3]}..."


def shown(value: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """`repr(value)` for an error message, cut to `limit` characters.

    Never builds the whole repr of a large value: a list is cut after enough items, a string
    before it is quoted, so an alias bomb or a megabyte URL costs nothing to mention.
    """
    text = _bounded_repr(value, limit + 1)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _bounded_repr(value: object, limit: int) -> str:
    if isinstance(value, int) and value.bit_length() > 3 * limit:  # repr itself would be slow
        return f"<an integer of {value.bit_length()} bits>"
    if isinstance(value, str | bytes):
        return repr(value[:limit])
    if isinstance(value, list | tuple | set | frozenset | dict):
        items = value.items() if isinstance(value, dict) else value
        parts: list[str] = []
        size = 0
        for item in items:
            if size > limit:
                break
            if isinstance(item, tuple) and isinstance(value, dict):
                part = f"{_bounded_repr(item[0], limit)}: {_bounded_repr(item[1], limit)}"
            else:
                part = _bounded_repr(item, limit)
            parts.append(part)
            size += len(part) + 2
        brackets = "{}" if isinstance(value, dict | set | frozenset) else "[]"
        if isinstance(value, tuple):
            brackets = "()"
        return brackets[0] + ", ".join(parts) + brackets[1]
    return repr(value)[:limit]


# scheme://user:password@ as typed: the password runs to the LAST '@' (a host has none), so an
# unencoded '/', '#', '?' or '@' in it is still found, where urlsplit would stop early.
CREDENTIALS = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*):(?P<password>.*)@")


def mask_password(url: str) -> str:
    """`postgresql://u:secret@h/db` -> `postgresql://u:***@h/db`, from the text as typed."""
    return CREDENTIALS.sub(lambda m: f"{m['head']}:***@", url, count=1)
