"""A tracking URI checked before anything is written, without importing MLflow.

`launch` checks its stores first; MLflow's import (a second and a half) then happens while
its workers start, not before. Only a server database's schema check asks MLflow (for the
newest revision of its migrations).
"""

from __future__ import annotations

import socket
import urllib.parse
from functools import cache

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from hpsearch import private_apis, stores
from hpsearch.errors import OutdatedSchema, UserError
from hpsearch.settings import mask_password

PROBE_TIMEOUT_SECONDS = 3.0  # a tracking server that does not answer in this is not there


def _probe_server(tracking_uri: str) -> None:
    """Connect to the tracking server's port: one that does not answer is refused now, not
    after the stores are written (MLflow itself retries for minutes)."""
    try:
        parts = urllib.parse.urlsplit(tracking_uri)
        address = (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    except ValueError as exc:
        raise UserError(f"not a tracking URI: {mask_password(tracking_uri)} ({exc})") from None
    try:
        socket.create_connection(address, timeout=PROBE_TIMEOUT_SECONDS).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(
            f"the MLflow tracking server {mask_password(tracking_uri)} does not answer ({reason})"
        ) from None


def probe_tracking_uri(tracking_uri: str) -> None:
    """Refuse a tracking URI that cannot work before anything is written anywhere.

    SQLite (created on first use) and a tracking server pass; a server database must be
    reachable and at MLflow's head (read only); anything else is a one-line UserError.
    """
    if stores.is_tracking_server(tracking_uri):
        _probe_server(tracking_uri)
        return
    if stores.is_sqlite(tracking_uri):
        return
    if stores.is_server_database(tracking_uri):
        require_mlflow_schema(tracking_uri)
        return
    raise UserError(
        f"not a tracking URI: {mask_password(tracking_uri)!r} (expected sqlite:///FILE, "
        "postgresql+psycopg://USER@HOST/DB or http(s)://SERVER)"
    )


@cache
def mlflow_head_revision() -> str:
    """The newest revision of MLflow's own migrations (mlflow/store/db_migrations)."""
    return private_apis.mlflow_head_revision()


def require_mlflow_schema(tracking_uri: str) -> None:
    """UserError naming `hpsearch db upgrade` unless MLflow's schema there is at its head.

    MLflow's store would create its tables in an empty database by itself, and asks for
    `mlflow db upgrade` on an old one. On a shared server a schema change is one explicit step
    (the `migrate` service), not a side effect of whichever worker starts first, so this only
    reads the version and creates nothing.
    """
    revision = _schema_version(tracking_uri)
    if revision != mlflow_head_revision():
        where = mask_password(tracking_uri)
        raise OutdatedSchema("MLflow", where, revision, mlflow_head_revision())


def _schema_version(tracking_uri: str) -> str | None:
    """MLflow's revision in `alembic_version`, None when there is none; read-only."""
    engine = sa.create_engine(tracking_uri, poolclass=NullPool)
    try:
        return private_apis.mlflow_schema_version(engine)
    except sa.exc.OperationalError as exc:
        reason = stores.first_line(exc)
        where = mask_password(tracking_uri)
        raise UserError(f"cannot open the MLflow database at {where}: {reason}") from None
    finally:
        engine.dispose()
