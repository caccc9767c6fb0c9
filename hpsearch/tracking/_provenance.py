"""Where a run came from: package versions and the git commit of the code that ran it."""

from __future__ import annotations

import functools
import getpass
import subprocess
from importlib import metadata
from pathlib import Path

from hpsearch.tracking._tags import GIT_COMMIT

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # hpsearch/, inside the repository if any

_PACKAGES = ("numpy", "optuna", "mlflow")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def git_commit() -> str | None:
    """HEAD of the repository holding the hpsearch package, or None (installed wheel, no git)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(_PACKAGE_DIR), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


@functools.cache
def provenance_tags() -> dict[str, str]:
    """Tags every trial run carries; computed once per process (git is a subprocess)."""
    tags = {"hpsearch.version": _version("hpsearch")}  # the installed distribution's
    tags |= {f"hpsearch.{name}_version": _version(name) for name in _PACKAGES}
    # mlflow.* system tags: the UI shows them in its "Source", "User" and "Git commit" fields
    tags["mlflow.user"] = _user()
    tags["mlflow.source.type"] = "LOCAL"
    tags["mlflow.source.name"] = "hpsearch"
    commit = git_commit()
    if commit is not None:
        tags[GIT_COMMIT] = commit
        tags["mlflow.source.git.commit"] = commit
    return tags
