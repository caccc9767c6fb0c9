"""Security defaults: dependency floors above known advisories, and a UI bound to loopback."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
# the lowest versions we accept: MLflow's and NumPy's known advisories are fixed above these
FLOORS = {"mlflow": Version("3.5"), "numpy": Version("2")}


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    return {Requirement(text).name: Requirement(text) for text in project["dependencies"]}


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_dependency_floor_is_declared_and_installed(package: str) -> None:
    requirement = _requirements()[package]
    lower = [Version(s.version) for s in requirement.specifier if s.operator in (">=", ">")]
    assert lower and max(lower) >= FLOORS[package], f"{requirement} allows < {FLOORS[package]}"
    installed = Version(metadata.version(package))
    assert installed >= FLOORS[package] and requirement.specifier.contains(installed)


def test_ui_binds_loopback_by_default() -> None:
    from hpsearch.cli import ui
    from hpsearch.tracking import serve_ui

    assert inspect.signature(serve_ui).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(ui).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(serve_ui).parameters["allow_remote"].default is False


def test_ui_refuses_a_remote_host_without_the_flag(hpsearch_home: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "hpsearch", "ui", "--host", "0.0.0.0"],
                          capture_output=True, text=True, env=os.environ, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--allow-remote" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not hpsearch_home.exists()  # refused before any store was opened
