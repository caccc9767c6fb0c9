"""Which trials keep their model: the K best (`artifacts: {keep_models: K}`, default 10).

A trial keeps its model while its value is at least the K-th best value of the study (so ties
with the K-th are all kept, and whatever rule `hpsearch best` breaks ties by, its pick keeps
its model). Once a trial falls below, it can never come back: better trials only ever arrive.
So each worker, after each complete trial, frees the models of trials below the line that no
worker has freed yet (ModelKeeper), and `hpsearch gc` sweeps a whole study (also an older one,
or with another K). A model that a registered version was made from always stays
(tracking/retention.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import optuna

from hpsearch.errors import UserError
from hpsearch.private_apis import claim_finished_trial, storage_of
from hpsearch.settings import Settings
from hpsearch.study import rows

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

log = logging.getLogger("hpsearch.retention")
WINDOW = 16  # trials a worker frees at most after each of its trials: more than fall below
# Every worker sees the same trials fall below the line; the one that claims a trial frees its
# model, so no two delete the same files, record or tag at once (if it dies midway, gc frees it).
FREEING = "hpsearch:model_freeing"


def _threshold(study: optuna.Study, keep: int) -> float | None:
    """The lowest value that keeps a model; None: every complete trial keeps its model."""
    if keep == 0:
        return float("inf")
    return rows.kth_best_value(rows.backend(study), study._study_id, keep)


def below_line(
    study: optuna.Study, keep: int, limit: int | None = None, unclaimed: bool = False
) -> list[int]:
    """Trial ids of the complete trials that must not keep their model, nearest the line first
    (with `unclaimed`, only those no worker has claimed to free yet)."""
    line = _threshold(study, keep)
    if line is None:
        return []
    value = None if line == float("inf") else line
    mark = FREEING if unclaimed else None
    return rows.complete_ids_below(rows.backend(study), study._study_id, value, limit, mark)


class ModelKeeper:
    """A worker's share of `keep_models`: after each complete trial, free what fell below.

    Up to WINDOW trials below the line that no worker has claimed yet, each claimed first: a
    trial may fall below by being pushed down or by finishing there, at any rank, and each
    complete trial adds at most one, so a backlog (a worker that died, a study resumed with a
    smaller K) drains as the study goes on.
    """

    def __init__(self, study: optuna.Study, client: MlflowClient, keep: int) -> None:
        self.study, self.client, self.keep = study, client, keep

    def after_trial(self) -> None:
        try:
            for trial_id in below_line(self.study, self.keep, WINDOW, unclaimed=True):
                if claim_finished_trial(storage_of(self.study), trial_id, FREEING):
                    _free_trial_model(self.study, self.client, trial_id)
        except Exception as exc:  # freeing space must never fail a study; gc catches up later
            log.warning("could not free old trial models: %s: %s", type(exc).__name__, exc)


def _free_trial_model(study: optuna.Study, client: MlflowClient, trial_id: int) -> None:
    from hpsearch.tracking.retention import free_model  # MLflow: only when tracking

    run_id = study._storage.get_trial(trial_id).user_attrs.get("mlflow_run_id")
    if run_id:
        free_model(client, client.get_run(run_id))


def gc(settings: Settings, study_name: str, keep: int | None, dry_run: bool) -> dict[str, Any]:
    """`hpsearch gc`: free the models of every trial below the line; report what was freed."""
    # MLflow and the stores: only for this command, not in every worker that imports this module
    from hpsearch import stores
    from hpsearch.study.config import load_study_config
    from hpsearch.study.storage import load_existing_study, open_existing_storage
    from hpsearch.tracking._store import open_client
    from hpsearch.tracking.retention import free_model, trial_runs_with_models

    study = load_existing_study(study_name, open_existing_storage(settings.optuna_url))
    keep = load_study_config(study).artifacts.keep_models if keep is None else keep
    if not stores.exists(settings.mlflow_uri):
        raise UserError(f"no MLflow store at {settings.mlflow_uri}: nothing to collect")
    client = open_client(settings.mlflow_uri)
    experiment = client.get_experiment_by_name(study_name)
    if experiment is None:
        raise UserError(f"study {study_name!r} has no MLflow experiment: nothing to collect")
    with_models = trial_runs_with_models(client, experiment.experiment_id)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    run_of = {t._trial_id: str(t.user_attrs.get("mlflow_run_id")) for t in complete}
    below = {run_of.get(trial_id, "") for trial_id in below_line(study, keep)}
    freed, kept_registered = [], 0
    for run_id in sorted(below & with_models.keys()):
        done = free_model(client, with_models[run_id], dry_run=dry_run)
        if done is None:
            kept_registered += 1
        else:
            freed.append(done)
    return {
        "study": study_name,
        "keep": keep,
        "dry_run": dry_run,
        "models_freed": len(freed),
        "bytes_freed": sum(f.bytes for f in freed),
        "models_kept": len(with_models) - len(freed),
        "registered_kept": kept_registered,
    }
