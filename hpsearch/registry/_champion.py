"""A trial's model as a version of the registered model named after its study, and the alias
`champion`, which only moves to a version with a better validation accuracy on the same data
(the same dataset fingerprint), unless forced."""

from __future__ import annotations

import json
from dataclasses import dataclass

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import ALREADY_EXISTS, RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS as MODEL_VERSIONS_TAG

from hpsearch.registry import _tags as R
from hpsearch.tracking._fluent import tracking_uri

_EXISTS = {ErrorCode.Name(RESOURCE_ALREADY_EXISTS), ErrorCode.Name(ALREADY_EXISTS)}


@dataclass(frozen=True)
class Candidate:
    """What is known of a trial's model when it is registered."""

    study: str
    trial: int
    run_id: str
    artifact_uri: str  # the model folder: the logged model's (or an older run's `model`)
    val_accuracy: float
    test_accuracy: float
    dataset_fingerprint: str
    weights_sha256: str
    model_id: str | None = None  # the logged model the version is made from

    def tags(self) -> dict[str, str]:
        # repr-exact floats (str of a float round-trips), so comparisons read back what was put
        return {
            R.STUDY: self.study,
            R.TRIAL_NUMBER: str(self.trial),
            R.VAL_ACCURACY: str(self.val_accuracy),
            R.TEST_ACCURACY_TAG: str(self.test_accuracy),
            R.DATASET_FINGERPRINT: self.dataset_fingerprint,
            R.WEIGHTS_SHA256: self.weights_sha256,
        }


@dataclass(frozen=True)
class Registration:
    version: str  # this candidate's version
    created: bool  # False: the run already had a version, which was reused
    champion: str  # the version the alias points at afterwards
    message: str  # what happened to the alias, one line

    @property
    def is_champion(self) -> bool:
        return self.champion == self.version


def _ensure_registered_model(client: MlflowClient, name: str) -> None:
    try:
        client.create_registered_model(
            name, tags={R.STUDY: name}, description=f"best trials of the hpsearch study {name}"
        )
    except MlflowException as exc:
        if exc.error_code not in _EXISTS:
            raise


def version_of_run(client: MlflowClient, name: str, run_id: str) -> ModelVersion | None:
    """The oldest live version of `name` made from `run_id`, if any."""
    found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return min(found, key=lambda v: int(v.version)) if found else None


def _version_for(client: MlflowClient, name: str, candidate: Candidate) -> tuple[str, bool]:
    """(version, created): re-running for the same run reuses its version, tags refreshed."""
    existing = version_of_run(client, name, candidate.run_id)
    if existing is None:
        created = _create_version(client, name, candidate)
        return str(created.version), True
    for key, value in candidate.tags().items():
        if existing.tags.get(key) != value:
            client.set_model_version_tag(name, existing.version, key, value)
    return str(existing.version), False


def _create_version(client: MlflowClient, name: str, candidate: Candidate) -> ModelVersion:
    """A version whose source is the trial's logged model (models:/m-...), as MLflow 3's UI links
    it; an older run's model folder is its own source. MLflow's SQL registry looks a logged model
    up through the process-wide tracking URI, hence `tracking_uri` around the call."""
    if candidate.model_id is None:
        return client.create_model_version(
            name, candidate.artifact_uri, run_id=candidate.run_id, tags=candidate.tags()
        )
    with tracking_uri(client.tracking_uri):
        version = client.create_model_version(
            name,
            f"models:/{candidate.model_id}",
            run_id=candidate.run_id,
            tags=candidate.tags(),
            model_id=candidate.model_id,
        )
    _link_model_to_version(client, candidate.model_id, version)
    return version


def _link_model_to_version(client: MlflowClient, model_id: str, version: ModelVersion) -> None:
    """The logged model's `mlflow.modelVersions` tag, which the UI's Models tab shows as its
    registered versions; MLflow's server and its fluent register_model set it, a client talking
    to a database store has to (as mlflow.tracking._model_registry.fluent does)."""
    entry = {"name": version.name, "version": str(version.version)}
    existing = client.get_logged_model(model_id).tags.get(MODEL_VERSIONS_TAG)
    linked = [dict(e) for e in json.loads(existing)] if existing else []
    if entry not in [{"name": e.get("name"), "version": str(e.get("version"))} for e in linked]:
        client.set_logged_model_tags(model_id, {MODEL_VERSIONS_TAG: json.dumps([*linked, entry])})


def _val_accuracy(client: MlflowClient, version: ModelVersion) -> float | None:
    """A version's validation accuracy: our tag, else its run's best_val_accuracy metric."""
    if R.VAL_ACCURACY in version.tags:
        return float(version.tags[R.VAL_ACCURACY])
    if version.run_id:
        value = client.get_run(version.run_id).data.metrics.get("best_val_accuracy")
        return None if value is None else float(value)
    return None


def _champion(client: MlflowClient, name: str) -> ModelVersion | None:
    aliases = client.get_registered_model(name).aliases
    return client.get_model_version(name, aliases[R.ALIAS]) if R.ALIAS in aliases else None


def _fingerprint(client: MlflowClient, version: ModelVersion) -> str | None:
    """The dataset (and split) a version was validated on: our tag, else its run's tag."""
    if R.DATASET_FINGERPRINT in version.tags:
        return version.tags[R.DATASET_FINGERPRINT]
    if version.run_id:
        return client.get_run(version.run_id).data.tags.get(R.DATASET_FINGERPRINT)
    return None


def _decide(
    client: MlflowClient, name: str, version: str, candidate: Candidate, *, force: bool
) -> tuple[bool, str]:
    """(move the alias?, what to say)."""
    val = candidate.val_accuracy
    current = _champion(client, name)
    if current is None:
        return True, f"alias {R.ALIAS} -> version {version} (first champion, val {val:.4f})"
    if str(current.version) == version:
        return False, f"{R.ALIAS} already at version {version} (val {val:.4f})"
    old = _val_accuracy(client, current)
    old_text = "unknown" if old is None else f"{old:.4f}"
    theirs = _fingerprint(client, current)
    comparable = theirs == candidate.dataset_fingerprint  # accuracies on other data do not
    if not comparable:
        old_text += f" on other data, dataset fingerprint {str(theirs)[:12]}"
    if comparable and old is not None and val > old:
        return True, f"alias {R.ALIAS} -> version {version} (val {val:.4f} > {old_text})"
    if force:
        return True, (
            f"alias {R.ALIAS} -> version {version} (forced: val {val:.4f}, "
            f"version {current.version} had {old_text})"
        )
    verdict = "is not better" if comparable else "cannot be compared with it"
    return False, (
        f"kept {R.ALIAS} at version {current.version} (val {old_text}): version {version} "
        f"with val {val:.4f} {verdict} (--force moves it)"
    )


def register_version(
    client: MlflowClient, name: str, candidate: Candidate, *, force: bool
) -> Registration:
    """Register `candidate` as a version of `name`; move the alias by the rule above."""
    _ensure_registered_model(client, name)
    version, created = _version_for(client, name, candidate)
    move, message = _decide(client, name, version, candidate, force=force)
    if move:
        client.set_registered_model_alias(name, R.ALIAS, version)
    champion = _champion(client, name)
    return Registration(version, created, str(champion.version) if champion else version, message)
