"""New SQLite MLflow stores copied from a blank one in the user cache (tracking/_blank_store.py):
the same schema as MLflow's own, each store its own Default experiment, a bad copy not used."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from hpsearch import private_apis
from hpsearch.tracking._store import open_client


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "hpsearch" / "mlflow-blank"


def _schema(path: Path) -> list[tuple[str, str, list[str]]]:
    """Every table, index and trigger with its SQL's clauses, sorted: MLflow's own migrations
    write a table's CHECK constraints in an order that changes from run to run."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        return [(kind, name, _clauses(sql or "")) for kind, name, sql in rows]


def _clauses(sql: str) -> list[str]:
    return sorted(line.strip().rstrip(",") for line in sql.splitlines())


def _experiments(path: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return list(db.execute("SELECT name, artifact_location FROM experiments"))


def test_a_copied_store_has_mlflows_own_schema_and_its_own_default_experiment(
    tmp_path: Path, cache: Path
) -> None:
    first, second, own = (tmp_path / name / "mlflow.db" for name in ("a", "b", "own"))
    open_client(f"sqlite:///{first}")  # made by MLflow's migrations; the blank kept
    (blank,) = cache.iterdir()
    assert blank.name.endswith(f"-{private_apis.mlflow_head_revision()}.sqlite")
    assert _experiments(blank) == []  # taken before MLflow added its Default experiment
    kept = blank.stat().st_ino
    open_client(f"sqlite:///{second}")  # the copy
    assert blank.stat().st_ino == kept  # used, not made again (that replaces the file)
    own.parent.mkdir()
    MlflowClient(tracking_uri=f"sqlite:///{own}").search_experiments()  # MLflow alone
    assert _schema(second) == _schema(own) == _schema(first)
    assert second.stat().st_mode == own.stat().st_mode  # as SQLite creates a file (umask)
    for store in (first, second):
        assert [name for name, _ in _experiments(store)] == ["Default"]  # MLflow's, made here


@pytest.mark.parametrize("damage", ["not sqlite", "not blank", "not at head"])
def test_a_bad_blank_copy_is_not_used_and_is_made_again(
    tmp_path: Path, cache: Path, damage: str
) -> None:
    open_client(f"sqlite:///{tmp_path / 'a' / 'mlflow.db'}")
    (blank,) = cache.iterdir()
    if damage == "not sqlite":
        blank.write_bytes(b"garbage" * 100)
    else:
        with contextlib.closing(sqlite3.connect(blank)) as db, db:
            if damage == "not blank":
                db.execute("INSERT INTO experiments (experiment_id, name, lifecycle_stage) "
                           "VALUES (7, 'stale', 'active')")  # fmt: skip
            else:
                db.execute("UPDATE alembic_version SET version_num = 'old'")
    store = tmp_path / "b" / "mlflow.db"
    client = open_client(f"sqlite:///{store}")
    assert [e.name for e in client.search_experiments()] == ["Default"]
    assert _schema(store) == _schema(tmp_path / "a" / "mlflow.db")
    assert _experiments(blank) == []  # made again, blank
