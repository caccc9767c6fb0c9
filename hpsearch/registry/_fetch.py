"""A resolved model source -> a verified local copy of the model folder -> an MLP.

    fetch_model(source, dest)   lists the artifacts, checks every path, downloads file by file
                                into a private staging folder, verifies the weights' SHA-256
                                against the value logged at training, then copies into `dest`.
    load_registered(ref)        resolves a models:/ or runs:/ reference (see _resolve) and
                                loads the verified copy.

Nothing reaches `dest` before every path is known safe and the weights are verified.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from hpsearch import stores
from hpsearch.errors import UserError
from hpsearch.nn import MLP, model_sha256, weights_sha256
from hpsearch.registry._paths import check_artifact_path, safe_destination
from hpsearch.registry._refs import MLMODEL
from hpsearch.registry._resolve import ModelSource, check_ref, resolve
from hpsearch.settings import mask_password
from hpsearch.signals import ScratchFolder
from hpsearch.tracking.flavor import mlp_dir, read_mlflow_model_dir

_MAX_FILES = 1000  # a model folder holds about ten; more means a wrong or hostile listing

__all__ = ["ModelSource", "fetch_model", "load_registered", "verify_weights"]


def _refuse_local_symlink(repo: Any, path: str) -> None:
    """In an artifact store on this disk, refuse a symbolic link: MLflow's download copies what
    it points at, so a planted link would bring a file from anywhere into the model folder."""
    root = getattr(repo, "artifact_dir", None)  # only LocalArtifactRepository has one
    if root is not None and (Path(root) / path).is_symlink():
        raise UserError(f"refusing artifact path {path!r}: it is a symbolic link in the store")


def list_files(repo: Any) -> list[str]:
    """Every file under the repository's root, as checked relative paths, sorted."""
    files: list[str] = []
    pending = [""]
    while pending:
        folder = pending.pop()
        for info in repo.list_artifacts(folder or None):
            check_artifact_path(info.path)
            _refuse_local_symlink(repo, info.path)
            if folder and not info.path.startswith(folder + "/"):
                raise UserError(f"refusing artifact path {info.path!r}: listed outside {folder}")
            (pending if info.is_dir else files).append(info.path)
            if len(files) + len(pending) > _MAX_FILES:
                raise UserError(f"more than {_MAX_FILES} artifacts: not a model folder")
    return sorted(files)


@contextlib.contextmanager
def _quiet_downloads() -> Iterator[None]:
    """No progress bar per file (ten bars for a 100 kB model), unless the user asked for them."""
    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    if name in os.environ:
        yield
        return
    os.environ[name] = "false"
    try:
        yield
    finally:
        os.environ.pop(name, None)


def _staging(repo: Any) -> ScratchFolder:
    """A scratch folder, removed on every way out. MLflow copies each file in its repository's
    thread pool: after a stop signal a copy may still run, and it would make the folder again
    once removed, so its copies end first."""
    pool = getattr(repo, "thread_pool", None)  # the repository is this fetch's own
    return ScratchFolder("hpsearch-fetch-", pool.shutdown if pool is not None else None)


def _download(repo: Any, files: list[str], staging: Path) -> None:
    """Each file into staging/<path>; the path was checked, and where it landed is checked."""
    with _quiet_downloads():
        for path in files:
            _download_one(repo, path, staging)


def _download_one(repo: Any, path: str, staging: Path) -> None:
    """staging/<path>; the path was checked before, and where the file landed is checked after."""
    expected = safe_destination(staging, path)
    local = Path(repo.download_artifacts(path, dst_path=str(staging)))
    if local.is_symlink() or local.resolve() != expected or not expected.is_file():
        raise UserError(f"refusing artifact path {path!r}: it was not downloaded as a file")


def verify_weights(folder: Path, source: ModelSource) -> str:
    """The model's checksum (architecture.json and weights.npz); UserError unless it is the
    logged one. A model logged before the checksum covered the architecture logged the weights'
    SHA-256 alone: that still verifies its weights (and only them)."""
    files = mlp_dir(folder)
    if not (files / "weights.npz").is_file() or not (files / "architecture.json").is_file():
        raise UserError(f"{source.ref}: no data/mlp/weights.npz and architecture.json: not an "
                        "hpsearch model")  # fmt: skip
    if source.weights_sha256 is None:  # nothing to check against: never load it unverified
        raise UserError(
            f"{source.ref}: no model SHA-256 was logged for this model, so it cannot be "
            "verified; refused (download the folder and load it by path if you trust it)"
        )
    actual = model_sha256(files)
    if source.weights_sha256 in (actual, weights_sha256(files)):
        return source.weights_sha256
    raise UserError(
        f"{source.ref}: the model (architecture.json + weights.npz) has SHA-256 {actual[:16]}... "
        f"but training logged {source.weights_sha256[:16]}...: the artifact was changed after "
        "training; refused"
    )


def _copy_into(staging: Path, files: list[str], dest: Path) -> None:
    """Copy staged files into dest, re-checking each destination; never follow or overwrite.
    All or nothing: interrupted or failing half-way, it removes what it wrote (a rerun finds
    `dest` as it was, not half a model)."""
    made = [] if dest.exists() else [dest]
    try:
        _copy_files(staging, files, dest, made)
    except BaseException:
        for path in reversed(made):
            with contextlib.suppress(OSError):
                path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
        raise


def _copy_files(staging: Path, files: list[str], dest: Path, made: list[Path]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for path in files:
        target = safe_destination(dest, path)
        made += [p for p in reversed(target.parents) if p.is_relative_to(dest) and not p.exists()]
        target.parent.mkdir(parents=True, exist_ok=True)
        safe_destination(dest, path)  # the folders just made: still inside, no symlink swapped in
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(target, flags, 0o644)  # O_EXCL: a file of ours from here on
        made.append(target)
        with open(staging / path, "rb") as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst)


def fetch_model(source: ModelSource, dest: Path, *, tracking_uri: str) -> str:
    """Download the model folder into `dest` (new or empty); return the weights' SHA-256.

    Raises UserError for an unsafe artifact path, a missing MLmodel, or tampered weights; in
    each case nothing is written under `dest`.
    """
    try:
        repo = get_artifact_repository(
            source.artifact_uri, tracking_uri=tracking_uri, registry_uri=tracking_uri
        )
        files = list_files(repo)
    except MlflowException as exc:
        where = mask_password(source.artifact_uri)
        message = f"{source.ref}: cannot list artifacts at {where}: {stores.first_line(exc)}"
        raise UserError(message) from None
    if MLMODEL not in files:
        raise UserError(f"{source.ref}: no MLmodel file at {source.artifact_uri}: not a model")
    for path in files:  # refuse before a single byte is downloaded
        safe_destination(dest, path)
    with _staging(repo) as staging:
        _download(repo, files, staging)
        sha = verify_weights(staging, source)
        _copy_into(staging, files, dest)
    return sha


def load_registered(ref: str, tracking_uri: str | None = None) -> MLP:
    """The MLP behind a models:/ or runs:/ reference, downloaded to a temporary folder and
    verified. `tracking_uri` defaults to the settings' (MLFLOW_TRACKING_URI or the home's)."""
    from hpsearch.settings import get_settings  # only without an explicit tracking URI
    from hpsearch.tracking._store import open_client  # MLflow: after the ref is checked

    check_ref(ref)
    uri = tracking_uri or get_settings().mlflow_uri
    if not stores.exists(uri):  # reading a model never creates a database
        raise UserError(
            f"no MLflow store at {stores.sqlite_path(uri)}: launch a study first (hpsearch launch)"
        )
    source = resolve(open_client(uri), ref)
    with ScratchFolder("hpsearch-model-") as scratch:
        folder = scratch / "model"
        fetch_model(source, folder, tracking_uri=uri)
        return read_mlflow_model_dir(folder)
