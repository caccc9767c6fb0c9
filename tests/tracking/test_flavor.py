"""The pyfunc model of a finished trial: loadable by MLflow alone, no pickle, same predictions."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from hpsearch.data import Splits
from hpsearch.nn import model_sha256
from hpsearch.settings import Settings
from hpsearch.tracking import StudyTracker, read_mlflow_model_dir
from hpsearch.tracking import _tags as T
from hpsearch.tracking.flavor import save_pyfunc_model
from hpsearch.train import TrainResult


@pytest.fixture
def logged_run(tracker: StudyTracker, result: TrainResult, splits: Splits) -> str:
    run_id = tracker.start_trial(0, {}, {}, seed=0, dataset_fingerprint="x")
    tracker.finish_complete(run_id, result, splits)
    return run_id


@pytest.fixture
def use_store(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # the fluent API is what a user of the model calls; point it at this test's store.
    # set_tracking_uri also writes MLFLOW_TRACKING_URI: monkeypatch removes it afterwards
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_uri)
    mlflow.set_tracking_uri(settings.mlflow_uri)
    yield
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None restores the default


@pytest.mark.usefixtures("use_store")
def test_pyfunc_predicts_like_the_mlp(logged_run: str, result: TrainResult, splits: Splits) -> None:
    model = mlflow.pyfunc.load_model(f"runs:/{logged_run}/model")
    expected = result.model.predict(splits.x_val)
    np.testing.assert_array_equal(model.predict(splits.x_val), expected)
    columns = [f"pixel_{i}" for i in range(splits.input_dim)]
    frame = pd.DataFrame(splits.x_val, columns=columns)
    labels = model.predict(frame)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, expected)


@pytest.mark.usefixtures("use_store")
def test_model_folder_has_no_pickle_and_a_signature(
    logged_run: str, tracker: StudyTracker, tmp_path: Path
) -> None:
    local = Path(
        mlflow.artifacts.download_artifacts(f"runs:/{logged_run}/model", dst_path=str(tmp_path))
    )
    files = [p for p in local.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in {".pkl", ".pickle", ".joblib", ".cloudpickle"}]
    for path in files:  # no pickle hiding under another name either (protocol 2+ opcode)
        assert not path.read_bytes().startswith(b"\x80"), path
    info = mlflow.models.get_model_info(str(local))
    (pixels,), (label,) = info.signature.inputs.inputs, info.signature.outputs.inputs
    assert (pixels.type, pixels.shape) == (np.dtype(np.float32), (-1, 16))
    assert (label.type, label.shape) == (np.dtype(np.int64), (-1,))
    example = json.loads((local / "input_example.json").read_text())
    assert np.asarray(example).shape == (5, 16)
    sha = tracker.client.get_run(logged_run).data.tags[T.WEIGHTS_SHA256]
    assert model_sha256(local / "data" / "mlp") == sha
    weights = read_mlflow_model_dir(local).state_dict()["layers.0.W"]
    np.testing.assert_array_equal(weights.shape, (16, 8))


def test_pyfunc_loads_in_a_fresh_process(
    logged_run: str, settings: Settings, splits: Splits, result: TrainResult, tmp_path: Path
) -> None:
    np.save(tmp_path / "x.npy", splits.x_val)
    code = (
        "import sys, numpy as np, mlflow.pyfunc\n"
        f"m = mlflow.pyfunc.load_model('runs:/{logged_run}/model')\n"
        f"np.save(sys.argv[1], m.predict(np.load({str(tmp_path / 'x.npy')!r})))\n"
    )
    env = {"MLFLOW_TRACKING_URI": settings.mlflow_uri, "PATH": "/usr/bin:/bin"}
    out = tmp_path / "y.npy"
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env, timeout=120)
    np.testing.assert_array_equal(np.load(out), result.model.predict(splits.x_val))


@pytest.mark.usefixtures("use_store")
def test_runs_uri_registers_and_loads_by_alias(
    logged_run: str, settings: Settings, splits: Splits, result: TrainResult
) -> None:
    # what `hpsearch best` does in MLflow 3: register the run's artifact folder, then alias it
    version = mlflow.register_model(f"runs:/{logged_run}/model", "tiny-study")
    assert version.run_id == logged_run
    client = mlflow.MlflowClient(settings.mlflow_uri)
    client.set_registered_model_alias("tiny-study", "champion", version.version)
    model = mlflow.pyfunc.load_model("models:/tiny-study@champion")
    np.testing.assert_array_equal(model.predict(splits.x_val), result.model.predict(splits.x_val))


def test_save_pyfunc_model_returns_the_weights_hash(result: TrainResult, tmp_path: Path) -> None:
    x = np.zeros((2, 16), np.float32)
    sha = save_pyfunc_model(result.model, tmp_path / "model", x)
    assert sha == model_sha256(tmp_path / "model" / "data" / "mlp")
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict(x), result.model.predict(x))
