"""The private Optuna and MLflow APIs hpsearch uses (hpsearch/private_apis/), each checked here
against the installed versions: a new Optuna or MLflow that moves one fails this file first."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import tomllib
import warnings
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa
from optuna.distributions import FloatDistribution
from optuna.storages import InMemoryStorage, RDBStorage
from optuna.trial import TrialState
from packaging.requirements import Requirement
from packaging.version import Version

from hpsearch import private_apis
from hpsearch.study import rows
from hpsearch.study.pool import pop_slot
from hpsearch.study.storage import open_storage

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest, name: str) -> str:
    """A SQLite file under tmp_path, or a fresh PostgreSQL database of the test server."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / name}"
    return str(request.getfixturevalue("postgres_database"))


def _study(tmp_path: Path, name: str = "s") -> optuna.Study:
    storage = open_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    return optuna.create_study(
        storage=storage, study_name=name, direction="maximize", load_if_exists=True
    )


@pytest.mark.parametrize("package", ["optuna", "mlflow"])
def test_the_versions_these_were_checked_against_are_pinned(package: str) -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    requirement = {Requirement(t).name: Requirement(t) for t in project["dependencies"]}[package]
    upper = [Version(s.version) for s in requirement.specifier if s.operator == "<"]
    installed = Version(metadata.version(package))
    assert upper and installed < min(upper) and requirement.specifier.contains(installed)
    assert min(upper).major == installed.major + 1  # the next major version is not allowed


def test_study_and_trial_ids_and_the_storage_behind_them(tmp_path: Path) -> None:
    study = _study(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "heartbeat is supposed to be used with optimize"
        trial = study.ask()
    storage = private_apis.storage_of(study)
    assert storage.get_trial(private_apis.trial_id(trial)).number == trial.number
    assert private_apis.trial_id(study.trials[0]) == private_apis.trial_id(trial)
    assert private_apis.study_id(study) == storage.get_study_id_from_name("s")
    assert isinstance(private_apis.backend_of(storage), RDBStorage)
    assert private_apis.heartbeat_interval(storage) == storage.get_heartbeat_interval()  # type: ignore[attr-defined]
    assert private_apis.heartbeat_interval(InMemoryStorage()) is None


def test_stale_trials_are_found_by_their_heartbeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPSEARCH_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("HPSEARCH_HEARTBEAT_GRACE", "1")
    study = _study(tmp_path)
    study.enqueue_trial({})
    trial = pop_slot(study)  # beats once, then nobody beats again
    assert trial is not None
    assert private_apis.stale_trial_ids(study) == []
    time.sleep(2.5)
    assert private_apis.stale_trial_ids(study) == [private_apis.trial_id(trial)]


def test_optuna_trial_tables_answer_the_direct_queries(tmp_path: Path) -> None:
    study = _study(tmp_path)
    study.add_trial(optuna.trial.create_trial(value=0.5, state=TrialState.COMPLETE))
    trials, system_attrs, values = private_apis.optuna_trial_tables()
    assert (trials.name, system_attrs.name, values.name) == (
        "trials", "trial_system_attributes", "trial_values",
    )  # fmt: skip
    backend = rows.backend(study)
    assert rows.top_value_ids(backend, private_apis.study_id(study)) == [
        private_apis.trial_id(study.trials[0])
    ]  # uses finite_value_type()


def test_a_claimed_slot_sees_trials_other_workers_finished_meanwhile(tmp_path: Path) -> None:
    # issue 11 item 15: Study.ask forgets the study's per-trial cache; pop_slot must too, or the
    # sampler of the next trial works from the trials as they were before the last one
    mine, theirs = _study(tmp_path), _study(tmp_path)
    for _ in range(2):
        mine.enqueue_trial({})
    mine._get_trials(deepcopy=False, use_cache=True)  # what a sampler read during a trial
    other = pop_slot(theirs)
    assert other is not None
    theirs.tell(other, 0.9)
    assert pop_slot(mine) is not None
    complete = mine._get_trials(deepcopy=False, states=(TrialState.COMPLETE,), use_cache=True)
    assert [t.number for t in complete] == [other.number]


@pytest.mark.parametrize("storage", ["sqlite", "postgresql", "in-memory"])
def test_user_attributes_are_set_together_and_refused_together_once_finished(
    tmp_path: Path, storage: str, request: pytest.FixtureRequest
) -> None:
    if storage == "in-memory":
        study = optuna.create_study(storage=InMemoryStorage(), direction="maximize")
    else:
        rdb = (
            open_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
            if storage == "sqlite"
            else RDBStorage(request.getfixturevalue("postgres_database"))  # makes its tables
        )
        study = optuna.create_study(storage=rdb, direction="maximize")
    study.enqueue_trial({})
    trial = pop_slot(study) if storage != "in-memory" else study.ask()
    assert trial is not None
    trial.set_user_attr("seed", 1)
    private_apis.set_trial_user_attrs(trial, {"seed": 7, "hidden": [64, 32], "note": None})
    expected = {"seed": 7, "hidden": [64, 32], "note": None}
    assert trial.user_attrs == expected  # the trial's own copy, as set_user_attr keeps it
    stored = private_apis.storage_of(study).get_trial(private_apis.trial_id(trial))
    assert stored.user_attrs == expected
    study.tell(trial, 0.5)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        private_apis.set_trial_user_attrs(trial, {"late": 1, "seed": 8})
    assert study.trials[0].user_attrs == expected  # none of the refused batch was stored


@pytest.mark.parametrize("storage", ["sqlite", "postgresql"])
def test_a_finished_trial_is_claimed_by_exactly_one_of_many_racing_workers(
    tmp_path: Path, storage: str, request: pytest.FixtureRequest
) -> None:
    url = _database_url(storage, tmp_path, request, "optuna.db")
    study = optuna.create_study(storage=open_storage(url) if storage == "sqlite" else url)
    study.optimize(lambda trial: 1.0, n_trials=2)
    first, second = (private_apis.trial_id(t) for t in study.trials)
    workers = [RDBStorage(url) for _ in range(8)]  # one engine each, as separate processes
    start = threading.Barrier(len(workers))

    def claim(rdb: RDBStorage) -> bool:
        start.wait()
        return private_apis.claim_finished_trial(rdb, first, "hpsearch:test")

    with ThreadPoolExecutor(len(workers)) as pool:
        won = list(pool.map(claim, workers))
    assert won.count(True) == 1
    assert private_apis.claim_finished_trial(workers[0], second, "hpsearch:test")  # per trial
    assert private_apis.claim_finished_trial(workers[0], first, "hpsearch:other")  # per key
    assert study.trials[0].state == TrialState.COMPLETE  # the claim changed nothing else
    assert private_apis.claim_finished_trial(InMemoryStorage(), first, "hpsearch:test")


def test_mlflow_schema_helpers_on_a_real_sqlite_database(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        assert private_apis.mlflow_is_empty(engine)
        assert private_apis.mlflow_schema_version(engine) is None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SADeprecationWarning)
            private_apis.mlflow_create_tables(engine)
            private_apis.mlflow_upgrade(engine)  # already at head: nothing to do, no error
        assert not private_apis.mlflow_is_empty(engine)
        assert private_apis.mlflow_schema_version(engine) == private_apis.mlflow_head_revision()
    finally:
        engine.dispose()


def test_mlflow_records_an_explicitly_set_tracking_uri(tmp_path: Path) -> None:
    import mlflow

    before = private_apis.mlflow_explicit_tracking_uri()
    uri = f"sqlite:///{tmp_path / 'x.db'}"
    try:
        mlflow.set_tracking_uri(uri)
        assert private_apis.mlflow_explicit_tracking_uri() == uri
    finally:
        mlflow.set_tracking_uri(before)  # type: ignore[arg-type]
    assert private_apis.mlflow_explicit_tracking_uri() == before


def test_a_system_metrics_monitor_says_whether_it_logged_a_sample(tmp_path: Path) -> None:
    import mlflow
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    monitor = SystemMetricsMonitor(run_id, sampling_interval=0.2, tracking_uri=uri)
    assert not private_apis.monitor_has_logged(monitor)
    monitor.start()
    time.sleep(1.5)  # several whole intervals: the loop has published
    monitor.finish()
    assert private_apis.monitor_has_logged(monitor)


def test_metrics_a_run_has_are_linked_to_its_model_without_a_second_row(tmp_path: Path) -> None:
    import mlflow
    from mlflow.entities import Metric

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = client.create_experiment("e")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_batch(run_id, metrics=[Metric("val_accuracy", 0.5, 1000, 3)])
    model_id = client.create_logged_model(experiment_id, source_run_id=run_id).model_id
    linked = [Metric("val_accuracy", 0.5, 1000, 3, model_id=model_id, run_id=run_id)]
    assert private_apis.link_model_metrics(client, run_id, experiment_id, linked)
    model = client.get_logged_model(model_id)
    assert [(m.key, m.value, m.step) for m in model.metrics] == [("val_accuracy", 0.5, 3)]
    assert len(client.get_metric_history(run_id, "val_accuracy")) == 1
    server = mlflow.MlflowClient("http://127.0.0.1:9")  # no request is made to a server here
    assert not private_apis.link_model_metrics(server, run_id, experiment_id, linked)


@pytest.mark.parametrize("storage", ["sqlite", "in-memory"])
def test_suggested_parameters_are_held_then_written_together(tmp_path: Path, storage: str) -> None:
    rdb = open_storage(f"sqlite:///{tmp_path / 'optuna.db'}") if storage == "sqlite" else None
    study = optuna.create_study(storage=rdb or InMemoryStorage(), direction="maximize")
    trial = study.ask()
    with private_apis.held_trial_params(trial) as held:
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        width = trial.suggest_int("width", 8, 64)
        assert trial.params == {"lr": lr, "width": width}  # the trial knows them at once
        stored = private_apis.storage_of(study).get_trial(private_apis.trial_id(trial))
        assert stored.params == ({} if storage == "sqlite" else {"lr": lr, "width": width})
    private_apis.write_trial_params(trial, held)
    study.tell(trial, 0.5)
    assert study.trials[0].params == {"lr": lr, "width": width}
    assert study.trials[0].distributions["lr"] == FloatDistribution(1e-4, 1.0, log=True)
    late = study.ask()
    with private_apis.held_trial_params(late) as held:
        late.suggest_int("width", 8, 64)
    study.tell(late, 0.1)
    if storage == "sqlite":
        with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
            private_apis.write_trial_params(late, held)  # a finished trial refuses them
        again = study.ask()
        with private_apis.held_trial_params(again) as held:
            again.suggest_categorical("width", ["a", "b"])  # another kind than the study's
        with pytest.raises(ValueError, match="Cannot set different distribution kind"):
            private_apis.write_trial_params(again, held)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_oldest_tagged_run_read_from_mlflow_tables_is_the_one_its_client_finds(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    import mlflow

    uri = _database_url(backend, tmp_path, request, "mlflow.db")
    engine = sa.create_engine(uri)
    private_apis.mlflow_create_tables(engine)
    client = mlflow.MlflowClient(uri)
    tag = ("hpsearch.role", "study")
    assert private_apis.mlflow_oldest_run_tagged(engine, "e", tag) is None  # no experiment
    experiment = client.create_experiment("e")
    client.create_run(experiment, tags={"hpsearch.role": "trial"}, start_time=1)  # other tag
    deleted = client.create_run(experiment, tags=dict([tag]), start_time=2).info.run_id
    client.delete_run(deleted)
    late = client.create_run(experiment, tags=dict([tag]), start_time=9).info.run_id
    oldest = client.create_run(experiment, tags=dict([tag]), start_time=5).info.run_id
    client.set_terminated(oldest, "FINISHED")
    assert private_apis.mlflow_oldest_run_tagged(engine, "e", tag) == {
        "run_id": oldest,
        "status": "FINISHED",
    }
    assert late != oldest
    assert private_apis.mlflow_oldest_run_tagged(engine, "other", tag) is None
    engine.dispose()


def test_a_database_without_mlflow_tables_has_no_tagged_run(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert private_apis.mlflow_oldest_run_tagged(engine, "e", ("k", "v")) is None


_EXIT = """
import atexit, sys, threading, time
from hpsearch.private_apis import exit_at_once
atexit.register(lambda: print("handler ran", file=sys.stderr))
def late(): time.sleep(0.3); print("thread ended", file=sys.stderr)
threading.Thread(target=late).start()
print("buffered, not yet written", end="")
exit_at_once(3)
"""


def test_exit_at_once_joins_threads_runs_the_exit_handlers_and_flushes() -> None:
    # the `hpsearch` command and the worker processes end so (cli.main, worker_process): a
    # thread still working, the written output and the code must survive, in this order
    done = subprocess.run([sys.executable, "-c", _EXIT], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (
        3,
        "buffered, not yet written",
        "thread ended\nhandler ran\n",
    )
