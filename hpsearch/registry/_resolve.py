"""Model references -> where the model folder lives and what its weights must hash to.

models:/NAME@ALIAS, models:/NAME/VERSION, models:/m-ID (a logged model), runs:/RUN_ID/PATH
runs:/RUN_ID/model is the run's logged model, or for runs logged before hpsearch used
logged models, the run's own `model` artifact folder.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from mlflow.entities import LoggedModel, Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from hpsearch import stores
from hpsearch.errors import UserError
from hpsearch.registry import _tags as R
from hpsearch.registry._paths import check_artifact_path
from hpsearch.registry._refs import USAGE
from hpsearch.tracking import _tags as T

_LOGGED_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")  # MLflow's ids: "m-" and a uuid4's hex


@dataclass(frozen=True)
class ModelSource:
    """Where a model folder lives and what its weights must hash to."""

    ref: str  # as the user wrote it, for messages
    artifact_uri: str  # the model folder in the artifact store
    run_id: str | None
    weights_sha256: str | None  # logged at training; None when the store does not know it
    model_id: str | None = None  # the MLflow 3 logged model, if it is one


def _run_source(client: MlflowClient, ref: str) -> ModelSource:
    run_id, _, path = ref.removeprefix("runs:/").partition("/")
    path = path.strip("/") or T.MODEL_PATH
    check_artifact_path(path)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise UserError(f"{ref}: no such run ({stores.first_line(exc)})") from None
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
        raise UserError(f"{ref}: no logged model {model_id} ({stores.first_line(exc)})") from None


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
        raise UserError(f"{ref}: not in the model registry ({stores.first_line(exc)})") from None
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
