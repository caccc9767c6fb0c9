"""Optuna's RDB storage as hpsearch uses it: heartbeats, one retry per crash, SQLite in WAL."""

from __future__ import annotations

import os
import sqlite3
import warnings
from pathlib import Path

import optuna
import sqlalchemy as sa
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from hpsearch.errors import UserError
from hpsearch.settings import mask_password

UPGRADE_HINT = "run `hpsearch db upgrade` first"


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
    return {"connect_args": {"timeout": 60}}


def open_storage(url: str) -> RDBStorage:
    """Open (and on SQLite, create) the storage. A server schema must already be at head."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise UserError(f"not a database URL: {mask_password(url)!r}") from None
    is_sqlite = parsed.get_backend_name() == "sqlite"
    engine_kwargs = _prepare_sqlite(parsed) if is_sqlite else {"pool_pre_ping": True}
    interval, grace = _heartbeat()
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:
        if not is_sqlite:
            _require_schema(url)
        return RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=interval,
            grace_period=grace,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
            skip_table_creation=not is_sqlite,  # servers migrate explicitly, never implicitly
        )
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        if "does not exist" in reason or "no such table" in reason:
            message = f"Optuna's tables are missing in {mask_password(url)}: {UPGRADE_HINT}"
            raise UserError(message) from None
        raise UserError(f"cannot open storage {mask_password(url)}: {reason}") from None
    except RuntimeError as exc:  # Optuna's schema check: an old or empty schema
        reason = str(exc).splitlines()[0]
        raise UserError(f"{mask_password(url)}: {reason} ({UPGRADE_HINT})") from None
    except ModuleNotFoundError as exc:
        raise UserError(f"no database driver for {mask_password(url)}: {exc.name}") from None


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
