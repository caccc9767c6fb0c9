"""Cross-process locks on a database: PostgreSQL advisory locks, SQLite file locks.

`hpsearch db upgrade` may run from several containers or shells at once (every `migrate`
service start, a laptop, CI). Each takes the lock of the database it migrates, checks the
schema version *inside* the lock, and only the first one finds work to do. The trial pool's
top-ups take a lock of their own the same way (see hpsearch/study/pool.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from hpsearch import stores

MIGRATION_LOCK = "hpsearch db upgrade"


def _advisory_key(name: str) -> int:
    """A 63-bit key per lock name: advisory locks are scoped to one database."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1


def migration_lock(engine: sa.Engine) -> contextlib.AbstractContextManager[None]:
    """Hold an exclusive, cross-process lock on `engine`'s database for the duration."""
    return database_lock(engine, MIGRATION_LOCK)


@contextmanager
def database_lock(engine: sa.Engine, name: str) -> Iterator[None]:
    """Hold the exclusive, cross-process lock `name` of `engine`'s database for the duration.

    A process that dies holding it releases it (its connection or file closes)."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, _advisory_key(name)):
            yield
        return
    path = stores.sqlite_path(engine.url)
    if path is None:  # in-memory SQLite is private to this process; other backends: no lock
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".lock" if name == MIGRATION_LOCK else f".{_advisory_key(name):x}.lock"
    with _file_lock(path.with_name(path.name + suffix)):
        yield


@contextmanager
def _advisory_lock(engine: sa.Engine, key: int) -> Iterator[None]:
    # Session-level lock on a connection of its own: the transactions under it may commit
    # and open new connections without releasing it.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed, even on a crash
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
