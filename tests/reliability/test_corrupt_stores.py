"""A corrupt or half-truncated optuna.db, mlflow.db or hpsearch.db: one line naming the file,
exit 2, and no store changed, because every store is probed before any is written
(issue 11 item 28)."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from study.tiny import TINY_STUDY

from reliability.hostile import Result, run_bounded

STORES = {"optuna.db": "the Optuna storage", "mlflow.db": "the MLflow store",
          "hpsearch.db": "the catalog database"}  # fmt: skip
DAMAGE = ("truncated", "garbage")


def _digests(home: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(home.iterdir())
            if p.is_file() and p.suffix == ".db"}  # fmt: skip


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a home after one real launch with tracking, its study file); WAL folded into the files."""
    root = tmp_path_factory.mktemp("corrupt-stores")
    study = root / "tiny.yaml"
    study.write_text(yaml.safe_dump({**TINY_STUDY, "budget": {"n_trials": 1}}))
    home = root / "healthy"
    result = run_bounded(["launch", str(study), "--workers", "1"], home)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in STORES:
        with contextlib.closing(sqlite3.connect(home / name)) as db:
            db.execute("PRAGMA journal_mode=DELETE")
    return home, study


@pytest.fixture(scope="module")
def results(healthy: tuple[Path, Path]) -> dict[tuple[str, str], tuple[Result, dict, dict]]:
    home, study = healthy

    def run(case: tuple[str, str]) -> tuple[Result, dict, dict]:
        name, damage = case
        copy = home.parent / f"{name}-{damage}"
        shutil.copytree(home, copy)
        path = copy / name
        if damage == "truncated":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        else:
            path.write_bytes(b"\x8f" * 4096)
        before = _digests(copy)
        args = ["launch", str(study), "--workers", "0", "--n-trials", "3"]
        return run_bounded(args, copy, timeout=60), before, _digests(copy)

    cases = [(name, damage) for name in STORES for damage in DAMAGE]
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(cases, pool.map(run, cases), strict=True))


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("name", sorted(STORES))
def test_a_corrupt_store_is_named_and_no_store_changes(
    results: dict[tuple[str, str], tuple[Result, dict, dict]], name: str, damage: str
) -> None:
    result, before, after = results[(name, damage)]
    line = result.one_line_error()
    assert f"{STORES[name]} " in line and f"/{name}: not a sound SQLite database" in line, line
    assert after == before  # not the Optuna budget, not a waiting trial, not the catalog
