"""`hpsearch dashboard`: optuna-dashboard on the study storage, tested like `hpsearch ui`: it
answers on loopback, and no command line carries the storage's password."""

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

import optuna
import psutil
import pytest
import sqlalchemy as sa

from hpsearch.errors import UserError
from hpsearch.settings import get_settings
from hpsearch.study.dashboard import serve_dashboard
from hpsearch.study.storage import open_storage

PASSWORD = "dash-s3cret"  # trust auth on the test server ignores it; it must still stay hidden


def _read_url(process: subprocess.Popen[str], timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if match := re.search(r"Optuna dashboard: (http://\S+)", line):
            return match.group(1)
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no URL; stderr: {process.stderr.read() if process.stderr else ''}")


def _get(url: str, timeout_s: float = 30) -> bytes:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return bytes(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.mark.slow
def test_dashboard_answers_on_loopback_and_hides_the_password(
    postgres_database: str, tmp_path: Path
) -> None:
    url = sa.make_url(postgres_database).set(password=PASSWORD).render_as_string(False)
    study = optuna.create_study(study_name="dash", storage=url, direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    env = {**os.environ, "HPSEARCH_STORAGE_URL": url}
    process = subprocess.Popen(
        [sys.executable, "-m", "hpsearch", "dashboard", "--study", "dash"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
    )  # fmt: skip
    try:
        page = _read_url(process)
        assert re.fullmatch(rf"http://127\.0\.0\.1:\d+/dashboard/studies/{study._study_id}", page)
        base = page.split("/dashboard")[0]
        studies = json.loads(_get(f"{base}/api/studies"))["study_summaries"]
        assert [s["study_name"] for s in studies] == ["dash"]
        assert b"<html" in _get(page).lower()
        server = psutil.Process(process.pid)
        listening = [c.laddr.ip for c in server.net_connections("inet") if c.status == "LISTEN"]
        assert listening == ["127.0.0.1"]  # loopback only
        for each in [server, *server.children(recursive=True)]:
            assert PASSWORD not in " ".join(each.cmdline())
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.stdout is not None and PASSWORD not in process.stdout.read()


def test_an_unknown_study_or_store_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no Optuna storage at"):
        serve_dashboard(get_settings(), study_name="dash")
    optuna.create_study(study_name="other", storage=open_storage(get_settings().optuna_url))
    with pytest.raises(UserError, match=r"no study named 'dash' .*\(studies: other\)"):
        serve_dashboard(get_settings(), study_name="dash")
