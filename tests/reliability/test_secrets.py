"""No password in any log line, MLflow tag or param, Optuna attribute or catalog row.

The stores are PostgreSQL databases owned by a role with a password, reached through URLs that
carry it (the test server trusts local connections, so the password is never checked, but every
URL hpsearch handles contains it). After a real study, every row of all three databases, every
file under HPSEARCH_HOME and everything the commands printed are searched for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import POSTGRES_URL
from study.tiny import write_study

from reliability.faults import own_databases, reachable

PASSWORD = "S3cretPw"
pytestmark = pytest.mark.postgres


@pytest.fixture
def password_urls() -> Iterator[dict[str, str]]:
    """Three databases owned by a fresh role with a password; URLs that carry the password."""
    reachable(POSTGRES_URL)
    with own_databases(POSTGRES_URL, owner="hps_pw", password=PASSWORD) as urls:
        yield urls


def _hpsearch(*args: str, env: dict[str, str]) -> str:
    """Run a command; return everything it printed (its workers' output included)."""
    done = subprocess.run([sys.executable, "-m", "hpsearch", *args],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    shown = " ".join(arg if PASSWORD not in arg else "URL" for arg in args)  # not our own leak
    return f"$ hpsearch {shown} -> {done.returncode}\n{done.stdout}{done.stderr}"


def _rows_with_password(url: str) -> list[str]:
    """Every table, every row, every column, as text: where does the password appear?"""
    engine = sa.create_engine(url)
    found = []
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    if PASSWORD in repr(tuple(row)):
                        found.append(f"{table.name}: {tuple(row)!r}"[:300])
    finally:
        engine.dispose()
    return found


def test_no_password_in_logs_runs_attributes_or_catalog(
    password_urls: dict[str, str], tmp_path: Path, hpsearch_home: Path
) -> None:
    env = {
        **os.environ,
        "HPSEARCH_DATABASE_URL": password_urls["hpsearch"],
        "HPSEARCH_STORAGE_URL": password_urls["optuna"],
        "MLFLOW_TRACKING_URI": password_urls["mlflow"],
    }
    study = write_study(tmp_path, budget={"n_trials": 2}, epochs=2)
    broken = password_urls["optuna"].replace("5432", "1")  # the same URL, unreachable
    first = [("db", "upgrade"), ("launch", str(study), "--workers", "1")]
    then = [("status", "tiny"), ("studies", "--json"), ("status", "nosuch"),
            ("status", "tiny", "--storage", broken),
            ("worker", "tiny", "--storage", broken)]  # fmt: skip
    outputs = [_hpsearch(*args, env=env) for args in first]
    with ThreadPoolExecutor(max_workers=len(then)) as pool:  # independent: side by side
        outputs += pool.map(lambda args: _hpsearch(*args, env=env), then)
    output = "\n".join(outputs)
    assert "-> 0" in output.split("$ hpsearch launch")[1].splitlines()[0], output
    assert output.count("-> 2") == 3, output  # the three bad ones: one line each, exit 2
    assert PASSWORD not in output, output

    for store, url in password_urls.items():
        assert _rows_with_password(url) == [], f"password stored in the {store} database"
    for path in hpsearch_home.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), f"password in {path}"
