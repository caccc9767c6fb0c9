"""The folders hpsearch writes into (HPSEARCH_HOME, `train --out`), checked before anything is
written: a path that is too long, a regular file where a folder should be, a read-only or full
file system each get one line naming the folder, not an OSError traceback half-way through."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from hpsearch.errors import UserError, shown

MAX_NAME = 255  # one folder or file name (NAME_MAX on Linux)
MAX_PATH = 4000  # the whole path, with room for the file names hpsearch adds (PATH_MAX 4096)
MIN_FREE_BYTES = 1024**2  # less than this free, the first SQLite write fails "disk is full"


def check_writable_folder(path: Path, what: str) -> None:
    """UserError unless `path` is a folder that can be written, or one that can be created."""
    absolute = Path(os.path.abspath(path))
    if len(str(absolute)) > MAX_PATH or any(len(part) > MAX_NAME for part in absolute.parts):
        raise UserError(
            f"{what} {shown(str(path), 120)}: path too long (at most {MAX_NAME} characters "
            f"per name and {MAX_PATH} in all)"
        )
    existing = next(p for p in (absolute, *absolute.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        where = "" if existing == absolute else f" ({existing} is a file)"
        raise UserError(f"{what} {path}: not a folder{where}")
    if not os.access(existing, os.W_OK | os.X_OK):
        problem = "is read-only" if existing == absolute else f"cannot be created in {existing}"
        raise UserError(f"{what} {path} {problem} (not writable)")
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        raise UserError(f"{what} {path}: the disk is full ({free} bytes free)")


def uses_home(settings: object) -> bool:
    """False when every store and the artifacts are elsewhere (the service layout)."""
    names = ("database_url", "storage_url", "tracking_uri", "artifacts_destination")
    return not all(getattr(settings, name) for name in names)


# What the file system or SQLite says when a place cannot take a write, and what it means.
_ERRNOS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
           errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
           errno.EPERM: "permission denied", errno.ENAMETOOLONG: "path too long",
           errno.EFBIG: "file too large"}  # fmt: skip
_SQLITE = {"database or disk is full": "the disk is full",
           "attempt to write a readonly database": "read-only database file",
           "unable to open database file": "cannot open or create the database file"}  # fmt: skip


def write_failure(exc: BaseException) -> str | None:
    """One line for an exception (or its cause) saying a place could not be written; None
    when it is something else (a bug keeps its traceback)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _ERRNOS:
            where = f"{seen.filename}: " if seen.filename else ""
            return f"{where}cannot write: {_ERRNOS[seen.errno]}"
        for phrase, meaning in _SQLITE.items():
            if isinstance(seen, sqlite3.Error) and phrase in str(seen):
                return f"a SQLite store cannot be written: {meaning} ({phrase})"
        seen = seen.__cause__ or seen.__context__
    return None


def cache_root() -> Path:
    """hpsearch's user cache: `$XDG_CACHE_HOME/hpsearch`, else `~/.cache/hpsearch`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hpsearch"
