"""Fixtures for tracking tests: a real SQLite MLflow store per test, tiny data, a trained MLP."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from hpsearch.data import Dataset, Splits, make_splits
from hpsearch.settings import Settings, get_settings
from hpsearch.tracking import StudyTracker
from hpsearch.train import TrainConfig, TrainResult, train

INPUT_DIM = 16
N_CLASSES = 4


@pytest.fixture(scope="session")
def mlflow_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow database with its schema, made once: creating one costs ~2 s."""
    from hpsearch.tracking._store import open_client

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    open_client(f"sqlite:///{path}")
    return path


@pytest.fixture
def settings(hpsearch_home: Path, mlflow_db_template: Path) -> Settings:
    """The embedded default stores under this test's HPSEARCH_HOME, MLflow's schema in place."""
    hpsearch_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mlflow_db_template, hpsearch_home / "mlflow.db")
    return get_settings()


@pytest.fixture
def tracker(settings: Settings) -> StudyTracker:
    return StudyTracker("tiny-study", settings.mlflow_uri, settings.artifact_root)


def blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, INPUT_DIM) float32 in [0, 1] around one centre per class, and (n,) int64 labels."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).random((N_CLASSES, INPUT_DIM))
    y = rng.integers(0, N_CLASSES, n)
    x = np.clip(centres[y] + 0.15 * rng.standard_normal((n, INPUT_DIM)), 0, 1)
    return x.astype(np.float32), y.astype(np.int64)


@pytest.fixture(scope="session")
def splits() -> Splits:
    x_train, y_train = blobs(400, seed=1)
    x_test, y_test = blobs(100, seed=2)
    dataset = Dataset("blobs", x_train, y_train, x_test, y_test, N_CLASSES, (4, 4))
    return make_splits(dataset, val_fraction=0.25, seed=0)


@pytest.fixture(scope="session")
def result(splits: Splits) -> TrainResult:
    config = TrainConfig(hidden=(8,), epochs=3, batch_size=32, optimizer_params={"lr": 0.01})
    return train(config, splits)
