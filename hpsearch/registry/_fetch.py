"""Model references -> a verified local copy of the model folder -> an MLP.

    models:/NAME@ALIAS, models:/NAME/VERSION, models:/m-ID (a logged model), runs:/RUN_ID/PATH
                                resolved by `resolve`; runs:/RUN_ID/model is the run's logged
                                model, or for runs logged before hpsearch used logged models, the
                                run's own `model` artifact folder
    fetch_model(source, dest)   lists the artifacts, checks every path, downloads file by file
                                into a private staging folder, verifies the weights' SHA-256
                                against the value logged at training, then copies into `dest`.

Nothing reaches `dest` before every path is known safe and the weights are verified.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.entities import LoggedModel, Run
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracking import MlflowClient

from hpsearch import stores
from hpsearch.errors import UserError
from hpsearch.nn import MLP, model_sha256, weights_sha256
from hpsearch.registry import _tags as R
from hpsearch.registry._paths import check_artifact_path, safe_destination
from hpsearch.registry._refs import MLMODEL, USAGE
from hpsearch.settings import mask_password
from hpsearch.tracking import _tags as T
from hpsearch.tracking.flavor import mlp_dir, read_mlflow_model_dir

_LOGGED_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")  # MLflow's ids: "m-" and a uuid4's hex
_MAX_FILES = 1000  # a model folder holds about ten; more means a wrong or hostile listing


@dataclass(frozen=True)
class ModelSource:
    """Where a model folder lives and what its weights must hash to."""

    ref: str  # as the user wrote it, for messages
    artifact_uri: str  # the model folder in the artifact store
    run_id: str | None
    weights_sha256: str | None  # logged at training; None when the store does not know it
    model_id: str | None = None  # the MLflow 3 logged model, if it is one


def _first_line(exc: MlflowException) -> str:
    return stores.first_line(exc)


def _run_source(client: MlflowClient, ref: str) -> ModelSource:
    run_id, _, path = ref.removeprefix("runs:/").partition("/")
    path = path.strip("/") or T.MODEL_PATH
    check_artifact_path(path)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise UserError(f"{ref}: no such run ({_first_line(exc)})") from None
    if path == T.MODEL_PATH:
        return trial_model_source(client, run, ref)
    return ModelSource(ref, f"{run.info.artifact_uri.rstrip('/')}/{path}", run_id, None)


def trial_model_source(client: MlflowClient, run: Run, ref: str | None = None) -> ModelSource:
    """A trial run's model: its logged model, or (a run logged before hpsearch made logged
    models) the run's own `model` artifact folder. The hash is the one the run logged."""
    run_id = run.info.run_id
    ref = ref or f"runs:/{run_id}/{T.MODEL_PATH}"
    sha = run.data.tags.get(T.WEIGHTS_SHA256)
    model_id = run.data.tags.get(T.MODEL_ID)
    if model_id is None:
        return ModelSource(ref, f"{run.info.artifact_uri.rstrip('/')}/{T.MODEL_PATH}", run_id, sha)
    location = _logged_model(client, model_id, ref).artifact_location
    return ModelSource(ref, location, run_id, sha, model_id)


def _logged_model(client: MlflowClient, model_id: str, ref: str) -> LoggedModel:
    try:
        return client.get_logged_model(model_id)
    except MlflowException as exc:
        raise UserError(f"{ref}: no logged model {model_id} ({_first_line(exc)})") from None


def _logged_model_source(client: MlflowClient, ref: str, model_id: str) -> ModelSource:
    """models:/m-ID: the hash its source run logged (the trust of runs:/), else its own tag."""
    model = _logged_model(client, model_id, ref)
    sha = model.tags.get(T.WEIGHTS_SHA256)
    if model.source_run_id:
        with contextlib.suppress(MlflowException):
            run_tags = client.get_run(model.source_run_id).data.tags
            sha = run_tags.get(T.WEIGHTS_SHA256, sha)
    return ModelSource(ref, model.artifact_location, model.source_run_id, sha, model_id)


def _registry_source(client: MlflowClient, ref: str) -> ModelSource:
    model_id = logged_model_id(ref)
    if model_id is not None:
        return _logged_model_source(client, ref, model_id)
    name, alias, number = parse_registry_ref(ref)
    try:
        if alias:
            version = client.get_model_version_by_alias(name, alias)
        else:
            version = client.get_model_version(name, number)
        uri = client.get_model_version_download_uri(version.name, version.version)
    except MlflowException as exc:
        raise UserError(f"{ref}: not in the model registry ({_first_line(exc)})") from None
    run_id = version.run_id or None
    if uri.startswith("runs:/"):  # registered by another tool, relative to its run
        uri = _run_source(client, uri).artifact_uri
    sha = version.tags.get(R.WEIGHTS_SHA256)
    if sha is None and run_id is not None and uri.rstrip("/").endswith(f"/{T.MODEL_PATH}"):
        sha = client.get_run(run_id).data.tags.get(T.WEIGHTS_SHA256)  # the hash of that folder
    return ModelSource(ref, uri, run_id, sha, logged_model_id(version.source or ""))


def logged_model_id(ref: str) -> str | None:
    """models:/m-0123...ef -> "m-0123...ef"; None for any other reference."""
    body = ref.removeprefix("models:/")
    return body if ref.startswith("models:/") and _LOGGED_MODEL_ID.fullmatch(body) else None


def parse_registry_ref(ref: str) -> tuple[str, str, str]:
    """models:/NAME@ALIAS -> (NAME, ALIAS, ""); models:/NAME/VERSION -> (NAME, "", VERSION)."""
    body = ref.removeprefix("models:/")
    name, at, alias = body.rpartition("@")
    if at and name and alias:
        return name, alias, ""
    name, slash, number = body.rpartition("/")
    if slash and name and number.isdigit():
        return name, "", number
    raise UserError(f"{ref}: {USAGE}")


def check_ref(ref: str) -> None:
    """Refuse a malformed models:/ or runs:/ reference before any store is opened."""
    if ref.startswith("models:/"):
        if logged_model_id(ref) is None:
            parse_registry_ref(ref)
    elif not ref.startswith("runs:/") or not ref.removeprefix("runs:/").split("/", 1)[0]:
        raise UserError(f"{ref}: {USAGE}")


def resolve(client: MlflowClient, ref: str) -> ModelSource:
    """A models:/ or runs:/ reference -> the model folder's artifact URI and expected hash."""
    if ref.startswith("runs:/"):
        return _run_source(client, ref)
    if ref.startswith("models:/"):
        return _registry_source(client, ref)
    raise UserError(f"{ref}: {USAGE}")


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


@contextlib.contextmanager
def _staging(repo: Any) -> Iterator[Path]:
    """A scratch folder, removed on every way out. MLflow copies each file in its repository's
    thread pool: after a stop signal a copy may still run, and it would make the folder again
    once removed, so its copies end first."""
    scratch = Path(tempfile.mkdtemp(prefix="hpsearch-fetch-"))
    try:
        yield scratch
    finally:
        pool = getattr(repo, "thread_pool", None)
        if pool is not None:
            pool.shutdown(wait=True)  # the repository is this fetch's own
        shutil.rmtree(scratch, ignore_errors=True)


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
        message = f"{source.ref}: cannot list artifacts at {where}: {_first_line(exc)}"
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
    with tempfile.TemporaryDirectory(prefix="hpsearch-model-") as scratch:
        folder = Path(scratch) / "model"
        fetch_model(source, folder, tracking_uri=uri)
        return read_mlflow_model_dir(folder)
