"""Four workers on the embedded SQLite default (Optuna and MLflow both SQLite files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState
from study.tiny import write_study

from reliability.faults import launch_study, load_study, trial_runs


@pytest.mark.slow
def test_four_sqlite_workers_run_40_trials_without_lock_errors(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    dataset = {"name": "digits", "val_fraction": 0.2, "train_subset": 100}
    path = write_study(tmp_path, budget={"n_trials": 40}, epochs=2, dataset=dataset)
    status = launch_study(path, workers=4)
    output = capfd.readouterr()
    assert "database is locked" not in output.out + output.err
    assert status["finished"] == 40 and status["failed"] == status["retried"] == 0

    trials = load_study("tiny").get_trials()
    assert sorted(t.number for t in trials) == list(range(40))  # no trial claimed twice
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    runs = trial_runs("tiny")
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in runs) == list(range(40))
    assert {r.info.status for r in runs} <= {"FINISHED", "KILLED"}
