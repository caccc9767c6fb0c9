"""Deleting a trial run's model artifacts through MLflow's own APIs, never a registered one.

A 1024-1024 model is about 4 MB, so a 1,000-trial study kept every model in 4 GB. The study
layer decides which trials keep theirs (the K best, see hpsearch/study/retention.py); this
module frees the others. It goes through MLflow's artifact repositories, so the same call works
on a local artifact folder and on a tracking server's proxied artifact store (`mlflow-artifacts:`
URIs, deleted by HTTP through the server). A model that any registered model version was made
from is never deleted, whatever its rank. Metrics, params, tags and figures stay.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow.entities import Run
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracking import MlflowClient

from hpsearch.tracking import _tags as T

MODEL_DELETED = "hpsearch.model_deleted"  # run tag: its model artifacts were freed by gc


@dataclass(frozen=True)
class Freed:
    run_id: str
    bytes: int


def has_model(run: Run) -> bool:
    """A complete trial's run whose model has not been deleted yet."""
    tags = run.data.tags
    return tags.get(T.STATE) == "complete" and tags.get(MODEL_DELETED) != "true"


def is_registered(client: MlflowClient, run_id: str) -> bool:
    """True when any registered model version was made from this run (champion or not)."""
    return bool(client.search_model_versions(f"run_id = '{run_id}'", max_results=1))


def _model_artifacts(client: MlflowClient, run: Run) -> tuple[object, str | None]:
    """(artifact repository, path in it) of the run's model: its logged model (MLflow 3), or
    the `model` folder among the run's own artifacts (models logged before)."""
    model_id = run.data.tags.get(T.MODEL_ID)
    if model_id:
        location = client.get_logged_model(model_id).artifact_location
        return get_artifact_repository(location, tracking_uri=client.tracking_uri), None
    uri = run.info.artifact_uri
    return get_artifact_repository(uri, tracking_uri=client.tracking_uri), T.MODEL_PATH


def _size(repo: object, path: str | None) -> int:
    total = 0
    for info in repo.list_artifacts(path):  # type: ignore[attr-defined]
        total += _size(repo, info.path) if info.is_dir else int(info.file_size or 0)
    return total


def free_model(client: MlflowClient, run: Run, *, dry_run: bool = False) -> Freed | None:
    """Delete the run's model artifacts (or only measure them); None if it must stay."""
    if not has_model(run) or is_registered(client, run.info.run_id):
        return None
    repo, path = _model_artifacts(client, run)
    size = _size(repo, path)
    if not dry_run:
        repo.delete_artifacts(path)  # type: ignore[attr-defined]
        if run.data.tags.get(T.MODEL_ID):  # the logged model's record goes too
            client.delete_logged_model(run.data.tags[T.MODEL_ID])
        client.set_tag(run.info.run_id, MODEL_DELETED, "true")
    return Freed(run.info.run_id, size)


def trial_runs_with_models(client: MlflowClient, experiment_id: str) -> dict[str, Run]:
    """{run id: run} of the study's complete trial runs that still have their model."""
    found: dict[str, Run] = {}
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{T.STATE}` = 'complete'",
            max_results=1000,
            page_token=token,
        )
        found |= {run.info.run_id: run for run in page if has_model(run)}
        token = page.token
        if not token:
            return found
