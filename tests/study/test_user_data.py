"""Studies on the user's own data, end to end through the command line: launch, best, predict,
train and replay on an IDX folder of 12x7 images in 3 classes and on an .npz of 9x11 in 4."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pytest
from data.synthetic import idx_folder, npz_file
from PIL import Image

from hpsearch.cli import command
from hpsearch.settings import get_settings
from study.tiny import write_study

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """`hpsearch ARGS...` in this process: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["hpsearch", *args])
        capsys.readouterr()
        try:
            command()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


SOURCES = {
    "idx": (lambda d: idx_folder(d / "blobs3", (12, 7), 3), (12, 7), 3),
    "npz": (lambda d: npz_file(d / "mine.npz", (9, 11), 4), (9, 11), 4),
}


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_launch_best_predict_on_the_users_data(cli: Cli, tmp_path: Path, kind: str) -> None:
    make, shape, n_classes = SOURCES[kind]
    source = make(tmp_path)
    dataset = {"name": str(source), "val_fraction": 0.2, "seed": 0}
    study = write_study(tmp_path, name=f"own-{kind}", dataset=dataset, epochs=3,
                        budget={"n_trials": 2})  # fmt: skip
    assert cli("launch", str(study), "--workers", "1")[0] == 0
    code, out, err = cli("best", f"own-{kind}", "--json", "--out", str(tmp_path / "model"))
    assert code == 0, err
    report = json.loads(out)
    architecture = json.loads((tmp_path / "model/data/mlp/architecture.json").read_text())
    assert architecture["input_dim"] == shape[0] * shape[1]
    assert architecture["n_classes"] == n_classes
    assert architecture.get("image_shape", list(shape)) == list(shape)

    code, out, err = cli("predict", report["model_uri"], "--dataset", str(source), "--json")
    assert code == 0, err
    assert json.loads(out)["accuracy"] == report["test_accuracy"] > 1.5 / n_classes
    picture = tmp_path / "one.png"
    Image.fromarray(np.full(shape, 200, np.uint8)).save(picture)
    code, out, err = cli("predict", str(tmp_path / "model"), "--images", str(picture), "--json")
    assert code == 0, err
    assert 0 <= json.loads(out)["predictions"][0] < n_classes

    # every run records the data's fingerprint and source, and names it in its inputs
    client = mlflow.MlflowClient(get_settings().mlflow_uri)
    run = client.get_run(report["run_id"])
    inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"training", "validation", "test"}
    assert {d.name for d in inputs.values()} == {source.stem}
    assert json.loads(inputs["training"].source) == {"uri": source.resolve().as_uri()}
    profile = json.loads(inputs["training"].profile)
    assert profile["fingerprint"] == run.data.tags["hpsearch.dataset_fingerprint"]

    assert cli("replay", f"own-{kind}", "0")[0] == 0
    code, out, err = cli("train", "--dataset", str(source), "--hidden", "8", "--epochs", "1",
                         "--out", str(tmp_path / "one"), "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["dataset_fingerprint"]


def test_a_hostile_npz_fails_every_command_in_one_line(cli: Cli, tmp_path: Path) -> None:
    hostile = npz_file(tmp_path / "bad.npz", (4, 4), 2, x_train=np.array([None] * 240))
    study = write_study(tmp_path, dataset={"name": str(hostile)}, budget={"n_trials": 1})
    for args in (("launch", str(study)), ("train", "--dataset", str(hostile), "--out",
                 str(tmp_path / "m"))):  # fmt: skip
        code, _, err = cli(*args)
        assert code == 2 and err.count("\n") == 1, err
        assert "dtype object refused" in err
