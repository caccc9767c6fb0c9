"""`serve_ui`: loopback by default, refuses to expose itself silently, starts, answers, stops."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hpsearch.errors import UserError
from hpsearch.settings import Settings
from hpsearch.tracking import StudyTracker, serve_ui
from hpsearch.tracking.ui import BEST_FIRST, is_loopback, server_command, server_env


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.7", "example.org", "::"])
def test_non_loopback_host_needs_allow_remote(settings: Settings, host: str) -> None:
    with pytest.raises(UserError, match="allow-remote"):
        serve_ui(settings, study_name=None, host=host)


def test_unknown_study_is_a_user_error(settings: Settings) -> None:
    with pytest.raises(UserError, match="no MLflow experiment for study 'nope'"):
        serve_ui(settings, study_name="nope")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_server_command_keeps_security_middleware(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_SERVER_ALLOWED_HOSTS", raising=False)
    local = server_command(settings, "127.0.0.1", 5005)
    assert "--allowed-hosts" not in local  # MLflow's default: localhost and private networks
    remote = server_command(settings, "mlflow.example.org", 5005)
    allowed = remote[remote.index("--allowed-hosts") + 1].split(",")
    assert {"mlflow.example.org", "mlflow.example.org:5005", "localhost", "127.0.0.1"} <= set(
        allowed
    )
    for command in (local, remote):
        assert not any("disable-security" in arg for arg in command)
        assert settings.mlflow_uri not in command  # passwords stay out of the process list
        assert command[command.index("--default-artifact-root") + 1] == settings.artifact_root
    assert server_env(settings)["MLFLOW_BACKEND_STORE_URI"] == settings.mlflow_uri


def read_url(process: subprocess.Popen[str], timeout_s: float = 120) -> str:
    """The experiment URL serve_ui prints once the server answers."""
    deadline = time.monotonic() + timeout_s
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if match := re.search(r"MLflow UI: (http://\S+)", line):
            return match.group(1)
        if not line and process.poll() is not None:
            break
    raise AssertionError(
        f"serve_ui printed no URL; stderr: {process.stderr.read() if process.stderr else ''}"
    )


def start_serve_ui(study_name: str | None, cwd: Path, *options: str) -> subprocess.Popen[str]:
    """`hpsearch ui [--study NAME] OPTIONS...` as a user runs it (HPSEARCH_HOME from the env)."""
    study = ["--study", study_name] if study_name else []
    return subprocess.Popen(
        [sys.executable, "-m", "hpsearch", "ui", *study, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=dict(os.environ),
    )


def stop_serve_ui(process: subprocess.Popen[str]) -> None:
    """Ctrl-C, as from a terminal; serve_ui must take its server down with it."""
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)


@pytest.mark.slow
def test_serve_ui_answers_and_stops_on_ctrl_c(settings: Settings, tmp_path: Path) -> None:
    tracker = StudyTracker("ui-study", settings.mlflow_uri, settings.artifact_root)
    process = start_serve_ui("ui-study", tmp_path)
    try:
        url = read_url(process)
        base, _, fragment = url.partition("/#/")
        assert fragment == f"experiments/{tracker.experiment_id}/runs?{BEST_FIRST}"
        assert base.startswith("http://127.0.0.1:")
        api = f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=ui-study"
        with urllib.request.urlopen(api, timeout=10) as response:
            answer = json.load(response)
        assert answer["experiment"]["experiment_id"] == tracker.experiment_id
    finally:
        stop_serve_ui(process)
    assert process.returncode == 0
    with pytest.raises(OSError):  # nothing listens there any more
        urllib.request.urlopen(f"{base}/health", timeout=2)


@pytest.mark.slow
def test_without_a_study_it_opens_the_study_that_ran_last(
    settings: Settings, tmp_path: Path
) -> None:
    older = StudyTracker("older-study", settings.mlflow_uri, settings.artifact_root)
    newer = StudyTracker("newer-study", settings.mlflow_uri, settings.artifact_root)
    for tracker in (older, newer):  # a trial each, newer's last
        tracker.start_trial(0, {}, {}, seed=0, dataset_fingerprint="f")
        time.sleep(0.01)
    process = start_serve_ui(None, tmp_path)
    try:
        assert read_url(process).endswith(f"/#/experiments/{newer.experiment_id}/runs?{BEST_FIRST}")
    finally:
        stop_serve_ui(process)


@pytest.mark.slow
def test_a_remote_bind_warns_that_mlflow_has_no_authentication(
    settings: Settings, tmp_path: Path
) -> None:
    process = start_serve_ui(None, tmp_path, "--host", "0.0.0.0", "--allow-remote")
    try:
        read_url(process)
    finally:
        stop_serve_ui(process)
    assert process.stderr is not None
    assert "no authentication" in process.stderr.read().lower()
