"""Optuna's RDB storage as hpsearch uses it: heartbeats, one retry per crash, SQLite in WAL,
and bounded retries when the database is briefly away (a restart, a locked SQLite file)."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import optuna
import sqlalchemy as sa
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from hpsearch import stores
from hpsearch.errors import UPGRADE_COMMAND, UserError
from hpsearch.places import write_failure
from hpsearch.settings import mask_password

UPGRADE_HINT = f"run `{UPGRADE_COMMAND}` first"
# About 30 s in all: long enough for a database restart, short enough to notice an outage.
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)

log = logging.getLogger("hpsearch.storage")
T = TypeVar("T")


def _heartbeat() -> tuple[int, int]:
    """(interval, grace) in seconds; tests shorten them through the environment."""
    interval = int(os.environ.get("HPSEARCH_HEARTBEAT_INTERVAL", "10"))
    grace = int(os.environ.get("HPSEARCH_HEARTBEAT_GRACE", str(3 * interval)))
    return interval, grace


def _prepare_sqlite(url: sa.URL) -> dict[str, object]:
    """WAL lets readers (the live table) run beside one writer; a long timeout absorbs the rest."""
    path = Path(url.database or "")
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path, timeout=60) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    # The driver's own transaction handling is off; `_begin_immediate` starts every transaction.
    return {"connect_args": {"timeout": 60, "isolation_level": None}}


def _begin_immediate(engine: sa.Engine) -> None:
    """Every SQLite transaction takes the write lock when it begins.

    Optuna claims a WAITING trial (or fails a stale one) by reading its state, then writing it.
    The sqlite3 driver runs that read outside any transaction, so two workers could both read
    WAITING and both claim the trial. BEGIN IMMEDIATE makes read-then-write atomic, and a busy
    database makes the second one wait (up to the timeout) instead of failing "database is locked".
    """

    @sa.event.listens_for(engine, "begin")
    def begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before the listener are not reused


def is_transient(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) says the database is unreachable or busy right now.

    A full disk or a read-only file is not "right now": retrying it only delays the one line.
    """
    if write_failure(exc) is not None:
        return False
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sa.exc.OperationalError | sa.exc.InterfaceError):
            return True
        if isinstance(seen, sa.exc.DBAPIError) and seen.connection_invalidated:
            return True
        if getattr(seen, "error_code", None) == "TEMPORARILY_UNAVAILABLE":  # MLflow's wrapper
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def with_retries(call: Callable[[], T], what: str) -> T:
    """`call()`, retried with backoff while the database is briefly away; then the error."""
    for delay in (*RETRY_DELAYS, None):
        try:
            return call()
        except Exception as exc:
            if delay is None or not is_transient(exc):
                raise
            reason = stores.first_line(exc)[:200]
            log.warning("%s: database unavailable (%s); retrying in %.1f s", what, reason, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


class _Retrying:
    """A view of `target` whose method calls (or own call) go through `with_retries`."""

    def __init__(self, target: Any, what: str) -> None:
        self._target, self._what = target, what

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute
        return _Retrying(attribute, f"{self._what}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return with_retries(lambda: self._target(*args, **kwargs), self._what)


def retrying(target: T, what: str) -> T:
    """`target` (a trial, a study, a tracker, a callback) with every call retried while the
    database is briefly away; attributes that are not methods read through unchanged."""
    return cast(T, _Retrying(target, what))


def _parsed(url: str) -> sa.URL:
    parsed = stores.parse(url)
    if parsed is None:
        raise UserError(f"not a database URL: {mask_password(url)!r}")
    return parsed


def open_storage(url: str) -> RDBStorage:
    """Open (and on SQLite, create) the storage. A server schema must already be at head."""
    parsed = _parsed(url)
    is_sqlite = stores.is_sqlite(parsed)
    engine_kwargs = _prepare_sqlite(parsed) if is_sqlite else {"pool_pre_ping": True}
    interval, grace = _heartbeat()
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:
        if not is_sqlite:
            _require_schema(url)
        storage = RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=interval,
            grace_period=grace,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
            skip_table_creation=not is_sqlite,  # servers migrate explicitly, never implicitly
        )
        if is_sqlite:
            _begin_immediate(storage.engine)
        return storage
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        reason = stores.first_line(exc)
        if "does not exist" in reason or "no such table" in reason:
            message = f"Optuna's tables are missing in {mask_password(url)}: {UPGRADE_HINT}"
            raise UserError(message) from None
        raise UserError(f"cannot open storage {mask_password(url)}: {reason}") from None
    except RuntimeError as exc:  # Optuna's schema check: an old or empty schema
        reason = stores.first_line(exc)
        raise UserError(f"{mask_password(url)}: {reason} ({UPGRADE_HINT})") from None
    except ModuleNotFoundError as exc:
        raise UserError(f"no database driver for {mask_password(url)}: {exc.name}") from None


def open_existing_storage(url: str) -> RDBStorage:
    """Like `open_storage`, but a missing SQLite file is an error, not a new empty storage.

    For commands that only read or mend a study: a mistyped path must not create a database.
    """
    parsed = _parsed(url)
    if stores.is_sqlite(parsed):
        path = stores.sqlite_path(parsed) or Path(parsed.database or "")
        if not path.is_file():
            raise UserError(f"no Optuna storage at {path}: launch a study first (hpsearch launch)")
    return open_storage(url)


def probe_storage(url: str) -> None:
    """Refuse a bad or unreachable storage URL before anything is written anywhere.

    Parses the URL and, for a server, connects and checks Optuna's tables; creates nothing.
    """
    if stores.is_sqlite(_parsed(url)):
        return
    try:
        _require_schema(url)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        reason = stores.first_line(exc)
        raise UserError(f"cannot open storage {mask_password(url)}: {reason}") from None
    except (sa.exc.NoSuchModuleError, ModuleNotFoundError):
        raise UserError(f"no database driver for {mask_password(url)}") from None


def _require_schema(url: str) -> None:
    engine = sa.create_engine(url, pool_pre_ping=True)
    try:
        if not sa.inspect(engine).has_table("version_info"):
            raise UserError(f"Optuna's tables are missing in {mask_password(url)}: {UPGRADE_HINT}")
    finally:
        engine.dispose()


def load_existing_study(name: str, storage: RDBStorage) -> optuna.Study:
    """Load a study by name, or a one-line error listing the studies there are."""
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = sorted(s.study_name for s in storage.get_all_studies())
        known = ", ".join(names) if names else "none"
        raise UserError(f"no study named {name!r} in this storage (studies: {known})") from None


def open_study(name: str, url: str) -> optuna.Study:
    """The study `name` in the existing storage at `url`; one line if either is missing."""
    return load_existing_study(name, open_existing_storage(url))
