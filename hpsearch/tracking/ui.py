"""`hpsearch ui`: the MLflow UI on hpsearch's stores, started, waited for and stopped cleanly.

The server is `python -m mlflow server` in its own process group, so Ctrl-C reaches us first and
we stop the whole group (MLflow runs uvicorn workers under it). MLflow's security middleware stays
on: we only widen --allowed-hosts to the name the user asked to bind, never switch it off.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hpsearch import stores
from hpsearch.errors import UserError
from hpsearch.settings import Settings, mask_password
from hpsearch.signals import stop_signals_interrupt
from hpsearch.tracking._store import open_client
from hpsearch.tracking._tags import ROLE, ROLE_TRIAL

_START_TIMEOUT_S = 90.0
_STOP_TIMEOUT_S = 10.0
_NO_AUTH_WARNING = (
    "warning: the MLflow UI has no authentication: anyone who can reach {url} can read and "
    "change every run. Bind 127.0.0.1, or configure MLflow's basic-auth app, before exposing it."
)


def is_loopback(host: str) -> bool:
    """127.0.0.1, ::1 and localhost are loopback; 0.0.0.0 and every other name are not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now (the OS picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _url_host(host: str) -> str:
    """The host to put in a URL: the machine's name for a wildcard bind, [v6] bracketed."""
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1" if host == "0.0.0.0" else "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def base_url(host: str, port: int) -> str:
    return f"http://{_url_host(host)}:{port}"


def experiment_url(base: str, experiment_id: str | None) -> str:
    """The runs table of one experiment, or the experiment list when None.

    MLflow 3's bare experiment page opens on GenAI trace views; /runs is the training-runs table,
    here sorted best first (the URL holds the sort; the table's columns are the browser's own).
    """
    if not experiment_id:
        return f"{base}/#/experiments"
    return f"{base}/#/experiments/{experiment_id}/runs?{BEST_FIRST}"


BEST_FIRST = "orderByKey=metrics.%60best_val_accuracy%60&orderByAsc=false"


def latest_study_experiment_id(tracking_uri: str) -> str | None:
    """The experiment of the study whose trial started last, or None when there is none yet
    (`hpsearch ui` without --study then opens what the user most likely just launched)."""
    client = open_client(tracking_uri)
    experiment_ids = [e.experiment_id for e in client.search_experiments(max_results=1000)]
    if not experiment_ids:
        return None
    runs = client.search_runs(
        experiment_ids,
        filter_string=f"tags.`{ROLE}` = '{ROLE_TRIAL}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return str(runs[0].info.experiment_id) if runs else None


def find_experiment_id(tracking_uri: str, study_name: str) -> str:
    """The id of the study's experiment; UserError naming the store when there is none."""
    experiment = open_client(tracking_uri).get_experiment_by_name(study_name)
    if experiment is None or experiment.lifecycle_stage != "active":
        where = mask_password(tracking_uri)
        raise UserError(f"no MLflow experiment for study {study_name!r} in {where}")
    return str(experiment.experiment_id)


def _allowed_hosts(host: str, port: int) -> list[str]:
    """--allowed-hosts for a non-loopback bind: MLflow's defaults plus the names of this host.

    Passing the flag replaces MLflow's defaults (localhost and private networks), so they are
    kept; a user's own MLFLOW_SERVER_ALLOWED_HOSTS wins over all of this.
    """
    # MLflow: only for a remote bind
    from mlflow.server.security_utils import get_default_allowed_hosts

    names = {host}
    if host in ("0.0.0.0", "::"):
        names |= {socket.gethostname(), socket.getfqdn()}
    extra = sorted(n for n in names if n not in ("0.0.0.0", "::"))
    return [*get_default_allowed_hosts(), *extra, *(f"{n}:{port}" for n in extra)]


def server_command(settings: Settings, host: str, port: int) -> list[str]:
    """`mlflow server` on the artifact root; the backend store URI goes in its environment
    (server_env), so a password in it never shows in the process list."""
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--default-artifact-root",
        settings.artifact_root,
        "--artifacts-destination",
        settings.artifact_root,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    if not is_loopback(host) and not os.environ.get("MLFLOW_SERVER_ALLOWED_HOSTS"):
        command += ["--allowed-hosts", ",".join(_allowed_hosts(host, port))]
    return command


@dataclass
class UiServer:
    """A running MLflow UI: its process, its base URL and the URL of the study's experiment."""

    process: subprocess.Popen[bytes]
    url: str
    experiment_url: str
    log_path: Path

    def stop(self) -> None:
        """SIGTERM the server's whole process group, SIGKILL whatever lingers."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            if _wait_group_gone(self.process, _STOP_TIMEOUT_S):
                return


def _wait_group_gone(process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """True once the server and every process of its group have exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        process.poll()  # reaps the leader, so that signal 0 below can tell it is gone
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, timeout_s: float) -> bool:
    """Poll <url>/health until it answers 200 (True), the process dies or time runs out (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.2)
    return False


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _check_host(host: str, allow_remote: bool) -> None:
    if not is_loopback(host) and not allow_remote:
        raise UserError(
            f"refusing to bind the MLflow UI to {host}: it has no authentication. "
            "Use 127.0.0.1, or pass --allow-remote if you really mean to expose it"
        )


@contextlib.contextmanager
def running_ui(
    settings: Settings,
    *,
    study_name: str | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    allow_remote: bool = False,
) -> Iterator[UiServer]:
    """Start the MLflow UI, wait until it answers, yield it, stop it on the way out."""
    _check_host(host, allow_remote)
    if stores.is_tracking_server(settings.mlflow_uri):
        raise UserError(
            f"the tracking URI {mask_password(settings.mlflow_uri)} is a server already: "
            "open it in a browser"
        )
    settings.ensure_home()
    uri = settings.mlflow_uri
    if study_name:
        experiment_id: str | None = find_experiment_id(uri, study_name)
    else:
        experiment_id = latest_study_experiment_id(uri)
    port = port or free_port("127.0.0.1" if host in ("0.0.0.0", "::") else host)
    log_path = settings.home / "mlflow-ui.log"
    with open(log_path, "ab") as log:
        process = _start(settings, host, port, log)
    url = base_url(host, port)
    server = UiServer(process, url, experiment_url(url, experiment_id), log_path)
    try:
        if not wait_until_healthy(process, url, _START_TIMEOUT_S):
            raise UserError(f"the MLflow UI did not start; its log says:\n{_log_tail(log_path)}")
        yield server
    finally:
        server.stop()


def server_env(settings: Settings) -> dict[str, str]:
    """The server's environment: ours, plus the backend store URI `mlflow server` reads."""
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": settings.mlflow_uri}
    # MLflow's GenAI job runner (eight huey consumers) has nothing to do for a browsing UI
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    return env


def _start(settings: Settings, host: str, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    # a session of its own: the terminal's Ctrl-C reaches only us, and we stop the group
    return subprocess.Popen(
        server_command(settings, host, port),
        env=server_env(settings),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def serve_ui(
    settings: Settings,
    *,
    study_name: str | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    allow_remote: bool = False,
) -> None:
    """Run the MLflow UI until Ctrl-C or SIGTERM (or until the server exits), printing where."""
    with (
        stop_signals_interrupt(),  # `kill` must stop the server too: it has a session of its own
        running_ui(
            settings, study_name=study_name, host=host, port=port, allow_remote=allow_remote
        ) as server,
    ):
        if not is_loopback(host):
            print(_NO_AUTH_WARNING.format(url=server.url), file=sys.stderr, flush=True)
        print(f"MLflow UI: {server.experiment_url}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        try:
            code = server.process.wait()
        except KeyboardInterrupt:
            print("stopping the MLflow UI", file=sys.stderr, flush=True)
            return
        tail = _log_tail(server.log_path)
        raise UserError(f"the MLflow UI exited ({code}); its log says:\n{tail}")
