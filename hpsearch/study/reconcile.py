"""What a dead worker leaves behind: fail its trial, retry it once, end its MLflow run KILLED.

A worker that dies without a word (SIGKILL, OOM killer, power loss) leaves its trial RUNNING in
Optuna and its child run RUNNING in MLflow. Whoever notices first does the clean-up: another
worker (its heartbeat thread and its idle loop look for stale trials) or `hpsearch reconcile`.
Failing a trial is one atomic update that a second detector finds already done, so however many
notice at once there is exactly one retry.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

import optuna
import sqlalchemy as sa
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from hpsearch import private_apis, stores
from hpsearch.catalog.locks import database_lock
from hpsearch.settings import Settings
from hpsearch.study import attrs as A
from hpsearch.study import rows
from hpsearch.study.budget import count_rows
from hpsearch.study.storage import load_existing_study, open_existing_storage, with_retries
from hpsearch.tracking._tags import ROLE, ROLE_STUDY

if TYPE_CHECKING:
    from mlflow.entities import Run

    from hpsearch.tracking import StudyTracker  # MLflow: only when its store exists

log = logging.getLogger("hpsearch.reconcile")
STALE_REASON = "its worker stopped sending heartbeats (crashed or killed)"
FORCED_REASON = "failed by `hpsearch reconcile --force` (its worker is gone)"
ORPHAN_REASON = "its trial had already ended"
# MLflow tags written by hpsearch.tracking (see hpsearch/tracking/_tags.py)
_ROLE, _ROLE_TRIAL, _TRIAL_ID = "hpsearch.role", "trial", "optuna.trial_id"


def fail_and_retry(study: optuna.Study, trial_id: int) -> bool:
    """FAIL a RUNNING trial and enqueue its retry (at most one per original trial).

    Returns False, doing nothing, when the trial had already ended: someone else got there first.
    Each step rides out a brief outage on its own: retrying both together would find the FAIL
    already written, take it for someone else's, and never queue the retry.
    """
    won = with_retries(partial(_fail_for_retry, study, trial_id), "failing a trial")
    if won:
        with_retries(partial(ensure_retry, study, trial_id), "queueing the retry")
    return won


def _fail_for_retry(study: optuna.Study, trial_id: int) -> bool:
    """Mark the trial as owed a retry, then FAIL it; False if it had already ended.

    The mark comes first, so a FAIL whose retry was lost (the process died in between) can
    be told from a trial that failed by its own error, and `repair_lost_retries` finds it.
    """
    storage = private_apis.storage_of(study)
    try:
        storage.set_trial_system_attr(trial_id, A.RETRY_DUE, True)
        return storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False


def ensure_retry(study: optuna.Study, trial_id: int) -> bool:
    """Queue the retry of a failed trial unless one exists: safe to repeat after any error.

    A retry is never retried again (max_retry=1). Returns whether a retry was added now.
    """
    backend = rows.backend(study)
    with database_lock(backend.engine, f"hpsearch retry {private_apis.study_id(study)}"):
        frozen = backend.get_trial(trial_id)
        if rows.has_retry(backend, private_apis.study_id(study), frozen.number):
            return False
        before = rows.marked_count(backend, private_apis.study_id(study), A.RETRY_OF)
        with warnings.catch_warnings():  # the callback is "experimental" since Optuna 2.8
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            RetryHeartbeatStaleTrialCallback(max_retry=1)(study, frozen)
        return rows.marked_count(backend, private_apis.study_id(study), A.RETRY_OF) > before


def repair_lost_retries(study: optuna.Study) -> int:
    """Queue the retries that failed trials are owed but never got. Returns how many."""
    backend = rows.backend(study)
    owed = rows.failed_ids_marked(backend, private_apis.study_id(study), A.RETRY_DUE)
    return sum(with_retries(partial(ensure_retry, study, i), "queueing a retry") for i in owed)


def fail_trials(
    study: optuna.Study, trial_ids: Iterable[int], tracker: StudyTracker | None, reason: str
) -> list[int]:
    """Fail and retry each trial (skipping those already ended); end their runs KILLED."""
    failed = []
    for trial_id in trial_ids:
        if not fail_and_retry(study, trial_id):  # it retries its own steps
            continue
        failed.append(trial_id)
        frozen = private_apis.storage_of(study).get_trial(trial_id)
        log.warning("trial %d failed: %s; its retry is queued", frozen.number, reason)
        run_id = frozen.user_attrs.get(A.MLFLOW_RUN_ID)
        if tracker is not None and run_id:
            kill_run(tracker, run_id, reason)
    return failed


def fail_stale(study: optuna.Study, tracker: StudyTracker | None = None) -> list[int]:
    """The trials of dead workers: failed, retried once, their runs KILLED. Returns their ids."""
    stale = with_retries(lambda: private_apis.stale_trial_ids(study), "looking for stale trials")
    return fail_trials(study, stale, tracker, STALE_REASON)


def kill_run(tracker: StudyTracker, run_id: str, reason: str) -> None:
    """End a RUNNING trial run KILLED; a run that already ended keeps its status."""
    try:
        if tracker.client.get_run(run_id).info.status != "RUNNING":
            return
        with_retries(lambda: tracker.finish_killed(run_id, reason), "ending a run")
    except Exception as exc:  # the trial is what counts; a run left RUNNING is reconciled later
        log.warning("could not end MLflow run %s: %s", run_id, exc)


def running_trial_runs(tracker: StudyTracker) -> list[Run]:
    """The study's trial runs that MLflow still shows RUNNING."""
    return tracker.client.search_runs(
        [tracker.experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{_ROLE}` = '{_ROLE_TRIAL}'",
        max_results=10_000,
    )


def kill_orphaned_runs(study: optuna.Study, tracker: StudyTracker) -> None:
    """End KILLED every RUNNING trial run of the study whose Optuna trial has ended."""
    for run in running_trial_runs(tracker):
        trial_id = run.data.tags.get(_TRIAL_ID)
        if trial_id is None or _trial_ended(study, int(trial_id)):
            kill_run(tracker, run.info.run_id, ORPHAN_REASON)


def _trial_ended(study: optuna.Study, trial_id: int) -> bool:
    try:
        return private_apis.storage_of(study).get_trial(trial_id).state.is_finished()
    except KeyError:  # a run of a trial that no longer exists
        return True


def summarise_if_idle(study: optuna.Study, tracker: StudyTracker) -> bool:
    """Write the study's summary, which ends its parent run FINISHED, once no trial runs.

    For whoever leaves last: a worker nobody waits for (`launch --workers 0`, then `hpsearch
    worker`), or `reconcile` after they all died. Returns whether it was written.
    """
    if with_retries(lambda: count_rows(study).running, "reading the study"):
        return False  # a worker still runs a trial, and will summarise when it leaves
    try:
        with_retries(lambda: tracker.write_summary(study), "writing the study summary")
    except Exception as exc:  # the trials are what counts; reconcile can write it later
        log.warning("the study summary was not written: %s: %s", type(exc).__name__, exc)
        return False
    return True


def reconcile(settings: Settings, study_name: str, *, force: bool = False) -> dict[str, int]:
    """Clean up after dead workers: no trial and no run is left RUNNING that nobody runs.

    Without `force` only trials whose heartbeat is stale are failed (live workers are safe);
    with `force` every RUNNING trial is, for when all workers are known to be stopped.
    Returns counts: failed (trials failed now), retried (their retries queued),
    runs_killed (MLflow runs ended KILLED), running (trials still RUNNING), parent_ended (1 when
    the study's parent run was left RUNNING and is now summarised and FINISHED).
    """
    study = load_existing_study(study_name, open_existing_storage(settings.optuna_url))
    tracker = _existing_tracker(settings, study_name)
    retries_before = _retries(study)
    runs_before = len(running_trial_runs(tracker)) if tracker is not None else 0
    if force:
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        ids = [private_apis.trial_id(t) for t in running]
        failed = fail_trials(study, ids, tracker, FORCED_REASON)
    else:
        failed = fail_stale(study, tracker)
    repair_lost_retries(study)  # a FAIL whose retry an error or a crash lost on the way
    runs_after, parent_ended = 0, False
    if tracker is not None:
        kill_orphaned_runs(study, tracker)
        runs_after = len(running_trial_runs(tracker))
        if tracker.parent_status() == "RUNNING":  # its workers died before summarising
            parent_ended = summarise_if_idle(study, tracker)
    return {
        "failed": len(failed),
        "retried": _retries(study) - retries_before,
        "runs_killed": runs_before - runs_after,
        "running": len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))),
        "parent_ended": int(parent_ended),
    }


def _retries(study: optuna.Study) -> int:
    return sum(A.RETRY_OF in t.system_attrs for t in study.get_trials(deepcopy=False))


def parent_run_state(settings: Settings, study_name: str) -> dict[str, str] | None:
    """{"run_id", "status"} of the study's parent run, None when there is none; creates nothing."""
    uri = settings.mlflow_uri
    if not stores.exists(uri):  # reading must not create the MLflow store
        return None
    if stores.is_database(uri):  # its tables, read without importing MLflow (seconds)
        engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
        try:
            return private_apis.mlflow_oldest_run_tagged(engine, study_name, (ROLE, ROLE_STUDY))
        finally:
            engine.dispose()
    from hpsearch.tracking._store import parent_run_state as state  # a server: MLflow's client

    return state(uri, study_name)


def _existing_tracker(settings: Settings, study_name: str) -> StudyTracker | None:
    """The study's tracker when its MLflow experiment exists; reconcile never creates one."""
    from hpsearch.tracking import StudyTracker  # MLflow: only when its store exists
    from hpsearch.tracking._store import open_client  # MLflow: only when its store exists

    if not stores.exists(settings.mlflow_uri):  # no MLflow store: nothing to end
        return None
    if open_client(settings.mlflow_uri).get_experiment_by_name(study_name) is None:
        return None
    return StudyTracker(study_name, settings.mlflow_uri, settings.artifact_root)
