"""Workers that die: SIGKILL (nobody is told), SIGTERM/SIGINT (told), and two detectors racing.

Each test kills real `hpsearch worker` processes in the middle of a trial.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import mlflow
import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.catalog import open_catalog
from hpsearch.settings import get_settings
from hpsearch.study.budget import count
from hpsearch.study.pool import pop_slot
from hpsearch.study.reconcile import fail_stale, reconcile
from hpsearch.study.storage import open_storage
from reliability.faults import (
    GRACE_SECONDS,
    Workers,
    launch_study,
    load_study,
    retries_of,
    run_status,
    trial_runs,
    trials_in_flight,
    wait_for,
    worker_pid,
)

StudyPath = Callable[..., Path]


@pytest.mark.postgres
def test_sigkill_one_of_two_workers_retries_its_trial_once(
    service: dict[str, str], workers: Workers, study_path: StudyPath
) -> None:
    path = study_path(budget={"n_trials": 3})
    launch_study(path, workers=0)
    workers.start()
    workers.start()
    study = load_study()
    victim = wait_for(lambda: trials_in_flight(study), 60, "a trial in flight")[0]
    workers.by_pid(worker_pid(victim)).send_signal(signal.SIGKILL)
    killed_at = time.monotonic()

    # the surviving worker's heartbeat thread fails it within the grace period (plus a beat)
    wait_for(lambda: study.trials[victim.number].state == TrialState.FAIL, 15, "the stale trial")
    assert time.monotonic() - killed_at <= GRACE_SECONDS + 4
    survivor = next(p for p in workers.processes if p.pid != worker_pid(victim))
    assert survivor.wait(120) == 0, workers.output()

    trials = study.get_trials()
    (retry,) = retries_of(trials, victim.number)
    assert retry.params == victim.params and retry.state == TrialState.COMPLETE
    assert retry.user_attrs["seed"] == victim.user_attrs["seed"]  # the same trial, again
    counts = count(trials)
    assert counts.finished == 3 and counts.retried == 1 and counts.running == counts.waiting == 0
    victim_run = trials[victim.number].user_attrs["mlflow_run_id"]
    assert run_status(victim_run) == "KILLED"
    assert run_status(retry.user_attrs["mlflow_run_id"]) == "FINISHED"
    assert {r.info.status for r in trial_runs()} == {"FINISHED", "KILLED"}


def test_sigkill_every_worker_then_reconcile_and_resume(
    workers: Workers, study_path: StudyPath
) -> None:
    path = study_path(budget={"n_trials": 3})
    launch_study(path, workers=0)
    workers.start()
    workers.start()
    study = load_study()
    wait_for(lambda: len(trials_in_flight(study)) == 2, 60, "two trials in flight")
    for process in workers.processes:
        process.send_signal(signal.SIGKILL)
        process.wait()

    settings = get_settings()
    assert reconcile(settings, "faults")["failed"] == 0  # heartbeats still fresh: hands off
    time.sleep(GRACE_SECONDS + 1)
    assert reconcile(settings, "faults") == {
        "failed": 2, "retried": 2, "runs_killed": 2, "running": 0, "parent_ended": 1
    }  # fmt: skip
    assert reconcile(settings, "faults")["failed"] == 0  # idempotent
    assert not study.get_trials(states=(TrialState.RUNNING,))
    assert {r.info.status for r in trial_runs()} == {"KILLED"}

    status = launch_study(path, workers=1)
    assert status["finished"] == 3 and status["retried"] == 2
    assert status["running"] == status["waiting"] == 0
    assert "RUNNING" not in {r.info.status for r in trial_runs()}


def test_reconcile_force_fails_running_trials_without_waiting(
    workers: Workers, study_path: StudyPath
) -> None:
    launch_study(study_path(budget={"n_trials": 1}), workers=0)
    workers.start()
    study = load_study()
    wait_for(lambda: trials_in_flight(study), 60, "a trial in flight")
    workers.processes[0].send_signal(signal.SIGKILL)
    workers.processes[0].wait()
    outcome = reconcile(get_settings(), "faults", force=True)
    assert outcome == {"failed": 1, "retried": 1, "runs_killed": 1, "running": 0, "parent_ended": 1}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_fail_the_trial_retry_it_and_exit(
    workers: Workers, study_path: StudyPath, signum: int
) -> None:
    launch_study(study_path(budget={"n_trials": 2}), workers=0)
    process = workers.start()
    study = load_study()
    victim = wait_for(lambda: trials_in_flight(study), 60, "a trial in flight")[0]
    process.send_signal(signum)
    stopped_at = time.monotonic()
    returncode = process.wait(30)
    # a few seconds on a quiet machine; the bound leaves room for a loaded CI runner, and is
    # still far below finishing the trial (which the FAIL + retry checks below rule out anyway)
    assert time.monotonic() - stopped_at < 10, "the worker must stop within seconds"
    assert "Traceback" not in workers.output()

    trials = study.get_trials()
    assert trials[victim.number].state == TrialState.FAIL
    (retry,) = retries_of(trials, victim.number)
    assert retry.state == TrialState.WAITING and retry.params == victim.params
    assert run_status(victim.user_attrs["mlflow_run_id"]) == "KILLED"
    assert not study.get_trials(states=(TrialState.RUNNING,))
    assert returncode == 130  # an interrupted worker says so in its exit code


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'optuna.db'}"
    from hpsearch.catalog.upgrade import upgrade_optuna

    url: str = request.getfixturevalue("postgres_database")
    upgrade_optuna(url)
    return url


def test_two_detectors_of_the_same_stale_trials_make_one_retry_each(
    storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPSEARCH_HEARTBEAT_GRACE", "1")
    study = optuna.create_study(study_name="race", storage=open_storage(storage_url))
    for _ in range(6):
        study.enqueue_trial({"x": 0.5})
    claimed = [pop_slot(study) for _ in range(6)]
    for trial in claimed:
        assert trial is not None
        trial.suggest_float("x", 0, 1)
        study._storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]
    time.sleep(2.5)  # every heartbeat is now older than the grace period

    # two workers: own connections (own storages), released by one barrier at the same moment
    detectors = [optuna.load_study(study_name="race", storage=open_storage(storage_url))
                 for _ in range(2)]  # fmt: skip
    barrier = threading.Barrier(2)
    failed: list[list[int]] = [[], []]

    def detect(index: int) -> None:
        barrier.wait()
        failed[index] = fail_stale(detectors[index])

    threads = [threading.Thread(target=detect, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(failed[0] + failed[1]) == sorted(t._trial_id for t in claimed if t)
    trials = study.get_trials()
    for trial in claimed:
        assert trial is not None
        assert len(retries_of(trials, trial.number)) == 1
    assert count(trials).waiting == 6


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_to_launch_stops_it_like_ctrl_c(
    study_path: StudyPath, tmp_path: Path, signum: int
) -> None:
    # before: SIGTERM killed the launcher outright: no clean-up, its launch row never ended
    stdout, stderr = tmp_path / "launch.out", tmp_path / "launch.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "hpsearch", "launch", str(study_path(budget={"n_trials": 4})),
             "--workers", "2"], stdout=out, stderr=err, env=os.environ.copy(),
        )  # fmt: skip
        try:
            # the study exists once the launcher says so; opening optuna.db earlier would race it
            wait_for(lambda: "trial(s) added" in stdout.read_text(), 60, "the study")
            study = load_study()
            wait_for(lambda: len(trials_in_flight(study)) == 2, 90, "two trials in flight")
            victims = trials_in_flight(study)
            process.send_signal(signum)
            stopped_at = time.monotonic()
            returncode = process.wait(30)
        finally:
            process.kill()
    assert time.monotonic() - stopped_at < 10, "the launch must stop within seconds"
    assert returncode == 130, stderr.read_text()  # Ctrl-C's exit code, for both signals
    assert "Traceback" not in stderr.read_text()

    trials = study.get_trials()
    assert not study.get_trials(states=(TrialState.RUNNING,))
    for victim in victims:
        assert trials[victim.number].state == TrialState.FAIL
        assert len(retries_of(trials, victim.number)) == 1
        assert run_status(victim.user_attrs["mlflow_run_id"]) == "KILLED"
    client = mlflow.MlflowClient(get_settings().mlflow_uri)
    experiment = client.get_experiment_by_name("faults")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])  # the study's parent run too
    assert "RUNNING" not in {r.info.status for r in runs}
    with open_catalog(get_settings()) as catalog:
        (launch,) = catalog.list_launches("faults")
    assert launch.ended_at is not None and launch.exit_status == 130
