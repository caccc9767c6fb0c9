"""The study's parent run in the service topology: `launch --workers 0`, then `hpsearch worker`.

Nobody waits for those workers, so the last one out must end the parent run and write the
summary; when they all died, `reconcile` does; `status` shows which it is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import mlflow
from mlflow.entities import Run

from hpsearch.settings import get_settings
from hpsearch.study.reconcile import reconcile
from reliability.faults import (
    GRACE_SECONDS,
    STUDY,
    Workers,
    launch_study,
    load_study,
    trials_in_flight,
    wait_for,
)

StudyPath = Callable[..., Path]


def _parent() -> Run:
    client = mlflow.MlflowClient(get_settings().mlflow_uri)
    experiment = client.get_experiment_by_name(STUDY)
    assert experiment is not None
    (run,) = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`hpsearch.role` = 'study'"
    )
    return run


def _summarised(run: Run) -> bool:
    client = mlflow.MlflowClient(get_settings().mlflow_uri)
    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    return "trials.csv" in files and "n_complete" in run.data.metrics


def _status() -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "hpsearch", "status", STUDY, "--json"],
                          capture_output=True, text=True, env=os.environ, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_the_last_worker_out_ends_the_parent_run_with_its_summary(
    workers: Workers, study_path: StudyPath
) -> None:
    launch_study(study_path(budget={"n_trials": 3}), workers=0)
    workers.start()
    workers.start()
    assert workers.wait_all(300) == [0, 0], workers.output()
    parent = _parent()
    assert parent.info.status == "FINISHED"
    assert _summarised(parent)
    assert parent.data.metrics["n_complete"] == 3 and "best_val_accuracy" in parent.data.metrics
    assert _status()["parent_run"] == {"run_id": parent.info.run_id, "status": "FINISHED"}


def test_reconcile_ends_the_parent_run_its_dead_workers_left_running(
    workers: Workers, study_path: StudyPath
) -> None:
    launch_study(study_path(budget={"n_trials": 2}), workers=0)
    workers.start()
    wait_for(lambda: trials_in_flight(load_study()), 60, "a trial in flight")
    workers.processes[0].send_signal(signal.SIGKILL)
    workers.processes[0].wait()
    assert _status()["parent_run"] == {"run_id": _parent().info.run_id, "status": "RUNNING"}
    time.sleep(GRACE_SECONDS + 1)

    outcome = reconcile(get_settings(), STUDY)
    assert outcome["failed"] == 1 and outcome["parent_ended"] == 1
    parent = _parent()
    assert parent.info.status == "FINISHED" and _summarised(parent)
    assert reconcile(get_settings(), STUDY)["parent_ended"] == 0  # nothing left to repair
