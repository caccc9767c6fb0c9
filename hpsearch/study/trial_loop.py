"""A worker's loop: claim a slot of the pool, run its trial, tell the storage how it ended.

Every trial ends in exactly one state. A stop signal or a database failure mid-trial ends it
FAIL with its one retry queued, so the budget stays exact; another worker may also have failed
it as stale first, and then it is left as that worker left it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import optuna
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from hpsearch import private_apis
from hpsearch.signals import stop_signals_ignored
from hpsearch.study import attrs as A
from hpsearch.study.budget import count_rows
from hpsearch.study.config import BudgetConfig
from hpsearch.study.heartbeat import heartbeat
from hpsearch.study.objective import Objective
from hpsearch.study.pool import claim
from hpsearch.study.reconcile import fail_and_retry, fail_stale, repair_lost_retries
from hpsearch.study.stopping import FINISHED, WouldOverrun, stop_reason
from hpsearch.study.storage import is_transient, retrying, with_retries

if TYPE_CHECKING:
    from hpsearch.tracking import StudyTracker

log = logging.getLogger("hpsearch.worker")
IDLE_POLL_SECONDS = 1.0


def next_trial(
    study: optuna.Study,
    deadline: float,
    tracker: StudyTracker | None = None,
    budget: BudgetConfig | None = None,
) -> optuna.Trial | None:
    """The next slot; while others still run, wait (a crashed one's retry may appear).

    None when the pool is empty, the deadline has passed, or the study's stopping rule is met.
    """
    while time.monotonic() < deadline:
        fail_stale(study, tracker)
        if budget is not None and _stop_reason(study, budget) is not None:
            return None
        trial = with_retries(lambda: claim(study), "claiming a trial")
        if trial is not None:
            return trial
        if not with_retries(lambda: count_rows(study).running, "reading the study"):
            if repair_lost_retries(study):  # the retry of a crashed trial that was never queued
                continue
            return None
        time.sleep(IDLE_POLL_SECONDS)
    return None


def _stop_reason(study: optuna.Study, budget: BudgetConfig) -> str | None:
    """budget.target or budget.patience met (read only when the study file sets them)."""
    if budget.target is None and budget.patience is None:
        return None
    trials = retrying(study, "reading the study").get_trials(deepcopy=False, states=FINISHED)
    reason = stop_reason(trials, budget)
    if reason is not None:
        retrying(study, "stopping the study").set_user_attr(A.STOPPED, reason)
    return reason


def run_trial(
    study: optuna.Study,
    storage: RDBStorage,
    trial: optuna.Trial,
    objective: Objective,
    watch: Callable[[], object] | None = None,
) -> TrialState:
    """Run one claimed trial to its end state. KeyboardInterrupt: FAIL, retried, re-raised."""
    with heartbeat(storage, private_apis.trial_id(trial), watch):
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            return _tell(study, trial, state=TrialState.PRUNED)
        except WouldOverrun:
            _return_to_pool(study, trial)
            raise
        except KeyboardInterrupt:
            _fail_and_retry(study, trial)
            raise
        except optuna.exceptions.UpdateFinishedTrialError:
            log.warning("trial %d was failed as stale by another worker", trial.number)
            return TrialState.FAIL
        except Exception as exc:
            return _failed(study, trial, exc)
        return _tell(study, trial, values=value)


def _failed(study: optuna.Study, trial: optuna.Trial, exc: Exception) -> TrialState:
    """The trial raised: FAIL with its reason; or, when the database failed, FAIL and retry."""
    if is_transient(exc):  # the database, not the trial, failed: the trial gets its retry
        log.warning("trial %d failed: database unavailable (%s)", trial.number, exc)
        _fail_and_retry(study, trial)
        return TrialState.FAIL
    reason = f"{type(exc).__name__}: {exc}"[:1000]
    log.error("trial %d failed: %s", trial.number, reason, exc_info=True)
    retrying(trial, "failing").set_user_attr(A.FAIL_REASON, reason)
    return _tell(study, trial, state=TrialState.FAIL)


def _return_to_pool(study: optuna.Study, trial: optuna.Trial) -> None:
    """Unclaim a trial that never started training: WAITING again, its sampled values kept."""
    storage = retrying(private_apis.storage_of(study), "returning the trial to the pool")
    storage.set_trial_state_values(private_apis.trial_id(trial), state=TrialState.WAITING)


def _fail_and_retry(study: optuna.Study, trial: optuna.Trial) -> None:
    """An interrupted trial ends FAIL and gets its one retry, so the budget stays exact."""
    with stop_signals_ignored():
        fail_and_retry(study, private_apis.trial_id(trial))  # it retries its own steps


def _tell(study: optuna.Study, trial: optuna.Trial, **outcome: Any) -> TrialState:
    """Record the outcome, unless another worker already failed the trial as stale."""
    recorded = retrying(study, "recording the trial")
    return recorded.tell(trial, skip_if_finished=True, **outcome).state
