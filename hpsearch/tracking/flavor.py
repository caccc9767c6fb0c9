"""Our MLP as an MLflow pyfunc model, without pickles.

A complete trial's model is an MLflow 3 logged model named "model", made by `log_trial_model`
(MLflow's logged-model calls on the trial's store, as `mlflow.pyfunc.log_model` makes them inside
a run, without its re-reads): it is listed in the experiment's Models tab, linked to the run and
to the run's metrics at the best epoch, and loads as `models:/m-...` or `runs:/RUN_ID/model`.
The model folder MLflow stores is

    model/
      MLmodel                 pyfunc flavour: loader_module=hpsearch.tracking.flavor, data=data/mlp
      data/mlp/weights.npz    hpsearch.nn.save_model's files, loaded with allow_pickle=False
      data/mlp/architecture.json
      input_example.json, serving_input_example.json, requirements.txt, python_env.yaml, ...

`mlflow.pyfunc.load_model(uri)` imports this module and calls `_load_pyfunc(data path)`.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hpsearch.nn import MLP, read_model_dir, save_model
from hpsearch.tracking._tags import WEIGHTS_SHA256

if TYPE_CHECKING:
    from mlflow import MlflowClient

LOADER_MODULE = "hpsearch.tracking.flavor"
DATA_SUBDIR = "mlp"  # MLflow copies it to <model>/data/mlp
MODEL_NAME = "model"  # the logged model's name: MLflow resolves runs:/RUN_ID/model by it
MLP_SUBDIR = Path("data") / DATA_SUBDIR  # the MLP inside a model folder


class PixelClassifier:
    """What `mlflow.pyfunc.load_model` wraps: pixels in, class labels out."""

    def __init__(self, model: MLP) -> None:
        self.model = model

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> np.ndarray:
        """(N, input_dim) pixels in [0, 1] as an ndarray or a DataFrame -> (N,) int64 labels.

        A DataFrame's columns are taken in order; their names do not matter.
        """
        X = np.asarray(model_input, dtype=np.float32)
        if X.ndim == 1:  # one image given as a flat vector
            X = X[None, :]
        return self.model.predict(X)


def _load_pyfunc(path: str) -> PixelClassifier:
    """MLflow's entry point: `path` is <model>/data/mlp."""
    return PixelClassifier(read_model_dir(Path(path)))


def signature(input_dim: int) -> Any:
    """float32 pixels (-1, input_dim) -> int64 labels (-1,), as tensor specs."""
    from mlflow.models import ModelSignature  # MLflow: loading a model folder must not need it
    from mlflow.types.schema import Schema, TensorSpec

    inputs = Schema([TensorSpec(np.dtype(np.float32), (-1, input_dim))])
    outputs = Schema([TensorSpec(np.dtype(np.int64), (-1,))])
    return ModelSignature(inputs=inputs, outputs=outputs)


@dataclass(frozen=True)
class LoggedMLP:
    """What `log_trial_model` made: the logged model's id and the hash of its weights."""

    model_id: str
    weights_sha256: str

    @property
    def uri(self) -> str:
        return f"models:/{self.model_id}"


def save_pyfunc_model(model: MLP, path: Path, input_example: np.ndarray) -> str:
    """Write `model` as a pyfunc model folder at `path` (must not exist); return weights' sha256.

    `input_example` is (n, input_dim) pixels, stored as JSON next to the MLmodel file.
    """
    import mlflow.pyfunc  # MLflow: loading a model folder must not need it

    with _staged(model) as (staging, sha256):
        mlflow.pyfunc.save_model(str(path), **_pyfunc_args(model, staging, input_example))
    return sha256


def log_trial_model(
    client: MlflowClient,
    run_id: str,
    model: MLP,
    input_example: np.ndarray,
    *,
    experiment_id: str,
    step: int,
    params: dict[str, str],
    tags: dict[str, str],
) -> LoggedMLP:
    """Log `model` as run `run_id`'s logged model "model", linked to the run at `step`.

    MLflow 3's protocol, call by call, on this client's store: a PENDING logged model in
    `experiment_id`, with the run's `params` (MLflow copies them) and `tags` (plus the weights'
    SHA-256, under the same tag name as on the run); its pyfunc folder; READY (FAILED if the
    folder could not be stored); the run's output at `step`. `mlflow.pyfunc.log_model` does the
    same inside an active run, and also re-reads the run's whole metric history to link the
    metrics at `step` (the caller links those it logged) and loads the model back to validate
    the serving example (one code path for every trial, checked by tests/tracking/
    test_flavor.py): most of a trial's model cost, for nothing new.
    """
    # MLflow: loading a model folder must not need it
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus

    with _staged(model) as (staging, sha256):
        logged = client.create_logged_model(
            experiment_id,
            name=MODEL_NAME,
            source_run_id=run_id,
            tags={**tags, WEIGHTS_SHA256: sha256},
            params=params,
        )
        try:
            _store_model_folder(client, logged, run_id, model, staging, input_example)
        except BaseException:
            with contextlib.suppress(Exception):  # must not hide why the folder failed
                client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
            raise
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=step)])
    return LoggedMLP(str(logged.model_id), sha256)


def _store_model_folder(
    client: MlflowClient,
    logged: Any,
    run_id: str,
    model: MLP,
    staging: Path,
    input_example: np.ndarray,
) -> None:
    """The pyfunc folder, its MLmodel naming the logged model and the run, in the model's
    artifact location."""
    import mlflow.pyfunc  # MLflow: loading a model folder must not need it
    from mlflow.models import Model

    metadata = Model(
        artifact_path=logged.artifact_location,
        model_uuid=logged.model_id,
        run_id=run_id,
        model_id=logged.model_id,
    )
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / MODEL_NAME
        mlflow.pyfunc.save_model(
            str(path), mlflow_model=metadata, **_pyfunc_args(model, staging, input_example)
        )
        client.log_model_artifacts(logged.model_id, str(path))


@contextlib.contextmanager
def _staged(model: MLP) -> Iterator[tuple[Path, str]]:
    """hpsearch.nn's files in a temporary folder named `mlp` (MLflow copies it by its name)."""
    with tempfile.TemporaryDirectory() as scratch, _quiet("mlflow"):
        staging = Path(scratch) / DATA_SUBDIR
        yield staging, save_model(model, staging)


def _pyfunc_args(model: MLP, staging: Path, input_example: np.ndarray) -> dict[str, Any]:
    return {
        "loader_module": LOADER_MODULE,
        "data_path": str(staging),
        "signature": signature(model.arch.input_dim),
        "input_example": np.ascontiguousarray(input_example, dtype=np.float32),
        "pip_requirements": _requirements(),
    }


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Hide a logger's INFO lines ("Validating input example..." on every trial) for a while."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _requirements() -> list[str]:
    """Pinned versions of what loading needs. hpsearch itself is not on PyPI, so it is left out:
    serve with `--env-manager local` from an environment where hpsearch is installed."""
    import mlflow  # MLflow: loading a model folder must not need it

    return [f"mlflow=={mlflow.__version__}", f"numpy=={np.__version__}"]


def mlp_dir(model_path: Path) -> Path:
    """The folder holding weights.npz and architecture.json inside a downloaded pyfunc model."""
    return Path(model_path) / MLP_SUBDIR


def read_mlflow_model_dir(model_path: Path) -> MLP:
    """The MLP inside a downloaded pyfunc model folder, without going through MLflow."""
    return read_model_dir(mlp_dir(model_path))
