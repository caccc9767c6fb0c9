"""docker-compose.yml parses and interpolates; no Docker engine is needed for `config`.

`docker compose` (v2) and the standalone `docker-compose` (v1, Debian's) print the resolved
file in different long and short forms; the helpers below read both.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import require

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"postgres", "migrate", "mlflow", "worker", "optuna-dashboard"}
PASSWORD = "not-a-secret-7f3a"


@functools.cache
def _compose_command() -> tuple[str, ...]:
    """`docker compose` (the plugin) or the standalone `docker-compose`, whichever is there."""
    if shutil.which("docker") is not None:
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if plugin.returncode == 0:
            return ("docker", "compose")
    standalone = shutil.which("docker-compose")
    require(standalone is not None, "neither `docker compose` nor `docker-compose` is installed")
    return (str(standalone),)


def _config(directory: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # An empty --env-file: a developer's own .env must not fill in what the test leaves out.
    empty_env_file = directory / "empty.env"
    empty_env_file.write_text("")
    clean = {k: v for k, v in os.environ.items() if k not in {"POSTGRES_PASSWORD", "STUDY"}}
    return subprocess.run(
        [
            *_compose_command(),
            "-f",
            str(ROOT / "docker-compose.yml"),
            "--env-file",
            str(empty_env_file),
            "--profile",  # v2 leaves services of inactive profiles out of `config`
            "dashboard",
            "config",
        ],
        capture_output=True,
        text=True,
        env=clean | env,
        cwd=directory,
        check=False,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The resolved compose file, as both versions print it (YAML)."""
    result = _config(tmp_path_factory.mktemp("compose"), POSTGRES_PASSWORD=PASSWORD, STUDY="demo")
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert isinstance(resolved, dict)
    return resolved


def _service(config: dict[str, Any], name: str) -> dict[str, Any]:
    service = config["services"][name]
    assert isinstance(service, dict)
    return service


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source, from `src:dst[:mode]` (v1) or {source, target} (v2)."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        mounts[target] = source
    return mounts


def _host_ips(service: dict[str, Any]) -> list[str]:
    """The host address of each published port: `ip:host:container` (v1) or {host_ip} (v2)."""
    ports = service.get("ports", [])
    return [p.split(":")[0] if isinstance(p, str) else p.get("host_ip", "") for p in ports]


def test_compose_file_is_valid(config: dict[str, Any]) -> None:
    assert set(config["services"]) == SERVICES


def test_postgres_is_checked_kept_and_initialised(config: dict[str, Any]) -> None:
    postgres = _service(config, "postgres")
    assert any("pg_isready" in part for part in postgres["healthcheck"]["test"])
    mounts = _mounts(postgres)
    data = mounts["/var/lib/postgresql/data"]
    assert data in config["volumes"]  # a named volume, not a folder of the host
    init = mounts["/docker-entrypoint-initdb.d/10-hpsearch-databases.sh"]
    assert Path(init) == ROOT / "docker" / "postgres-init.sh"


def test_services_start_in_order(config: dict[str, Any]) -> None:
    migrate = _service(config, "migrate")
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    worker = _service(config, "worker")
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_ports_are_published_on_loopback_only(config: dict[str, Any]) -> None:
    assert _host_ips(_service(config, "mlflow")) == ["127.0.0.1"]
    for name in config["services"]:
        assert set(_host_ips(_service(config, name))) <= {"127.0.0.1"}, name


def test_worker_runs_hpsearch_worker(config: dict[str, Any]) -> None:
    worker = _service(config, "worker")
    assert worker.get("entrypoint") == ["hpsearch"]  # the image's, spelled out
    assert worker["command"] == ["worker", "demo"]


def test_password_is_in_no_command_line(config: dict[str, Any]) -> None:
    """`ps` and `docker inspect` show command lines: the password goes in the environment."""
    for name, service in config["services"].items():
        shown = [service.get(key) for key in ("command", "entrypoint", "healthcheck")]
        assert PASSWORD not in json.dumps(shown), name
    environments = json.dumps([s.get("environment") for s in config["services"].values()])
    assert f"{PASSWORD}@postgres:5432/optuna" in environments
    mlflow_env = _service(config, "mlflow")["environment"]
    assert mlflow_env["MLFLOW_BACKEND_STORE_URI"].endswith(f"{PASSWORD}@postgres:5432/mlflow")


def test_missing_password_fails_naming_it(tmp_path: Path) -> None:
    result = _config(tmp_path, STUDY="quickstart")
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stdout + result.stderr


def test_env_example_documents_the_required_variables() -> None:
    example = (ROOT / ".env.example").read_text()
    for name in ("POSTGRES_PASSWORD", "STUDY"):
        assert f"{name}=" in example
