"""hpsearch's Alembic revisions: from empty, down and up again, and in step with the models."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from hpsearch.catalog import check_catalog_current, head_revision
from hpsearch.catalog.migrate import alembic_config, current_revision, upgrade_catalog
from hpsearch.catalog.models import VERSION_TABLE, Base
from hpsearch.errors import UserError

CATALOG_TABLES = {"studies", "study_versions", "launches"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    finally:
        engine.dispose()


def test_one_linear_history() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [head_revision()]
    assert len(script.get_bases()) == 1


def test_upgrade_from_empty_database(catalog_url: str) -> None:
    assert upgrade_catalog(catalog_url) == "created"

    assert _tables(catalog_url) == CATALOG_TABLES | {VERSION_TABLE}
    assert "alembic_version" not in _tables(catalog_url)  # that name is Optuna's and MLflow's
    assert _revision(catalog_url) == head_revision()
    assert upgrade_catalog(catalog_url) == "current"


def test_downgrade_to_base_and_up_again(catalog_url: str) -> None:
    upgrade_catalog(catalog_url)
    engine = sa.create_engine(catalog_url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert _tables(catalog_url) == {VERSION_TABLE}
        assert _revision(catalog_url) is None

        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    assert _tables(catalog_url) == CATALOG_TABLES | {VERSION_TABLE}
    assert _revision(catalog_url) == head_revision()


def test_models_and_migrations_agree(catalog_url: str) -> None:
    """What `alembic revision --autogenerate` would write after our migrations: nothing."""
    upgrade_catalog(catalog_url)
    engine = sa.create_engine(catalog_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_check_catalog_current_names_the_command(postgres_database: str) -> None:
    with pytest.raises(UserError, match="hpsearch db upgrade") as empty:
        check_catalog_current(postgres_database)
    assert "has no hpsearch tables" in str(empty.value)

    upgrade_catalog(postgres_database)
    check_catalog_current(postgres_database)  # at head: no error
    assert "alembic_version" not in _tables(postgres_database)


def test_check_catalog_current_unreachable_server_masks_password() -> None:
    url = "postgresql+psycopg://hpsearch:s3cret@127.0.0.1:1/hpsearch"  # nothing listens on 1
    with pytest.raises(UserError, match="cannot open") as error:
        check_catalog_current(url)
    assert "s3cret" not in str(error.value)
    assert "hpsearch:***@127.0.0.1:1" in str(error.value)
