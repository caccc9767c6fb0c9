"""Many hosts for real: a service host and three worker hosts (network namespaces), one of them
cut off mid-study. The others must fail its trial through heartbeats and retry it; the study
must end at exactly N with nothing RUNNING; once healed, the cut-off worker must exit cleanly.

The service host runs a private PostgreSQL (its own initdb data folder, started with pg_ctl,
listening only on the namespace's address; the system server is not touched) and an `mlflow
server`. Needs root (CI runs as root) and the PostgreSQL 15 binaries.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import require
from study.tiny import TINY_STUDY

from reliability.netns import Network

PG_BIN = Path("/usr/lib/postgresql/15/bin")
HERE = Path(__file__).parent
N_TRIALS = 9
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _run(command: list[str], **kwargs: Any) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, **kwargs)
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-2000:]}"


class Hosts:
    """The namespaces, the service host's PostgreSQL and MLflow server, and every process."""

    def __init__(self, net: Network, scratch: Path) -> None:
        self.net, self.scratch, self.processes = net, scratch, list[subprocess.Popen[bytes]]()
        self.address = net.service_address
        self.urls = {db: f"postgresql+psycopg://postgres@{self.address}:5432/{db}"
                     for db in ("optuna", "mlflow", "hpsearch")}  # fmt: skip
        self.env = {**os.environ,
                    "HPSEARCH_STORAGE_URL": self.urls["optuna"],
                    "HPSEARCH_DATABASE_URL": self.urls["hpsearch"],
                    "MLFLOW_TRACKING_URI": f"http://{self.address}:5000",
                    "HPSEARCH_HEARTBEAT_INTERVAL": "1", "HPSEARCH_HEARTBEAT_GRACE": "4",
                    "PYTHONPATH": str(HERE.parent)}  # fmt: skip

    def as_postgres(self, *command: str) -> None:
        _run([*self.net.exec_prefix(self.net.service), "runuser", "-u", "postgres", "--",
              *command], cwd=self.scratch)  # fmt: skip

    def start_postgres(self) -> None:
        data, sockets = self.scratch / "pgdata", self.scratch / "pgsock"
        for folder in (data, sockets):  # the server runs as postgres, never as root
            folder.mkdir(mode=0o700)
            shutil.chown(folder, "postgres")
        self.as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres",
                         "--auth=trust", "-E", "UTF8")  # fmt: skip
        with (data / "pg_hba.conf").open("a") as hba:  # the private subnet only, no password
            hba.write(f"host all all {self.net.subnet}.0/24 trust\n")
        options = (f"-c listen_addresses={self.address} -c unix_socket_directories={sockets}"
                   " -c fsync=off")  # fmt: skip
        log = str(sockets / "server.log")  # a folder the postgres user may write
        self.as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", log, "-o", options,
                         "-w", "start")  # fmt: skip
        for db in self.urls:
            self.as_postgres(str(PG_BIN / "createdb"), "-h", self.address, "-U", "postgres", db)

    def stop_postgres(self) -> None:
        data = self.scratch / "pgdata"
        if (data / "postmaster.pid").exists():
            subprocess.run([*self.net.exec_prefix(self.net.service), "runuser", "-u", "postgres",
                            "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate",
                            "stop"], capture_output=True, timeout=60, cwd=self.scratch)  # fmt: skip

    def spawn(self, host: str, *args: str, name: str, **env: str) -> subprocess.Popen[bytes]:
        log = (self.scratch / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [*self.net.exec_prefix(host), sys.executable, *args],
            env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
            cwd=self.scratch, start_new_session=True,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.scratch / f"{name}.log").read_text(errors="replace")

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, 9)
                process.wait(30)
        self.stop_postgres()


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    require(os.geteuid() == 0, "network namespaces need root")
    require(shutil.which("ip") is not None, "iproute2 (ip) is not installed")
    require((PG_BIN / "initdb").exists(), f"PostgreSQL 15 binaries not in {PG_BIN}")
    scratch = Path(tempfile.mkdtemp(prefix="hps-netns-"))  # not under pytest's 0700 folders:
    scratch.chmod(0o755)  # the postgres user must reach its data folder
    net = Network(n_workers=3)
    running = Hosts(net, scratch)
    try:
        net.open()
        yield running
    finally:  # always, whatever failed: processes, the server, the namespaces, the files
        running.close()
        net.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _wait(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def _trials(observed: Path) -> list[dict[str, Any]]:
    lines = observed.read_text().splitlines() if observed.exists() else []
    return json.loads(lines[-1])["trials"] if lines else []


def test_a_partitioned_worker_trial_is_retried_and_the_study_ends_at_exactly_n(
    hosts: Hosts,
) -> None:
    net, service = hosts.net, hosts.net.service
    hosts.start_postgres()
    upgrade = hosts.spawn(service, "-m", "hpsearch", "db", "upgrade", name="upgrade",
                          MLFLOW_TRACKING_URI=hosts.urls["mlflow"])  # fmt: skip
    assert upgrade.wait(180) == 0, hosts.log("upgrade")
    hosts.spawn(service, "-m", "mlflow", "server", "--backend-store-uri", hosts.urls["mlflow"],
                "--artifacts-destination", str(hosts.scratch / "artifacts"), "--serve-artifacts",
                "--host", hosts.address, "--port", "5000", "--workers", "1",
                "--allowed-hosts", f"{hosts.address},{hosts.address}:5000",
                name="mlflow")  # fmt: skip
    study = {**TINY_STUDY, "name": "netns", "epochs": 40, "budget": {"n_trials": N_TRIALS},
             "dataset": {"name": "digits", "val_fraction": 0.2, "seed": 0}}  # fmt: skip
    (hosts.scratch / "study.yaml").write_text(yaml.safe_dump(study))
    for _ in range(60):  # launch refuses (exit 2, nothing written) until MLflow answers
        queue = hosts.spawn(net.worker(1), "-m", "hpsearch", "launch", "study.yaml",
                            "--workers", "0", name="queue")  # fmt: skip
        if queue.wait(240) == 0:
            break
        time.sleep(2)
    assert queue.returncode == 0, hosts.log("queue")

    observed, stop = hosts.scratch / "observed.jsonl", hosts.scratch / "stop"
    hosts.spawn(net.worker(2), str(HERE / "partition_observer.py"), hosts.urls["optuna"],
                "netns", str(observed), str(stop), name="observer")  # fmt: skip
    workers = [hosts.spawn(net.worker(i), "-m", "hpsearch", "worker", "netns",
                           "--timeout", "400", name=f"worker-{i}") for i in range(3)]  # fmt: skip
    cut = f":{workers[0].pid}"  # the trial attribute `worker` is host:pid

    def cut_trial() -> dict[str, Any] | None:
        running = [t for t in _trials(observed) if t["state"] == "RUNNING"]
        return next((t for t in running if str(t["worker"]).endswith(cut)), None)

    stranded = _wait(cut_trial, 300, "worker 0 to run a trial")
    net.partition(0)  # link down: worker 0 can reach neither PostgreSQL nor MLflow

    def retried() -> bool:
        trials = _trials(observed)
        failed = any(t["number"] == stranded["number"] and t["state"] == "FAIL" for t in trials)
        return failed and any(t["retry_of"] == stranded["number"] for t in trials)

    _wait(retried, 120, f"the others to fail and retry trial {stranded['number']}")
    for index in (1, 2):
        assert workers[index].wait(300) == 0, hosts.log(f"worker-{index}")
    trials = _trials(observed)
    finished = [t for t in trials if t["state"] in ("COMPLETE", "PRUNED", "FAIL")]
    retried_numbers = {t["retry_of"] for t in trials if t["retry_of"] is not None}
    assert len(finished) - len(retried_numbers) == N_TRIALS  # exactly N, the failure not counted
    assert not [t for t in trials if t["state"] in ("RUNNING", "WAITING")]
    assert workers[0].poll() is None  # still cut off, still waiting on the network

    net.heal(0)
    assert workers[0].wait(240) == 0, hosts.log("worker-0")  # it rejoins, finds no work, exits
    assert "Traceback" not in hosts.log("worker-0")
    stop.touch()
    time.sleep(1)
    assert _trials(observed) == trials  # nothing changed after the heal: still exactly N
