"""Worker processes of `hpsearch launch` that fail for real: the launch must say so and fail too.

The workers are real spawned processes; only their entry point is swapped (study/broken_workers).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from hpsearch.catalog import open_catalog
from hpsearch.cli import app
from hpsearch.settings import get_settings
from hpsearch.study import processes as worker_processes
from hpsearch.study.launch import WorkersFailed
from hpsearch.study.progress import study_status
from hpsearch.study.storage import open_storage
from study import broken_workers
from study.tiny import run_launch

StudyFile = Callable[..., Path]


def _launch_exit_statuses(name: str = "tiny") -> list[int | None]:
    with open_catalog(get_settings()) as catalog:
        return [launch.exit_status for launch in catalog.list_launches(name)]


def test_a_user_error_in_one_worker_fails_the_launch_with_2(
    study_file: StudyFile, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(worker_processes, "worker_process", broken_workers.first_loses_its_study)
    with pytest.raises(WorkersFailed) as failure:
        run_launch(study_file(), workers=2, tracking=False)
    assert failure.value.exit_code == 2
    assert "worker-0 (a user error" in str(failure.value) and "worker-1" not in str(failure.value)
    stderr = capfd.readouterr().err
    assert "error: worker-0: no study named 'gone'" in stderr and "Traceback" not in stderr
    study = optuna.load_study(study_name="tiny", storage=open_storage(get_settings().optuna_url))
    status = study_status(study)
    assert status["finished"] == 4  # the other worker still ran the study to its budget
    assert _launch_exit_statuses() == [2]


def test_a_killed_worker_fails_the_launch_with_1(
    study_file: StudyFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    # before: the launch returned normally (exit 0) and the catalog recorded -9
    monkeypatch.setattr(worker_processes, "worker_process", broken_workers.killed)
    with pytest.raises(WorkersFailed, match=r"worker-0 \(killed by SIGKILL\)") as failure:
        run_launch(study_file(), workers=1, tracking=False)
    assert failure.value.exit_code == 1
    assert _launch_exit_statuses() == [1]


def test_cli_reports_failed_workers_in_one_line_and_exits_2(
    study_file: StudyFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_processes, "worker_process", broken_workers.loses_its_study)
    args = ["launch", str(study_file()), "--workers", "2", "--no-tracking"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: worker process(es) failed: worker-0 (a user error, printed above), "
        "worker-1 (a user error, printed above)"
    ]


def test_an_existing_minimize_study_of_the_same_name_is_refused(study_file: StudyFile) -> None:
    """hpsearch maximises validation accuracy: adopting a minimize study would pick the worst."""
    storage = open_storage(get_settings().optuna_url)
    optuna.create_study(study_name="tiny", storage=storage, direction="minimize")
    storage.engine.dispose()
    import os
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "hpsearch", "launch", str(study_file()),
                             "--no-tracking"], capture_output=True, text=True, env=os.environ,
                            timeout=120)  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "minimize" in lines[0] and "'tiny'" in lines[0], result.stderr
    study = optuna.load_study(study_name="tiny", storage=open_storage(get_settings().optuna_url))
    assert study.trials == [] and study.user_attrs == {}  # nothing queued, nothing set
    assert not (get_settings().home / "hpsearch.db").exists()  # not even the catalog
