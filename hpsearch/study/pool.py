"""The trial pool: a few WAITING slots, topped up in chunks until the budget is issued.

`launch` sets the budget (`n_trials`) and queues the study's fixed trials and a first chunk of
empty slots; workers claim slots atomically (the storage refuses a second claimant) and top the
pool up when it runs dry. The budget counter is the number of the study's trials that count
(every trial but retried failures and cancelled slots), counted by the database under a lock
that every top-up holds, so two top-ups can never both add the last slots (no overfill), and a
process killed mid-way leaves a count that is still exact (it is read from the rows).

Why chunks: Optuna re-reads every unfinished trial whenever it lists trials, so 10,000 WAITING
rows made each claim read 10,000 rows (33 s per trial at 20,000). The pool now holds at most
POOL_CHUNK of them, and a claim reads CLAIM_CANDIDATES ids.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.storages import RDBStorage
from optuna.study import StudyDirection
from optuna.trial import TrialState

from hpsearch import private_apis
from hpsearch.catalog.locks import database_lock
from hpsearch.errors import UserError
from hpsearch.study import attrs as A
from hpsearch.study import rows
from hpsearch.study.budget import count_rows
from hpsearch.study.config import StudyConfig
from hpsearch.study.space import enqueue_params
from hpsearch.study.warm_start import WARM_START_ATTR, WarmPoint, unseen

POOL_CHUNK = 32  # WAITING slots per top-up: one top-up serves several claims of every worker
CLAIM_CANDIDATES = 8  # WAITING ids a claim reads; shuffled, so workers rarely collide


def _lock(study: optuna.Study) -> Any:
    return database_lock(
        rows.backend(study).engine, f"hpsearch pool {private_apis.study_id(study)}"
    )


def issued(study: optuna.Study) -> int:
    """Trials that count against the budget: finished, running or waiting, not replaced."""
    storage, study_id = rows.backend(study), private_apis.study_id(study)
    total = sum(rows.state_counts(storage, study_id).values())
    replaced = rows.marked_count(storage, study_id, A.RETRY_OF)
    return total - replaced - rows.marked_count(storage, study_id, A.CANCELLED)


def top_up(study: optuna.Study) -> int:
    """Add empty slots up to one chunk of WAITING, within the budget. Returns slots added."""
    with _lock(study):
        return _top_up_locked(study)


def _top_up_locked(study: optuna.Study) -> int:
    budget = int(study.user_attrs.get(A.BUDGET, 0))
    waiting = count_rows(study).waiting
    add = min(POOL_CHUNK - waiting, budget - issued(study))
    for _ in range(max(add, 0)):
        study.enqueue_trial({})
    return max(add, 0)


def create_or_resume(
    config: StudyConfig,
    config_text: str,
    storage: RDBStorage,
    n_trials: int,
    warm: Sequence[WarmPoint] = (),
) -> tuple[optuna.Study, int]:
    """Create the study (or load it), set its budget to `n_trials` and fill its first chunk.

    A new study queues its fixed trials first, then the `warm` start points it has not
    already tried, each tagged with its origin (those within the budget). A lower budget than
    before cancels surplus empty slots; one below the trials already run or running is refused.
    Returns (study, trials added to the budget; negative when it was lowered).
    """
    study = optuna.create_study(
        study_name=config.name, storage=storage, direction="maximize", load_if_exists=True
    )
    refuse_other_direction(study)
    with _lock(study):
        is_new = A.CONFIG not in study.user_attrs
        before = issued(study)
        refuse_below_run(study, n_trials)
        study.set_user_attr(A.CONFIG, config_text)
        study.set_user_attr(A.BUDGET, n_trials)
        study.set_user_attr(A.LAUNCH, int(study.user_attrs.get(A.LAUNCH, 0)) + 1)
        if n_trials < before:
            _cancel_surplus(study, before - n_trials)
        fixed = config.enqueue[: max(n_trials - before, 0)] if is_new else []
        for values in fixed:
            study.enqueue_trial(enqueue_params(config.search_space, values))
        room = max(n_trials - before - len(fixed), 0)
        for point in unseen(warm, study)[:room] if is_new else []:
            study.enqueue_trial(point.params, user_attrs={WARM_START_ATTR: point.origin})
        _top_up_locked(study)
    return study, n_trials - before


def refuse_other_direction(study: optuna.Study) -> None:
    """A study of the same name that minimises is not one of ours: adopting it would make the
    worst validation accuracy its best trial."""
    if study._directions != [StudyDirection.MAXIMIZE]:
        directions = ", ".join(d.name.lower() for d in study._directions)
        raise UserError(
            f"study {study.study_name!r} already exists in this storage with direction "
            f"{directions}; hpsearch maximises validation accuracy: rename the study"
        )


def refuse_below_run(study: optuna.Study, n_trials: int) -> None:
    """A budget below the trials that already ran or run now cannot be honoured: one line."""
    counts = count_rows(study)
    done = counts.finished + counts.running
    if n_trials < done:
        raise UserError(
            f"study {study.study_name!r} already has {counts.finished} finished and "
            f"{counts.running} running trial(s): --n-trials must be at least {done}"
        )


def check_budget(storage_url: str, study_name: str, n_trials: int) -> None:
    """`refuse_other_direction` and `refuse_below_run` for launch to call before it writes
    anything; no study: nothing to do."""
    from hpsearch.study.storage import open_existing_storage  # storage imports the pool's callers

    try:
        storage = open_existing_storage(storage_url)
    except UserError:  # no storage yet: a new study
        return
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
        refuse_other_direction(study)
        refuse_below_run(study, n_trials)
    except KeyError:  # no such study yet
        return
    finally:
        storage.engine.dispose()


def _cancel_surplus(study: optuna.Study, surplus: int) -> int:
    """Give back up to `surplus` WAITING slots, newest first (fixed trials were queued first)."""
    storage, cancelled = rows.backend(study), 0
    while cancelled < surplus:
        candidates = rows.waiting_ids(
            storage, private_apis.study_id(study), surplus - cancelled, last=True
        )
        if not candidates:  # workers claimed them first: those trials will run
            break
        cancelled += sum(rows.cancel_waiting(storage, trial_id) for trial_id in candidates)
    return cancelled


def pop_slot(study: optuna.Study) -> optuna.Trial | None:
    """Atomically claim one WAITING trial (the storage refuses a second claimant); None if empty.

    Unlike `Study.ask`, never creates a trial: an empty pool is topped up by `top_up`, under the
    budget. Reads a few WAITING ids, not the whole pool.
    """
    # the study's caching view, so that it knows the trial it hands out
    storage, study_id = private_apis.storage_of(study), private_apis.study_id(study)
    candidates = rows.waiting_ids(rows.backend(study), study_id, CLAIM_CANDIDATES)
    # The oldest slot first, so that one worker runs the trials in order (fixed ones first,
    # and a study seed gives the same sequence); the rest shuffled, so that workers reading
    # the same ids spread out after a lost claim.
    rest = candidates[1:]
    random.shuffle(rest)
    candidates = candidates[:1] + rest
    beats = bool(private_apis.heartbeat_interval(storage))
    for trial_id in candidates:
        # Beat first: a worker killed right after its claim still leaves a trial that goes stale.
        if beats:
            storage.record_heartbeat(trial_id)  # type: ignore[attr-defined]
        try:
            if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                # the cache learns the claimed trial (and the trials finished since its last
                # read, which the sampler reads next anyway): the unfinished few, not the study
                storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
                private_apis.forget_cached_trials(study)  # as Study.ask does before each trial
                return optuna.Trial(study, trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def claim(study: optuna.Study) -> optuna.Trial | None:
    """A slot of the pool, topping it up when it ran dry; None once the budget is all issued."""
    while True:
        trial = pop_slot(study)
        if trial is not None or not top_up(study):
            return trial
