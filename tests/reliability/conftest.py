"""Fixtures of the fault tests: short heartbeats, the service stores on PostgreSQL, workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hpsearch.catalog import upgrade_all
from hpsearch.settings import get_settings
from reliability.faults import HEARTBEAT_ENV, Workers


@pytest.fixture(autouse=True)
def short_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    """A crashed worker's trial is stale after seconds, not the default 30 s."""
    for name, value in HEARTBEAT_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def service(postgres_databases: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The service layout: three PostgreSQL databases, migrated by `db upgrade`'s code path."""
    monkeypatch.setenv("HPSEARCH_DATABASE_URL", postgres_databases["hpsearch"])
    monkeypatch.setenv("HPSEARCH_STORAGE_URL", postgres_databases["optuna"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", postgres_databases["mlflow"])
    upgrade_all(get_settings())
    return postgres_databases


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """`hpsearch worker` processes; any still alive at the end are killed."""
    pool = Workers(tmp_path / "worker-logs")
    try:
        yield pool
    finally:
        pool.kill_all()


@pytest.fixture
def study_path(tmp_path: Path) -> Callable[..., Path]:
    from reliability.faults import write_slow_study

    return lambda **changes: write_slow_study(tmp_path, **changes)
