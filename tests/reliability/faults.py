"""Helpers of the fault tests: a study whose trials last long enough to be killed, real worker
processes, and readers of what the stores hold afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import mlflow
import optuna
import sqlalchemy as sa
from mlflow.entities import Run
from optuna.trial import FrozenTrial, TrialState
from study.tiny import TINY_STUDY, run_launch, write_study

from hpsearch.settings import get_settings
from hpsearch.study.storage import open_storage

T = TypeVar("T")
HEARTBEAT_ENV = {"HPSEARCH_HEARTBEAT_INTERVAL": "1", "HPSEARCH_HEARTBEAT_GRACE": "3"}
GRACE_SECONDS = 3
STUDY = "faults"

# ~100 short epochs on all of `digits`: a few seconds, so a trial can be caught mid-way
SLOW_STUDY: dict[str, Any] = {
    **TINY_STUDY,
    "name": STUDY,
    "dataset": {"name": "digits", "val_fraction": 0.2, "seed": 0},
    "epochs": 100,
    "search_space": {
        "lr": {"low": 0.01, "high": 0.1, "log": True},
        "batch_size": 32,
        "depth": 1,
        "width": 64,
        "activation": "relu",
        "optimizer": "sgd",
        "l2": 0.0,
    },
    "budget": {"n_trials": 3},
}


def write_slow_study(directory: Path, **changes: Any) -> Path:
    return write_study(directory, base=SLOW_STUDY, **changes)


# `hpsearch launch` in-process; workers=0 only creates the study and queues its trials.
launch_study = run_launch


def load_study(name: str = STUDY) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(get_settings().optuna_url))


def wait_for(condition: Callable[[], T], timeout: float, what: str) -> T:
    """Poll `condition` until it returns something truthy; fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def trials_in_flight(study: optuna.Study) -> list[FrozenTrial]:
    """RUNNING trials that have reported at least one epoch (their MLflow run exists)."""
    running = study.get_trials(states=(TrialState.RUNNING,))
    return [t for t in running if t.intermediate_values and "worker" in t.user_attrs]


def worker_pid(trial: FrozenTrial) -> int:
    return int(trial.user_attrs["worker"].rsplit(":", 1)[1])


def retries_of(trials: list[FrozenTrial], number: int) -> list[FrozenTrial]:
    return [t for t in trials if t.system_attrs.get("failed_trial") == number]


def trial_runs(name: str = STUDY) -> list[Run]:
    """The MLflow child runs (one per trial attempt) of the study's experiment."""
    client = mlflow.MlflowClient(get_settings().mlflow_uri)
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    return [r for r in runs if r.data.tags.get("hpsearch.role") == "trial"]


def run_status(run_id: str) -> str:
    return str(mlflow.MlflowClient(get_settings().mlflow_uri).get_run(run_id).info.status)


def reachable(admin_url: str) -> None:
    """Skip (fail under CI=true) when no PostgreSQL server answers at `admin_url`."""
    from conftest import require

    engine = sa.create_engine(admin_url)
    try:
        with engine.connect():
            pass
    except Exception as exc:
        require(False, f"PostgreSQL not reachable at {admin_url}: {type(exc).__name__}")
    finally:
        engine.dispose()


@contextlib.contextmanager
def own_databases(
    admin_url: str, owner: str | None = None, password: str | None = None
) -> Iterator[dict[str, str]]:
    """Three fresh databases (optuna, mlflow, hpsearch), optionally owned by a new role.

    The admin engine pings before use, so clean-up works even after the server restarted.
    Yields their URLs (with the owner and password when given); drops everything afterwards.
    """
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    tag = uuid.uuid4().hex[:10]
    names = {store: f"hps_rel_{store}_{tag}" for store in ("optuna", "mlflow", "hpsearch")}
    role = f"{owner}_{tag}" if owner else None
    with admin.connect() as conn:
        if role:
            conn.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
        for name in names.values():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f" OWNER {role}" if role else "")))
    base = sa.make_url(admin_url)
    if role:
        base = base.set(username=role, password=password)
    try:
        yield {store: base.set(database=name).render_as_string(hide_password=False)
               for store, name in names.items()}  # fmt: skip
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(
                    sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :n"), {"n": name},
                )  # fmt: skip
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            if role:
                conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


class Workers:
    """`python -m hpsearch worker NAME` processes, their output kept in files."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    def start(self, name: str = STUDY, *args: str) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"worker-{len(self.processes)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "hpsearch", "worker", name, *args],
            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )  # fmt: skip
        self.processes.append(process)
        self._logs.append(log)
        return process

    def by_pid(self, pid: int) -> subprocess.Popen[bytes]:
        return next(p for p in self.processes if p.pid == pid)

    def wait_all(self, timeout: float) -> list[int]:
        deadline = time.monotonic() + timeout
        return [p.wait(max(0.1, deadline - time.monotonic())) for p in self.processes]

    def output(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.log_dir.glob("worker-*.log")))

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
        for log in self._logs:
            log.close()
