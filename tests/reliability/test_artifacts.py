"""An artifact root the worker cannot write: the trial fails with the reason, the study goes on.

Tests run as root, which ignores file permissions, so the root is put *under a regular file*:
no one, root included, can create a folder there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState
from study.tiny import write_study

from hpsearch.study.progress import study_status
from reliability.faults import launch_study, load_study, trial_runs


def test_unwritable_artifact_root_fails_trials_clearly_and_the_study_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("a file, not a folder\n")
    monkeypatch.setenv("MLFLOW_ARTIFACTS_DESTINATION", (blocker / "sub").as_uri())
    path = write_study(tmp_path, budget={"n_trials": 2}, epochs=2)
    summary_error = None
    try:
        launch_study(path, workers=1)
    except OSError as exc:  # the study summary on the parent run cannot be written either
        summary_error = exc

    status = study_status(load_study("tiny"))
    assert status["finished"] == 2 and status["failed"] == 2 and status["retried"] == 0
    trials = load_study("tiny").get_trials()
    assert {t.state for t in trials} == {TrialState.FAIL}
    for trial in trials:
        reason = trial.user_attrs["fail_reason"]
        assert "Not a directory" in reason and str(blocker) in reason
    assert "trial 0 failed: NotADirectoryError" in capfd.readouterr().err
    assert [r.info.status for r in trial_runs("tiny")] == ["FAILED", "FAILED"]
    assert summary_error is None, f"the summary's failure escaped from launch: {summary_error!r}"
