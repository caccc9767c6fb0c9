"""`hpsearch db upgrade`: hpsearch's, Optuna's and MLflow's schemas to head in one step.

Each store has its own database. Optuna and MLflow both keep their version in a table named
`alembic_version`, so sharing one database between them would make each read the other's
revision: that is refused before anything is touched.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import combinations
from pathlib import Path

import sqlalchemy as sa

from hpsearch import private_apis, stores
from hpsearch.catalog.locks import migration_lock
from hpsearch.catalog.migrate import (
    current_revision,
    migration_engine,
    unreachable,
    upgrade_catalog,
)
from hpsearch.errors import UserError
from hpsearch.settings import Settings, mask_password


def upgrade_all(settings: Settings) -> dict[str, str]:
    """Migrate the three schemas; map "hpsearch", "optuna", "mlflow" to what happened.

    Values: "created" (empty database set up), "upgraded", "current" (nothing to do) or
    "skipped" (MLflow behind an http(s) tracking server, which owns its database).
    Idempotent and safe from several processes at once: per database, one takes the lock and
    migrates, the others then find the schema current.
    """
    urls = store_urls(settings)
    for schema in ("hpsearch", "optuna"):  # these two must be database URLs
        _check_parsable(schema, urls[schema])
    refuse_shared_databases(urls)
    for schema, url in urls.items():  # reach all three before migrating any
        if stores.is_database(url):
            _check_reachable(schema, url)
    for url in urls.values():  # the embedded default: SQLite files under HPSEARCH_HOME
        path = stores.sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    steps = {"hpsearch": upgrade_catalog, "optuna": upgrade_optuna, "mlflow": upgrade_mlflow}
    changes: dict[str, str] = {}
    for schema, step in steps.items():
        try:
            with _keep_loggers():
                changes[schema] = step(urls[schema])
        except sa.exc.OperationalError as exc:
            raise unreachable(schema, urls[schema], exc) from None
    return changes


def _check_parsable(schema: str, url: str) -> None:
    try:
        sa.make_url(url)
    except sa.exc.ArgumentError:
        raise UserError(f"the {schema} URL is not a database URL: {mask_password(url)!r}") from None


def _check_reachable(schema: str, url: str) -> None:
    """Connect once (a SQLite file is only created later, by its migration)."""
    parsed = sa.make_url(url)
    if stores.is_sqlite(parsed):
        return
    engine = sa.create_engine(parsed)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        raise unreachable(schema, url, exc) from None
    finally:
        engine.dispose()


def store_urls(settings: Settings) -> dict[str, str]:
    """The URL of each store, by the name of the schema it holds."""
    return {
        "hpsearch": settings.catalog_url,
        "optuna": settings.optuna_url,
        "mlflow": settings.mlflow_uri,
    }


def refuse_shared_databases(urls: dict[str, str]) -> None:
    """UserError when two of the stores would live in one database."""
    identities = {
        role: _database_identity(url) for role, url in urls.items() if stores.is_database(url)
    }
    for (role_a, id_a), (role_b, id_b) in combinations(identities.items(), 2):
        if id_a is not None and id_a == id_b:
            raise UserError(
                f"the {role_a} and {role_b} stores point to the same database "
                f"({mask_password(urls[role_a])}): Optuna and MLflow both keep their schema "
                "version in `alembic_version` and Optuna's `studies` table clashes with "
                "hpsearch's; give each store its own database"
            )


def _database_identity(url: str) -> tuple[str, ...] | None:
    """What makes two URLs the same database, whatever driver or password they name."""
    parsed = sa.make_url(url)
    path = stores.sqlite_path(parsed)
    if parsed.get_backend_name() == "sqlite":
        return None if path is None else ("sqlite", str(Path(path).resolve()))
    default_port = {"postgresql": 5432, "mysql": 3306}.get(parsed.get_backend_name())
    return (
        parsed.get_backend_name(),
        (parsed.host or "localhost").lower(),
        str(parsed.port or default_port),
        parsed.database or "",
    )


def upgrade_optuna(url: str) -> str:
    """What `optuna storage upgrade` does, under our lock."""
    import optuna  # Optuna (slow to import) only for its own migration

    engine = migration_engine(url)
    try:
        with migration_lock(engine):
            with engine.connect() as connection:
                before = current_revision(connection, "alembic_version")
            # On an empty database the constructor creates the tables and stamps head.
            storage = optuna.storages.RDBStorage(url, skip_compatibility_check=True)
            try:
                if before is not None and before == storage.get_head_version():
                    return "current"
                if storage.get_current_version() != storage.get_head_version():
                    storage.upgrade()
            finally:
                storage.engine.dispose()
        return "created" if before is None else "upgraded"
    finally:
        engine.dispose()


def upgrade_mlflow(uri: str) -> str:
    """What `mlflow db upgrade` does, under our lock; "skipped" when a server owns the store."""
    if not stores.is_database(uri):
        return "skipped"
    # The head the start path checks against (imported here: importing mlflow takes seconds)
    from hpsearch.tracking.probe import mlflow_head_revision

    engine = migration_engine(uri)
    try:
        # MLflow's own revisions use SQLAlchemy APIs that 2.x deprecates: not ours to fix.
        with migration_lock(engine), warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SADeprecationWarning)
            if private_apis.mlflow_is_empty(engine):
                private_apis.mlflow_create_tables(engine)
                return "created"
            if private_apis.mlflow_schema_version(engine) == mlflow_head_revision():
                return "current"
            private_apis.mlflow_upgrade(engine)
            return "upgraded"
    finally:
        engine.dispose()


@contextmanager
def _keep_loggers() -> Iterator[None]:
    # Optuna's alembic env.py runs logging.config.fileConfig: it disables every existing logger
    # (ours included) and puts its own handler on the root. Put everything back as it was.
    loggers = [logging.root] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = [(lg, lg.disabled, lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    try:
        yield
    finally:
        for logger, disabled, level, handlers, propagate in saved:
            logger.disabled, logger.level, logger.propagate = disabled, level, propagate
            logger.handlers[:] = handlers
