"""Shared fixtures: an isolated HPSEARCH_HOME, PostgreSQL databases of our own, and `require`."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # also for subprocesses of fixtures
# Ctrl-C as a terminal gives it, even when the suite runs in the background (`cmd &` ignores
# SIGINT, and hpsearch keeps a signal ignored on entry ignored): the signal tests and the
# processes they start then see the same thing everywhere
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

POSTGRES_URL = os.environ.get(
    "HPSEARCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def require(condition: bool, reason: str) -> None:
    """Skip when a real part is missing, but under CI=true fail: CI must run every test."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"required under CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def hpsearch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own stores: nothing leaks between tests or into the working tree."""
    home = tmp_path / "hpsearch-home"
    monkeypatch.setenv("HPSEARCH_HOME", str(home))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")  # tests never touch the network
    for name in (
        "HPSEARCH_DATABASE_URL",
        "HPSEARCH_STORAGE_URL",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_ARTIFACTS_DESTINATION",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


def _postgres_admin() -> sa.Engine:

    engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            pass
    except Exception as exc:  # any connection failure means "no server here"
        engine.dispose()
        require(False, f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}")
    return engine


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """Create a fresh database on the test server; drop it afterwards. Yields its URL."""
    import sqlalchemy as sa

    engine = _postgres_admin()
    name = f"hpsearch_test_{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with engine.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()


@pytest.fixture
def postgres_databases() -> Iterator[dict[str, str]]:
    """Three databases (optuna, mlflow, hpsearch) as the service layout has: never one shared."""
    import sqlalchemy as sa

    engine = _postgres_admin()
    tag = uuid.uuid4().hex[:10]
    names = {role: f"hps_{role}_{tag}" for role in ("optuna", "mlflow", "hpsearch")}
    with engine.connect() as conn:
        for name in names.values():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = sa.make_url(POSTGRES_URL)
    urls = {
        role: base.set(database=name).render_as_string(hide_password=False)
        for role, name in names.items()
    }
    try:
        yield urls
    finally:
        with engine.connect() as conn:
            for name in names.values():
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                    ),
                    {"n": name},
                )
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()
