"""docker-compose.yml parses and interpolates; no Docker engine is needed for `config`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import require

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"postgres", "migrate", "mlflow", "worker"}


def _compose_command() -> list[str]:
    """`docker compose` (the plugin) or the standalone `docker-compose`."""
    if shutil.which("docker") is None:
        pytest.skip("the docker client is not installed")
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if plugin.returncode == 0:
        return ["docker", "compose"]
    standalone = shutil.which("docker-compose")
    require(standalone is not None, "neither `docker compose` nor `docker-compose` is installed")
    return [str(standalone)]


def _config(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # An empty --env-file: a developer's own .env must not fill in what the test leaves out.
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    clean = {k: v for k, v in os.environ.items() if k not in {"POSTGRES_PASSWORD", "STUDY"}}
    return subprocess.run(
        [
            *_compose_command(),
            "-f",
            str(ROOT / "docker-compose.yml"),
            "--env-file",
            str(empty_env_file),
            "config",
        ],
        capture_output=True,
        text=True,
        env=clean | env,
        cwd=tmp_path,
        check=False,
    )


def test_compose_file_is_valid(tmp_path: Path) -> None:
    result = _config(tmp_path, POSTGRES_PASSWORD="not-a-secret", STUDY="quickstart")
    assert result.returncode == 0, result.stderr
    for service in SERVICES:
        assert f"\n  {service}:\n" in result.stdout
    assert "127.0.0.1:5000:5000" in result.stdout  # the UI is not published beyond the host
    assert "not-a-secret@postgres:5432/optuna" in result.stdout


def test_missing_password_fails_naming_it(tmp_path: Path) -> None:
    result = _config(tmp_path, STUDY="quickstart")
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stdout + result.stderr


def test_env_example_documents_the_required_variables() -> None:
    example = (ROOT / ".env.example").read_text()
    for name in ("POSTGRES_PASSWORD", "STUDY"):
        assert f"{name}=" in example
