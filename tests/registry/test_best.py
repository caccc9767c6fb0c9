"""`best`: pick, test once, register, alias rule, download, verify; `load_model` from anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import FrozenTrial, TrialState
from PIL import Image

import hpsearch
from hpsearch.data import Splits
from hpsearch.errors import UserError
from hpsearch.registry import _tags as R
from hpsearch.registry import best, load_model
from hpsearch.registry._champion import Candidate, register_version
from hpsearch.registry._resolve import trial_model_source
from hpsearch.settings import Settings
from hpsearch.study.storage import load_existing_study, open_storage

from .conftest import STUDY_NAME


def _client(settings: Settings) -> MlflowClient:
    return MlflowClient(settings.mlflow_uri)


def _trials(settings: Settings) -> list[FrozenTrial]:
    study = load_existing_study(STUDY_NAME, open_storage(settings.optuna_url))
    return study.get_trials(states=(TrialState.COMPLETE,))


def _value(trial: FrozenTrial) -> float:
    assert trial.value is not None
    return trial.value


def _weights_in_store(settings: Settings, run_id: str) -> Path:
    """The weights of the run's logged model, where the artifact store keeps them."""
    client = _client(settings)
    model_id = client.get_run(run_id).data.tags["hpsearch.model_id"]
    uri = client.get_logged_model(model_id).artifact_location
    return Path(uri.removeprefix("file://")) / "data" / "mlp" / "weights.npz"


def test_best_registers_tests_once_and_downloads(settings: Settings, tmp_path: Path) -> None:
    report = best(settings, STUDY_NAME, out=tmp_path / "model")
    trials = _trials(settings)
    top = max(_value(t) for t in trials)
    assert report["val_accuracy"] == top
    assert report["trial"] == min(t.number for t in trials if t.value == top)
    assert report["model_uri"] == f"models:/{STUDY_NAME}@champion"
    assert (report["version"], report["champion"]) == ("1", "1")
    assert report["message"].startswith("alias champion -> version 1")
    assert report["path"] == str((tmp_path / "model").resolve())
    assert (tmp_path / "model" / "MLmodel").is_file()
    assert set(report) >= {"study", "trial", "run_id", "model_uri", "version", "val_accuracy",
                           "test_accuracy", "path"}  # fmt: skip

    client = _client(settings)
    history = client.get_metric_history(report["run_id"], R.TEST_ACCURACY)
    assert [m.value for m in history] == [report["test_accuracy"]]
    version = client.get_model_version(STUDY_NAME, "1")
    assert version.run_id == report["run_id"]
    run_tags = client.get_run(report["run_id"]).data.tags
    assert version.tags[R.WEIGHTS_SHA256] == run_tags["hpsearch.weights_sha256"]
    assert version.tags[R.DATASET_FINGERPRINT] == run_tags["hpsearch.dataset_fingerprint"]
    assert float(version.tags[R.VAL_ACCURACY]) == report["val_accuracy"]
    assert float(version.tags[R.TEST_ACCURACY_TAG]) == report["test_accuracy"]
    assert version.tags[R.TRIAL_NUMBER] == str(report["trial"])

    again = best(settings, STUDY_NAME, out=None)  # same run: same version, no second test
    assert (again["version"], again["test_accuracy"]) == ("1", report["test_accuracy"])
    assert again["message"] == f"champion already at version 1 (val {report['val_accuracy']:.4f})"
    assert len(client.search_model_versions(f"name = '{STUDY_NAME}'")) == 1
    assert len(client.get_metric_history(report["run_id"], R.TEST_ACCURACY)) == 1


def test_registry_run_and_folder_give_identical_predictions(
    settings: Settings, splits: Splits, tmp_path: Path
) -> None:
    report = best(settings, STUDY_NAME, out=tmp_path / "model")
    models = [
        hpsearch.load_model(f"models:/{STUDY_NAME}@champion"),  # the public entry point
        load_model(f"models:/{STUDY_NAME}/1"),
        load_model(f"runs:/{report['run_id']}/model"),
        load_model(tmp_path / "model"),
        load_model(tmp_path / "model" / "data" / "mlp"),  # the bare weights folder
    ]
    probabilities = [m.predict_proba(splits.x_test) for m in models]
    for p in probabilities[1:]:
        np.testing.assert_array_equal(p, probabilities[0])

    logged = _client(settings).get_run(report["run_id"]).data.metrics["best_val_accuracy"]
    folder_model = models[3]
    assert float((folder_model.predict(splits.x_val) == splits.y_val).mean()) == logged
    test = float((folder_model.predict(splits.x_test) == splits.y_test).mean())
    assert test == report["test_accuracy"]


def _candidate(settings: Settings, trial_number: int, fingerprint: str | None = None) -> Candidate:
    trial = next(t for t in _trials(settings) if t.number == trial_number)
    client = _client(settings)
    run = client.get_run(trial.user_attrs["mlflow_run_id"])
    fingerprint = fingerprint or run.data.tags["hpsearch.dataset_fingerprint"]
    source = trial_model_source(client, run)
    return Candidate(
        STUDY_NAME, trial.number, run.info.run_id, source.artifact_uri,
        _value(trial), 0.5, fingerprint, run.data.tags["hpsearch.weights_sha256"],
        source.model_id,
    )  # fmt: skip


@pytest.mark.parametrize("better", [True, False])
def test_a_champion_of_other_data_is_not_compared_on_accuracy(
    settings: Settings, better: bool
) -> None:
    """Validation accuracies on two datasets (or two splits of one) say nothing of each other."""
    report = best(settings, STUDY_NAME, out=None)
    client = _client(settings)
    worst = min(_trials(settings), key=_value)
    if better:  # the champion's accuracy, as if measured on other data, is now beaten
        client.set_model_version_tag(STUDY_NAME, "1", R.VAL_ACCURACY, str(_value(worst) / 2))
    other = _candidate(settings, worst.number, fingerprint="f" * 64)

    kept = register_version(client, STUDY_NAME, other, force=False)
    assert (kept.version, kept.champion) == ("2", "1")
    assert "other data" in kept.message and "--force" in kept.message
    assert "not better" not in kept.message
    forced = register_version(client, STUDY_NAME, other, force=True)
    assert forced.champion == "2" and "forced" in forced.message
    assert report["champion"] == "1"


def test_alias_moves_only_to_better_unless_forced(settings: Settings) -> None:
    report = best(settings, STUDY_NAME, out=None)
    worst = min(_trials(settings), key=_value)
    assert _value(worst) < report["val_accuracy"]
    client = _client(settings)
    worse = _candidate(settings, worst.number)

    kept = register_version(client, STUDY_NAME, worse, force=False)
    assert (kept.version, kept.champion) == ("2", "1")
    assert kept.message.startswith("kept champion at version 1")
    assert "not better" in kept.message

    forced = register_version(client, STUDY_NAME, worse, force=True)
    assert (forced.version, forced.champion, forced.created) == ("2", "2", False)
    assert forced.message.startswith("alias champion -> version 2 (forced")

    back = best(settings, STUDY_NAME, out=None)  # the better one takes it back, no force needed
    assert (back["version"], back["champion"]) == ("1", "1")
    assert back["message"] == (
        f"alias champion -> version 1 (val {report['val_accuracy']:.4f} > {_value(worst):.4f})"
    )
    assert len(client.search_model_versions(f"name = '{STUDY_NAME}'")) == 2

    worse_again = register_version(client, STUDY_NAME, worse, force=False)
    assert worse_again.champion == "1"
    assert best(settings, STUDY_NAME, out=None, force=True)["champion"] == "1"


def test_no_register_leaves_the_registry_alone(settings: Settings) -> None:
    report = best(settings, STUDY_NAME, out=None, register=False)
    assert report["version"] is None
    assert report["model_uri"] == f"runs:/{report['run_id']}/model"
    assert _client(settings).search_registered_models() == []
    assert R.TEST_ACCURACY in _client(settings).get_run(report["run_id"]).data.metrics


def test_tampered_weights_fail_the_checksum(settings: Settings, tmp_path: Path) -> None:
    report = best(settings, STUDY_NAME, out=None)
    weights = _weights_in_store(settings, report["run_id"])
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))

    out = tmp_path / "model"
    with pytest.raises(UserError, match=r"SHA-256 .* changed after training") as caught:
        best(settings, STUDY_NAME, out=out)
    assert "\n" not in str(caught.value)
    assert not out.exists()  # nothing lands in --out when verification fails
    for ref in (f"models:/{STUDY_NAME}@champion", f"runs:/{report['run_id']}/model"):
        with pytest.raises(UserError, match="changed after training"):
            load_model(ref)


@pytest.mark.parametrize("points_at", ["file", "folder"])
def test_a_symlink_planted_in_the_artifact_store_is_refused(
    settings: Settings, tmp_path: Path, points_at: str
) -> None:
    report = best(settings, STUDY_NAME, out=None)
    model_folder = _weights_in_store(settings, report["run_id"]).parents[2]
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("private")
    (model_folder / "leak").symlink_to(secret / "key.txt" if points_at == "file" else secret)

    out = tmp_path / "out"
    with pytest.raises(UserError, match="symbolic link"):
        best(settings, STUDY_NAME, out=out)
    assert not out.exists()
    for ref in (f"models:/{STUDY_NAME}@champion", f"runs:/{report['run_id']}/model"):
        with pytest.raises(UserError, match="symbolic link"):
            load_model(ref)


def test_user_errors_are_one_clear_line(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    cases = [
        (lambda: best(settings, "no-such-study", out=None), "no study named 'no-such-study'"),
        (lambda: best(settings, STUDY_NAME, out=tmp_path / "full"), "not empty"),
        (lambda: load_model("models:/no-such-model@champion"), "not in the model registry"),
        (lambda: load_model(f"models:/{STUDY_NAME}"), "expected models:/NAME@ALIAS"),
        (lambda: load_model(f"models:/{STUDY_NAME}/x"), "expected models:/NAME@ALIAS"),
        (lambda: load_model("runs:/"), "expected models:/NAME@ALIAS"),
        (lambda: load_model("runs:/0123456789abcdef/model"), "no such run"),
        (lambda: load_model("runs:/0123/../../etc"), "refusing artifact path"),
        (lambda: load_model(tmp_path / "nothing"), "no model at"),
    ]
    for call, message in cases:
        with pytest.raises(UserError, match=message) as caught:
            call()
        assert "\n" not in str(caught.value)
    assert (tmp_path / "full" / "x").read_text() == "keep me"


def test_a_study_without_complete_trials(settings: Settings) -> None:
    import yaml

    from hpsearch.study.config import parse_study
    from hpsearch.study.pool import create_or_resume

    from .conftest import STUDY

    text = yaml.safe_dump({**STUDY, "name": "empty", "enqueue": []})
    create_or_resume(parse_study(text), text, open_storage(settings.optuna_url), 2)
    with pytest.raises(UserError, match="'empty' has no COMPLETE trial"):
        best(settings, "empty", out=None)


def test_folder_layout_matches_the_flavour() -> None:
    from hpsearch.registry._load import MLP_SUBDIR
    from hpsearch.tracking.flavor import mlp_dir

    assert mlp_dir(Path("m")) == Path("m") / MLP_SUBDIR


def test_ties_go_to_fewer_parameters_then_the_earlier_trial() -> None:
    import optuna

    from hpsearch.registry._best import n_params, pick_best

    study = optuna.create_study(direction="maximize")
    trials = [(0.9, [64]), (0.95, [64]), (0.95, [16, 16]), (0.95, [16, 16]), (0.8, [8])]
    for value, hidden in trials:
        study.add_trial(optuna.trial.create_trial(value=value, user_attrs={"hidden": hidden}))
    assert n_params([16, 16], 64, 10) < n_params([64], 64, 10)
    assert pick_best(study, 64, 10).number == 2


def test_a_model_without_a_logged_checksum_is_refused(settings: Settings, tmp_path: Path) -> None:
    from hpsearch.registry._fetch import ModelSource, fetch_model

    report = best(settings, STUDY_NAME, out=tmp_path / "model")
    folder = (tmp_path / "model").as_uri()
    with pytest.raises(UserError, match="cannot be verified"):
        fetch_model(ModelSource("models:/x@y", folder, None, None), tmp_path / "out",
                    tracking_uri=settings.mlflow_uri)  # fmt: skip
    assert not (tmp_path / "out").exists()
    sha = _client(settings).get_run(report["run_id"]).data.tags["hpsearch.weights_sha256"]
    known = ModelSource("models:/x@y", folder, None, sha)
    assert fetch_model(known, tmp_path / "out", tracking_uri=settings.mlflow_uri) == sha


def _hpsearch(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hpsearch", *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=dict(os.environ), timeout=300
    )


def test_best_and_predict_commands_end_to_end(
    settings: Settings, splits: Splits, tmp_path: Path
) -> None:
    done = _hpsearch("best", STUDY_NAME, "--json", "--out", str(tmp_path / "model"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # exactly one JSON object on stdout
    assert report["model_uri"] == f"models:/{STUDY_NAME}@champion"
    assert report["path"] == str((tmp_path / "model").resolve())
    assert {"study", "trial", "run_id", "version", "val_accuracy", "test_accuracy"} <= set(report)

    done = _hpsearch("predict", report["model_uri"], "--dataset", "digits", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["accuracy"] == report["test_accuracy"]

    # the same digit drawn light-on-dark and dark-on-light, at another size: one answer
    pixels = (splits.x_test[0].reshape(8, 8) * 255).astype(np.uint8)
    Image.fromarray(pixels).resize((32, 32), Image.NEAREST).save(tmp_path / "dark.png")
    Image.fromarray(255 - pixels).resize((40, 40), Image.NEAREST).save(tmp_path / "light.png")
    done = _hpsearch("predict", str(tmp_path / "model"), "--images",
                     str(tmp_path / "dark.png"), str(tmp_path / "light.png"), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    first, second = json.loads(done.stdout)["predictions"]
    assert first == second and 0 <= first <= 9


def _architecture_in_store(settings: Settings, run_id: str) -> Path:
    return _weights_in_store(settings, run_id).with_name("architecture.json")


def test_a_changed_architecture_fails_the_checksum(settings: Settings, tmp_path: Path) -> None:
    report = best(settings, STUDY_NAME, out=None)
    path = _architecture_in_store(settings, report["run_id"])
    arch = json.loads(path.read_text())
    arch["activation"] = "sigmoid" if arch["activation"] != "sigmoid" else "tanh"
    path.write_text(json.dumps(arch))  # weights.npz untouched: same shapes, other function

    out = tmp_path / "model"
    with pytest.raises(UserError, match="changed after training") as caught:
        best(settings, STUDY_NAME, out=out)
    assert "\n" not in str(caught.value)
    assert not out.exists()
    for ref in (f"models:/{STUDY_NAME}@champion", f"runs:/{report['run_id']}/model"):
        with pytest.raises(UserError, match="changed after training"):
            load_model(ref)


def test_a_model_logged_by_the_previous_version_still_verifies(
    settings: Settings, tmp_path: Path
) -> None:
    """Before the checksum covered architecture.json, the tags held the weights' SHA-256 only."""
    from hpsearch.nn import weights_sha256

    report = best(settings, STUDY_NAME, out=None)
    client = _client(settings)
    old_sha = weights_sha256(_weights_in_store(settings, report["run_id"]).parent)
    client.set_tag(report["run_id"], "hpsearch.weights_sha256", old_sha)
    client.set_model_version_tag(STUDY_NAME, "1", R.WEIGHTS_SHA256, old_sha)
    for ref in (f"models:/{STUDY_NAME}@champion", f"runs:/{report['run_id']}/model"):
        assert load_model(ref).arch.input_dim == 64
    assert best(settings, STUDY_NAME, out=tmp_path / "model")["version"] == "1"
    weights = _weights_in_store(settings, report["run_id"])
    weights.write_bytes(weights.read_bytes()[:-100] + bytes(100))  # an old tag still guards
    with pytest.raises(UserError, match="changed after training"):
        load_model(f"runs:/{report['run_id']}/model")
