"""hpsearch.stores: the kind of store a URL names and the file behind a SQLite URL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from hpsearch import stores


@pytest.mark.parametrize(
    ("url", "backend", "server_db", "tracking_server", "path"),
    [
        ("sqlite:////data/optuna.db", "sqlite", False, False, Path("/data/optuna.db")),
        ("sqlite:///rel/mlflow.db?timeout=5", "sqlite", False, False, Path("rel/mlflow.db")),
        ("sqlite:///:memory:", "sqlite", False, False, None),
        ("sqlite://", "sqlite", False, False, None),
        ("postgresql+psycopg://u:p@h:5432/optuna", "postgresql", True, False, None),
        ("mysql+pymysql://u@h/db", "mysql", True, False, None),
        ("http://127.0.0.1:5000", "http", False, True, None),
        ("./mlruns", None, False, False, None),
    ],
)
def test_the_kind_of_each_store_url(
    url: str, backend: str | None, server_db: bool, tracking_server: bool, path: Path | None
) -> None:
    assert stores.backend(url) == backend
    assert stores.is_database(url) == (backend in ("sqlite", "postgresql", "mysql"))
    assert stores.is_sqlite(url) == (backend == "sqlite")
    assert stores.is_server_database(url) == server_db
    assert stores.is_tracking_server(url) == tracking_server
    assert stores.sqlite_path(url) == path
    if backend is not None:
        assert stores.sqlite_path(sa.make_url(url)) == path


def test_a_missing_sqlite_file_is_the_only_store_that_does_not_exist(tmp_path: Path) -> None:
    assert not stores.exists(f"sqlite:///{tmp_path / 'absent.db'}")
    (tmp_path / "there.db").touch()
    assert stores.exists(f"sqlite:///{tmp_path / 'there.db'}")
    assert stores.exists("postgresql+psycopg://u@h/db") and stores.exists("http://h:5000")


def test_first_line_of_a_database_error(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(sa.exc.OperationalError) as info, engine.connect() as conn:
        conn.execute(sa.text("SELECT * FROM missing"))
    engine.dispose()
    assert stores.first_line(info.value) == "no such table: missing"  # the driver's own words
    assert stores.first_line(ValueError("one\ntwo")) == "one"
    assert stores.first_line(ValueError()) == "ValueError"
