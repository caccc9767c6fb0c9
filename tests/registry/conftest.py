"""One tiny study on `digits`, run once; every test gets its own copy of the stores.

Running the study costs a few seconds; copying its stores costs milliseconds. MLflow keeps
absolute artifact URIs in its database (runs' and logged models'), so a copy has them re-pointed
at the copy.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpsearch.data import Splits, load_splits
from hpsearch.settings import Settings, get_settings

STUDY_NAME = "reg-tiny"
STUDY: dict[str, Any] = {
    "name": STUDY_NAME,
    "dataset": {"name": "digits", "val_fraction": 0.2, "train_subset": 300, "seed": 0},
    "epochs": 3,
    "seed": 11,
    "search_space": {
        "lr": {"low": 1e-3, "high": 0.1, "log": True},
        "batch_size": {"choices": [32, 64]},
        "depth": {"low": 1, "high": 2},
        "width": {"low": 16, "high": 48, "log": True},
        "activation": {"choices": ["relu", "tanh"]},
        "optimizer": {"choices": ["sgd", "adam"]},
        "l2": 0.0,
    },
    "sampler": {"type": "random"},
    "pruner": {"type": "none"},
    "budget": {"n_trials": 3},
    # a deliberately weak trial first, so the alias rule has a worse version to refuse
    "enqueue": [
        {"hidden": [16], "activation": "tanh", "optimizer": "sgd", "lr": 1e-3, "batch_size": 64}
    ],
}


@dataclass(frozen=True)
class Template:
    home: Path


def _uris(home: Path) -> dict[str, str]:
    return {
        "storage_url": f"sqlite:///{home / 'optuna.db'}",
        "tracking_uri": f"sqlite:///{home / 'mlflow.db'}",
        "artifact_root": (home / "mlartifacts").as_uri(),
    }


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The stores of a finished 3-trial study (run in this process, one worker)."""
    from hpsearch.study.config import parse_study
    from hpsearch.study.pool import create_or_resume
    from hpsearch.study.storage import open_storage
    from hpsearch.study.worker import WorkerOptions, run_worker

    home = tmp_path_factory.mktemp("registry-template").resolve()
    uris = _uris(home)
    text = yaml.safe_dump(STUDY, sort_keys=False)
    config = parse_study(text)
    storage = open_storage(uris["storage_url"])
    create_or_resume(config, text, storage, config.budget.n_trials)
    options = WorkerOptions(
        STUDY_NAME, uris["storage_url"], uris["tracking_uri"], uris["artifact_root"], 1
    )
    assert run_worker(options) == config.budget.n_trials
    storage.engine.dispose()
    with sqlite3.connect(home / "optuna.db") as db:  # fold the WAL in: the file alone is whole
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Template(home)


@pytest.fixture
def settings(hpsearch_home: Path, template: Template) -> Settings:
    """This test's HPSEARCH_HOME holding a copy of the study's three stores."""
    shutil.copytree(template.home, hpsearch_home, ignore=shutil.ignore_patterns("*-shm", "*-lock"))
    old, new = template.home.as_uri(), hpsearch_home.resolve().as_uri()
    with sqlite3.connect(hpsearch_home / "mlflow.db") as db:
        db.execute(
            "UPDATE experiments SET artifact_location = replace(artifact_location, ?, ?)",
            (old, new),
        )
        db.execute("UPDATE runs SET artifact_uri = replace(artifact_uri, ?, ?)", (old, new))
        db.execute(
            "UPDATE logged_models SET artifact_location = replace(artifact_location, ?, ?)",
            (old, new),
        )
    return get_settings()


@pytest.fixture(scope="session")
def splits() -> Splits:
    data = STUDY["dataset"]
    return load_splits(
        data["name"],
        val_fraction=data["val_fraction"],
        train_subset=data["train_subset"],
        seed=data["seed"],
    )
