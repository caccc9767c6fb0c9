"""The start path never migrates a database server: it names `hpsearch db upgrade` instead.

Optuna's storage and MLflow's backend store are opened here as a worker opens them, on real
PostgreSQL databases that `hpsearch db upgrade` has not (or not fully) set up. (The catalog's
own check is tested in test_catalog.py and test_migrations.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from mlflow.store.db.utils import _get_alembic_config

from hpsearch.catalog import upgrade_all
from hpsearch.catalog.upgrade import upgrade_mlflow, upgrade_optuna
from hpsearch.errors import UserError
from hpsearch.settings import get_settings
from hpsearch.study.storage import open_storage, probe_storage
from hpsearch.tracking import StudyTracker
from hpsearch.tracking._store import open_client
from hpsearch.tracking.probe import mlflow_head_revision

UPGRADE = "run `hpsearch db upgrade`"


def _tables(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _database(url: str) -> str:
    name = sa.make_url(url).database
    assert name
    return name


@pytest.mark.postgres
def test_optuna_storage_on_an_empty_database_is_refused(postgres_database: str) -> None:
    for open_ in (open_storage, probe_storage):
        with pytest.raises(UserError, match="hpsearch db upgrade") as error:
            open_(postgres_database)
        assert _database(postgres_database) in str(error.value)
    assert _tables(postgres_database) == []

    upgrade_optuna(postgres_database)
    storage = open_storage(postgres_database)
    try:
        assert storage.get_all_studies() == []
    finally:
        storage.engine.dispose()


@pytest.mark.postgres
def test_mlflow_store_on_an_empty_database_is_refused(postgres_database: str) -> None:
    with pytest.raises(UserError, match=UPGRADE) as error:
        open_client(postgres_database)
    message = str(error.value)
    assert "has no MLflow tables" in message and "\n" not in message
    assert _database(postgres_database) in message
    assert _tables(postgres_database) == []  # MLflow's store was never opened


@pytest.mark.postgres
def test_study_tracker_opens_only_after_db_upgrade(
    postgres_databases: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPSEARCH_DATABASE_URL", postgres_databases["hpsearch"])
    monkeypatch.setenv("HPSEARCH_STORAGE_URL", postgres_databases["optuna"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", postgres_databases["mlflow"])
    settings = get_settings()
    with pytest.raises(UserError, match=UPGRADE):
        StudyTracker("demo", settings.mlflow_uri, settings.artifact_root)
    assert _tables(postgres_databases["mlflow"]) == []

    assert upgrade_all(settings)["mlflow"] == "created"
    tracker = StudyTracker("demo", settings.mlflow_uri, settings.artifact_root)
    assert tracker.client.get_experiment(tracker.experiment_id).name == "demo"


def _previous_revision(revision: str) -> str:
    script = ScriptDirectory.from_config(_get_alembic_config(db_url=""))
    down = script.get_revision(revision).down_revision
    assert isinstance(down, str), down
    return down


@pytest.mark.postgres
def test_out_of_date_mlflow_schema_is_refused(postgres_database: str) -> None:
    upgrade_mlflow(postgres_database)
    older = _previous_revision(mlflow_head_revision())
    engine = sa.create_engine(postgres_database)
    try:
        with engine.begin() as connection:  # as if MLflow's newest migration had not run
            connection.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": older})
    finally:
        engine.dispose()
    with pytest.raises(UserError, match=f"is at revision {older}, expected .*{UPGRADE}"):
        open_client(postgres_database)


@pytest.mark.postgres
def test_mlflow_refusal_masks_the_password(postgres_database: str) -> None:
    # trust authentication ignores the password, so the URL still reaches the database
    url = sa.make_url(postgres_database).set(password="s3cret")
    with pytest.raises(UserError, match=UPGRADE) as error:
        open_client(url.render_as_string(hide_password=False))
    assert "s3cret" not in str(error.value)
    assert f"{url.username}:***@" in str(error.value)


def test_unreachable_mlflow_database_is_one_masked_line() -> None:
    url = "postgresql+psycopg://hpsearch:s3cret@127.0.0.1:1/mlflow"  # nothing listens on 1
    with pytest.raises(UserError, match="cannot open the MLflow database") as error:
        open_client(url)
    assert "s3cret" not in str(error.value) and "\n" not in str(error.value)


def test_a_tracking_server_is_not_checked(hpsearch_home: Path) -> None:
    """The server owns its database: opening a client contacts nothing."""
    client = open_client("http://127.0.0.1:1")  # nothing listens on 1
    assert client.tracking_uri == "http://127.0.0.1:1"
    assert not hpsearch_home.exists() or not any(hpsearch_home.iterdir())
