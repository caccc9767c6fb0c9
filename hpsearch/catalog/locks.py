"""One migrator at a time per database: PostgreSQL advisory locks, SQLite file locks.

`hpsearch db upgrade` may run from several containers or shells at once (every `migrate`
service start, a laptop, CI). Each takes the lock of the database it migrates, checks the
schema version *inside* the lock, and only the first one finds work to do.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

# A fixed 63-bit key: advisory locks are scoped to one database, so one key serves all three.
_ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"hpsearch db upgrade").digest()[:8], "big") >> 1


def sqlite_path(url: sa.URL) -> Path | None:
    """The file behind a SQLite URL, or None for in-memory databases and other backends."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


@contextmanager
def migration_lock(engine: sa.Engine) -> Iterator[None]:
    """Hold an exclusive, cross-process lock on `engine`'s database for the duration."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine):
            yield
        return
    path = sqlite_path(engine.url)
    if path is None:  # in-memory SQLite is private to this process; other backends: no lock
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(path.with_name(path.name + ".lock")):
        yield


@contextmanager
def _advisory_lock(engine: sa.Engine) -> Iterator[None]:
    # Session-level lock on a connection of its own: the migration's transactions may commit
    # and open new connections without releasing it.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_KEY})
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_KEY})


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed, even on a crash
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
