"""The catalog API and `upgrade_all`, on SQLite files and on real PostgreSQL databases."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hpsearch.catalog import (
    Catalog,
    ConfigChangedError,
    UnknownStudyError,
    config_sha256,
    open_catalog,
    upgrade_all,
)
from hpsearch.catalog.migrate import upgrade_catalog
from hpsearch.errors import UserError
from hpsearch.settings import get_settings

YAML_V1 = "name: demo\ndataset: digits\nn_trials: 4\n"
YAML_V2 = "name: demo\ndataset: digits\nn_trials: 8\n"
STORAGE = "postgresql+psycopg://alice:hunter2@db.example:5432/optuna"
SCHEMAS = ("hpsearch", "optuna", "mlflow")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Catalog]:
    """An open catalog: the embedded SQLite default, then PostgreSQL after `db upgrade`."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_database")
        upgrade_catalog(url)
        monkeypatch.setenv("HPSEARCH_DATABASE_URL", url)
    with open_catalog(get_settings()) as opened:
        yield opened


def test_register_a_new_study(catalog: Catalog) -> None:
    record = catalog.register_study(
        "demo", YAML_V1, dataset_fingerprint="ab" * 32, storage_url=STORAGE
    )
    assert record.name == "demo"
    assert record.config_yaml == YAML_V1
    assert record.config_sha256 == config_sha256(YAML_V1)
    assert record.dataset_fingerprint == "ab" * 32
    assert (record.version, record.n_launches, record.status) == (1, 0, "created")
    assert record.created_at.tzinfo is not None
    assert catalog.get_study("demo") == record
    assert catalog.get_study("nope") is None


def test_storage_url_is_stored_with_the_password_masked(catalog: Catalog) -> None:
    record = catalog.register_study("demo", YAML_V1, storage_url=STORAGE)
    assert record.storage_url == "postgresql+psycopg://alice:***@db.example:5432/optuna"
    raw = sa.select(sa.text("storage_url")).select_from(sa.text("studies"))
    with catalog.engine.connect() as connection:
        assert "hunter2" not in connection.execute(raw).scalar_one()


def test_same_yaml_touches_updated_at(catalog: Catalog) -> None:
    first = catalog.register_study("demo", YAML_V1, storage_url=STORAGE)
    again = catalog.register_study("demo", YAML_V1, storage_url=STORAGE)
    assert again.version == 1
    assert again.created_at == first.created_at
    assert again.updated_at > first.updated_at
    assert catalog.config_history("demo")[0][:2] == (1, config_sha256(YAML_V1))


def test_changed_yaml_is_refused(catalog: Catalog) -> None:
    catalog.register_study("demo", YAML_V1, storage_url=STORAGE)
    with pytest.raises(ConfigChangedError, match="--allow-changed-config") as error:
        catalog.register_study("demo", YAML_V2, storage_url=STORAGE)
    assert isinstance(error.value, UserError)
    unchanged = catalog.get_study("demo")
    assert unchanged is not None
    assert unchanged.config_yaml == YAML_V1


def test_allow_changed_records_the_new_version(catalog: Catalog) -> None:
    catalog.register_study("demo", YAML_V1, storage_url=STORAGE)
    first_launch = catalog.start_launch("demo", workers=1, n_trials=4)
    record = catalog.register_study("demo", YAML_V2, storage_url=STORAGE, allow_changed=True)
    second_launch = catalog.start_launch("demo", workers=2, n_trials=8)

    assert (record.config_yaml, record.version) == (YAML_V2, 2)
    history = catalog.config_history("demo")
    assert [(v, sha) for v, sha, _ in history] == [
        (1, config_sha256(YAML_V1)),
        (2, config_sha256(YAML_V2)),
    ]
    launches = {launch.id: launch for launch in catalog.list_launches("demo")}
    assert launches[first_launch].config_sha256 == config_sha256(YAML_V1)
    assert launches[second_launch].config_sha256 == config_sha256(YAML_V2)


def test_launch_rows(catalog: Catalog) -> None:
    catalog.register_study("demo", YAML_V1, storage_url=STORAGE)
    launch_id = catalog.start_launch("demo", workers=3, n_trials=20)
    (running,) = catalog.list_launches("demo")
    assert running.id == launch_id
    assert (running.workers, running.n_trials, running.pid) == (3, 20, os.getpid())
    assert running.host and running.user
    assert (running.ended_at, running.exit_status) == (None, None)

    catalog.end_launch(launch_id, 0)
    (ended,) = catalog.list_launches("demo")
    assert ended.exit_status == 0
    assert ended.ended_at is not None and ended.ended_at >= ended.started_at
    with pytest.raises(LookupError):
        catalog.end_launch(launch_id + 1000, 0)


def test_list_studies_with_launch_counts(catalog: Catalog) -> None:
    for name in ("beta", "alpha"):
        catalog.register_study(name, YAML_V1, storage_url=STORAGE)
    for _ in range(2):
        catalog.start_launch("beta", workers=1, n_trials=None)
    catalog.set_status("beta", "running")
    catalog.set_experiment_id("beta", "17")

    studies = catalog.list_studies()
    assert [s.name for s in studies] == ["alpha", "beta"]
    assert [s.n_launches for s in studies] == [0, 2]
    assert (studies[1].status, studies[1].mlflow_experiment_id) == ("running", "17")
    assert json.loads(json.dumps(studies[1].to_dict()))["n_launches"] == 2


def test_unknown_study_is_a_user_error(catalog: Catalog) -> None:
    for call in (
        lambda: catalog.set_status("ghost", "running"),
        lambda: catalog.set_experiment_id("ghost", "1"),
        lambda: catalog.start_launch("ghost", workers=1, n_trials=1),
    ):
        with pytest.raises(UnknownStudyError, match="ghost"):
            call()


@pytest.mark.postgres
def test_open_catalog_never_migrates_postgres(
    postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPSEARCH_DATABASE_URL", postgres_database)
    with pytest.raises(UserError, match="hpsearch db upgrade"):
        open_catalog(get_settings())
    engine = sa.create_engine(postgres_database)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


# --- upgrade_all -------------------------------------------------------------------------------


def _service_env(monkeypatch: pytest.MonkeyPatch, urls: dict[str, str]) -> None:
    monkeypatch.setenv("HPSEARCH_DATABASE_URL", urls["hpsearch"])
    monkeypatch.setenv("HPSEARCH_STORAGE_URL", urls["optuna"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", urls["mlflow"])


def _table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_all_is_idempotent_on_sqlite(hpsearch_home: Path) -> None:
    settings = get_settings()
    assert upgrade_all(settings) == dict.fromkeys(SCHEMAS, "created")
    assert upgrade_all(settings) == dict.fromkeys(SCHEMAS, "current")
    assert {p.name for p in hpsearch_home.glob("*.db")} == {
        "hpsearch.db",
        "optuna.db",
        "mlflow.db",
    }


@pytest.mark.postgres
def test_upgrade_all_is_idempotent_on_postgres(
    postgres_databases: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _service_env(monkeypatch, postgres_databases)
    assert upgrade_all(get_settings()) == dict.fromkeys(SCHEMAS, "created")
    assert upgrade_all(get_settings()) == dict.fromkeys(SCHEMAS, "current")

    hpsearch_tables = _table_names(postgres_databases["hpsearch"])
    assert "hpsearch_alembic_version" in hpsearch_tables
    assert "alembic_version" not in hpsearch_tables
    assert {"studies", "trials", "alembic_version"} <= _table_names(postgres_databases["optuna"])
    assert {"experiments", "runs", "alembic_version"} <= _table_names(postgres_databases["mlflow"])


def test_upgrade_all_leaves_a_served_mlflow_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    changes = upgrade_all(get_settings())
    assert changes == {"hpsearch": "created", "optuna": "created", "mlflow": "skipped"}


@pytest.mark.parametrize(
    ("optuna", "mlflow"),
    [
        ("sqlite:///{home}/shared.db", "sqlite:///{home}/../hpsearch-home/shared.db"),
        (
            "postgresql+psycopg://u:a@127.0.0.1/stores",
            "postgresql://u:b@127.0.0.1:5432/stores",
        ),
    ],
)
def test_upgrade_all_refuses_one_database_for_optuna_and_mlflow(
    optuna: str, mlflow: str, hpsearch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPSEARCH_STORAGE_URL", optuna.format(home=hpsearch_home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow.format(home=hpsearch_home))
    with pytest.raises(UserError, match="optuna and mlflow stores point to the same database"):
        upgrade_all(get_settings())
    assert not hpsearch_home.exists() or not any(hpsearch_home.iterdir())  # nothing touched


def test_upgrade_all_refuses_the_catalog_in_optunas_database(
    hpsearch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPSEARCH_DATABASE_URL", f"sqlite:///{hpsearch_home}/optuna.db")
    with pytest.raises(UserError, match="hpsearch and optuna stores"):
        upgrade_all(get_settings())


def test_upgrade_all_unreachable_server_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPSEARCH_DATABASE_URL", "postgresql+psycopg://u:s3cret@127.0.0.1:1/x")
    with pytest.raises(UserError, match="cannot open the hpsearch") as error:
        upgrade_all(get_settings())
    assert "s3cret" not in str(error.value)


def _upgrade_in_child(start: Any, results: Any) -> None:
    start.wait()  # every process calls upgrade_all at the same moment
    try:
        results.put(upgrade_all(get_settings()))
    except BaseException as exc:
        results.put({"error": repr(exc)})
        raise


def _concurrent_upgrades(n: int) -> list[dict[str, str]]:
    """`hpsearch db upgrade` in `n` processes at once; each one's changes.

    Forked after the imports so that each child starts in milliseconds, not seconds.
    """
    import mlflow.store.db.utils  # noqa: F401
    import optuna  # noqa: F401

    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(n), context.Queue()
    processes = [context.Process(target=_upgrade_in_child, args=(start, results)) for _ in range(n)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0, outcomes
    return outcomes


def _assert_exactly_one_migrated(results: list[dict[str, str]]) -> None:
    for schema in SCHEMAS:
        outcomes = Counter(result[schema] for result in results)
        assert outcomes == {"created": 1, "current": len(results) - 1}, (schema, outcomes)


@pytest.mark.postgres
@pytest.mark.slow
def test_concurrent_upgrade_all_on_postgres(
    postgres_databases: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _service_env(monkeypatch, postgres_databases)
    _assert_exactly_one_migrated(_concurrent_upgrades(3))
    assert upgrade_all(get_settings()) == dict.fromkeys(SCHEMAS, "current")


@pytest.mark.slow
def test_concurrent_upgrade_all_on_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    """The file locks; MLflow left to a (never contacted) server to keep this fast."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    results = _concurrent_upgrades(3)
    for schema in ("hpsearch", "optuna"):
        outcomes = Counter(result[schema] for result in results)
        assert outcomes == {"created": 1, "current": 2}, (schema, outcomes)
    assert upgrade_all(get_settings())["optuna"] == "current"
