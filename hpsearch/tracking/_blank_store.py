"""A new SQLite MLflow store, copied from a blank one kept in the user cache.

MLflow makes a new store's tables by running every one of its migrations (about a hundred
alembic scripts): seconds of a launch on a 2-core machine, while its worker waited for the
experiment. The first new store per MLflow version is made that way, and a copy of it, taken
before MLflow adds anything (its Default experiment names the opening process's artifact root), is
kept as `$XDG_CACHE_HOME/hpsearch/mlflow-blank/<version>-<head>.sqlite`. Later new stores are
that copy: the same bytes MLflow's own code made. A copy that fails its checks (not SQLite, not
at MLflow's head, not blank) is not used, and is made again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
from pathlib import Path

import mlflow
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from hpsearch import private_apis
from hpsearch.places import cache_root


def create_blank_store(path: Path) -> None:
    """Make MLflow's tables at `path`, a SQLite file that does not exist yet (under the
    caller's schema lock); from the cached blank copy when there is a good one."""
    head = private_apis.mlflow_head_revision()
    blank = cache_root() / "mlflow-blank" / f"{mlflow.__version__}-{head}.sqlite"
    if _is_blank_at(blank, head):
        _copy_atomically(blank, path)
        return
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)
    try:
        private_apis.mlflow_create_tables(engine)
    finally:
        engine.dispose()
    with contextlib.suppress(OSError):  # no cache (read-only home): only the next store is slower
        _copy_atomically(path, blank)


def _is_blank_at(path: Path, head: str) -> bool:
    """A SQLite file whose MLflow schema is at `head` and which holds no experiment."""
    if not path.is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            if db.execute("PRAGMA quick_check").fetchone() != ("ok",):
                return False
            (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
            (experiments,) = db.execute("SELECT count(*) FROM experiments").fetchone()
    except (sqlite3.Error, TypeError, ValueError):
        return False
    return version == head and experiments == 0


def _copy_atomically(source: Path, destination: Path) -> None:
    """A whole copy or none: written beside `destination`, then renamed onto it. Created with
    mode 0666 less the umask, as SQLite creates a store itself (mkstemp's would be 0600)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.{secrets.token_hex(8)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
        os.replace(partial, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
