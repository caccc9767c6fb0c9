"""A crashed trial's retry must survive a database error between failing it and queueing it.

The fault is real: the storage's own connection fails the statement that inserts the retry
(an sqlite3 error raised from the driver's cursor), so SQLAlchemy, Optuna and our retry loop
see exactly what a failing connection gives them. Optuna itself tries a trial's INSERT five
times, so the outage lasts five attempts: then Optuna gives up and our retry loop takes over.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import optuna
import pytest
import sqlalchemy as sa
from optuna.trial import TrialState

from hpsearch.settings import get_settings
from hpsearch.study import rows
from hpsearch.study.pool import pop_slot
from hpsearch.study.reconcile import fail_and_retry, fail_trials, reconcile
from hpsearch.study.storage import open_storage
from reliability.faults import retries_of

OPTUNA_TRIES = 5  # RDBStorage._create_new_trial's MAX_RETRIES


@contextmanager
def failing_inserts(engine: sa.Engine, error: Exception, times: int) -> Iterator[list[str]]:
    """The next `times` INSERTs into `trials` fail in the driver with `error`."""
    failed: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO TRIALS") and len(failed) < times:
            failed.append(statement)
            raise error

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield failed
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def _running_trial(name: str) -> tuple[optuna.Study, int]:
    study = optuna.create_study(study_name=name, storage=open_storage(get_settings().optuna_url))
    study.enqueue_trial({"x": 0.25})
    trial = pop_slot(study)
    assert trial is not None
    trial.suggest_float("x", 0, 1)
    return study, trial._trial_id


def test_a_transient_error_while_queueing_the_retry_does_not_lose_it() -> None:
    study, trial_id = _running_trial("lossy")
    engine = rows.backend(study).engine
    with failing_inserts(
        engine, sqlite3.OperationalError("disk I/O error"), OPTUNA_TRIES
    ) as failed:
        assert fail_trials(study, [trial_id], None, "its worker died") == [trial_id]
    assert len(failed) == OPTUNA_TRIES  # the fault did fire, and outlasted Optuna's own retries
    trials = study.get_trials()
    assert trials[0].state == TrialState.FAIL
    (retry,) = retries_of(trials, 0)
    assert retry.state == TrialState.WAITING and retry.params == {"x": 0.25}
    assert not fail_and_retry(study, trial_id)  # done already: nothing more
    assert len(study.get_trials()) == 2


def test_reconcile_queues_the_retry_a_failed_enqueue_lost() -> None:
    study, trial_id = _running_trial("lost")
    engine = rows.backend(study).engine
    corrupt = sqlite3.DatabaseError("database disk image is malformed")
    # not transient: a worker dies of it, its trial FAIL and no retry queued
    lost = pytest.raises(optuna.exceptions.StorageInternalError)
    with failing_inserts(engine, corrupt, OPTUNA_TRIES), lost:
        fail_and_retry(study, trial_id)
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL]

    assert reconcile(get_settings(), "lost")["retried"] == 1
    trials = study.get_trials()
    assert [t.state for t in retries_of(trials, 0)] == [TrialState.WAITING]
    assert reconcile(get_settings(), "lost")["retried"] == 0  # running it again changes nothing
    assert len(study.get_trials()) == 2


def test_reconcile_leaves_a_trial_that_failed_by_its_own_error_alone() -> None:
    """A trial whose objective raised is a result (FAIL, counted), not a crash to retry."""
    study = optuna.create_study(study_name="own", storage=open_storage(get_settings().optuna_url))
    study.enqueue_trial({"x": 0.25})
    trial = pop_slot(study)
    assert trial is not None
    study.tell(trial, state=TrialState.FAIL)
    assert reconcile(get_settings(), "own")["retried"] == 0
    assert len(study.get_trials()) == 1
