"""Alembic for hpsearch's catalog, configured in code so that an installed package works.

The revisions live in the top-level `migrations/` folder of the repository; a wheel carries
them as the package `hpsearch._migrations` (see pyproject.toml). No alembic.ini is needed.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

from hpsearch import stores
from hpsearch.catalog.locks import migration_lock
from hpsearch.catalog.models import VERSION_TABLE
from hpsearch.errors import OutdatedSchema, UserError
from hpsearch.settings import mask_password


@cache
def migrations_dir() -> Path:
    """`migrations/` of a source checkout, or `hpsearch/_migrations` of an installed wheel."""
    candidates = [Path(__file__).resolve().parents[2] / "migrations"]
    spec = importlib.util.find_spec("hpsearch._migrations")
    if spec is not None and spec.submodule_search_locations:
        candidates = [Path(p) for p in spec.submodule_search_locations] + candidates
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError(f"hpsearch's migrations are missing (looked in {candidates})")


def alembic_config(url: str | None = None) -> Config:
    """A Config pointing at our revisions; `url` only matters when no connection is passed."""
    config = Config()
    # ConfigParser treats % as interpolation: escape it in paths and passwords.
    config.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("hpsearch's migrations have no head revision")
    return head


def current_revision(connection: sa.Connection, version_table: str = VERSION_TABLE) -> str | None:
    """The revision stamped in `version_table`, None when the table is absent or empty."""
    context = MigrationContext.configure(connection, opts={"version_table": version_table})
    return context.get_current_revision()


def migration_engine(url: str) -> sa.Engine:
    """An engine that keeps no pooled connections: migrations run once and go away."""
    path = stores.sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(url, poolclass=NullPool)


def upgrade_catalog(url: str) -> str:
    """Bring the catalog at `url` to head. Returns "created", "upgraded" or "current"."""
    engine = migration_engine(url)
    try:
        with migration_lock(engine):
            with engine.connect() as connection:
                before = current_revision(connection)
            if before == head_revision():
                return "current"
            config = alembic_config()
            with engine.begin() as connection:  # PostgreSQL: DDL and stamp commit together
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        return "created" if before is None else "upgraded"
    finally:
        engine.dispose()


def unreachable(what: str, url: str, exc: sa.exc.DBAPIError) -> UserError:
    """One line for a database that cannot be opened; the URL with its password masked."""
    reason = stores.first_line(exc)
    return UserError(f"cannot open the {what} database at {mask_password(url)}: {reason}")


def check_catalog_current(url: str) -> None:
    """Raise UserError naming `hpsearch db upgrade` unless the catalog at `url` is at head.

    The start path calls this on PostgreSQL instead of migrating: a schema change on a shared
    server is an explicit step, taken once, not a side effect of whichever worker starts first.
    """
    engine = migration_engine(url)
    try:
        with engine.connect() as connection:
            revision = current_revision(connection)
    except sa.exc.OperationalError as exc:
        raise unreachable("hpsearch catalog", url, exc) from None
    finally:
        engine.dispose()
    if revision != head_revision():
        raise OutdatedSchema("hpsearch", mask_password(url), revision, head_revision())
