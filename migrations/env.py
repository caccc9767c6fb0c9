"""Alembic environment for hpsearch's catalog (never Optuna's or MLflow's tables).

hpsearch runs Alembic in code (hpsearch.catalog.migrate) and hands over an open connection in
`config.attributes["connection"]`. For a developer's `alembic -c alembic.ini revision
--autogenerate`, the URL is the catalog URL of hpsearch's settings (HPSEARCH_DATABASE_URL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from sqlalchemy.pool import NullPool

from hpsearch.catalog.models import VERSION_TABLE, Base

config = context.config


def _options(dialect_name: str) -> dict[str, object]:
    return {
        "target_metadata": Base.metadata,
        "version_table": VERSION_TABLE,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
    }


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from hpsearch.settings import get_settings

    return get_settings().catalog_url


def _run(connection: sa.Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    url = _url()
    context.configure(url=url, literal_binds=True, **_options(sa.make_url(url).get_backend_name()))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = sa.create_engine(_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
