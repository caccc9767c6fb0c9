"""Optuna's trial tables read and written directly: counts and ids, never whole trials.

Loading a study's trials through Optuna builds every trial with its parameters, attributes and
intermediate values; at 10,000 trials that is seconds. The pool, `status` and `best` need far
less: how many trials are in each state, which few trials are WAITING, which trials hold the
top value. These queries use Optuna's own table models (its schema is versioned and checked by
`hpsearch db upgrade`), so they stay right for the Optuna versions pyproject allows.
"""

from __future__ import annotations

import json
from datetime import datetime

import optuna
import sqlalchemy as sa
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from hpsearch import private_apis

# system attributes these queries count or mark by (names in attrs.py; rows.X kept for callers)
from hpsearch.study.attrs import CANCELLED, RETRY_OF
from hpsearch.study.attrs import RETRY_DUE as RETRY_DUE

_trials, _system_attrs, _values = private_apis.optuna_trial_tables()


def backend(study: optuna.Study) -> RDBStorage:
    """The RDB storage under the study's caching wrapper (where the tables are)."""
    storage = private_apis.backend_of(private_apis.storage_of(study))
    if not isinstance(storage, RDBStorage):
        raise TypeError(f"hpsearch needs Optuna's RDBStorage, not {type(storage).__name__}")
    return storage


def _study_trials(study_id: int) -> sa.ColumnElement[bool]:
    return _trials.c.study_id == study_id


def state_counts(storage: RDBStorage, study_id: int) -> dict[TrialState, int]:
    """{state: number of trials}, from one GROUP BY."""
    query = (
        sa.select(_trials.c.state, sa.func.count())
        .where(_study_trials(study_id))
        .group_by(_trials.c.state)
    )
    with storage.engine.connect() as conn:
        return {TrialState(state): int(n) for state, n in conn.execute(query)}


def marked_count(storage: RDBStorage, study_id: int, key: str) -> int:
    """How many of the study's trials carry system attribute `key`."""
    query = (
        sa.select(sa.func.count())
        .select_from(_system_attrs.join(_trials, _system_attrs.c.trial_id == _trials.c.trial_id))
        .where(_study_trials(study_id), _system_attrs.c.key == key)
    )
    with storage.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def has_retry(storage: RDBStorage, study_id: int, number: int) -> bool:
    """Whether a retry of trial `number` was queued (a trial with RETRY_OF = number)."""
    query = (
        sa.select(sa.func.count())
        .select_from(_system_attrs.join(_trials, _system_attrs.c.trial_id == _trials.c.trial_id))
        .where(
            _study_trials(study_id),
            _system_attrs.c.key == RETRY_OF,
            _system_attrs.c.value_json == json.dumps(number),
        )
    )
    with storage.engine.connect() as conn:
        return bool(conn.execute(query).scalar_one())


def failed_ids_marked(storage: RDBStorage, study_id: int, key: str) -> list[int]:
    """The FAIL trials of the study that carry system attribute `key`."""
    query = (
        sa.select(_trials.c.trial_id)
        .select_from(_system_attrs.join(_trials, _system_attrs.c.trial_id == _trials.c.trial_id))
        .where(_study_trials(study_id), _trials.c.state == TrialState.FAIL,
               _system_attrs.c.key == key)
    )  # fmt: skip
    with storage.engine.connect() as conn:
        return [int(row[0]) for row in conn.execute(query)]


def waiting_ids(storage: RDBStorage, study_id: int, limit: int, *, last: bool = False) -> list[int]:
    """Up to `limit` WAITING trial ids, oldest first (or newest first with `last`)."""
    order = _trials.c.number.desc() if last else _trials.c.number.asc()
    query = (
        sa.select(_trials.c.trial_id)
        .where(_study_trials(study_id), _trials.c.state == TrialState.WAITING)
        .order_by(order)
        .limit(limit)
    )
    with storage.engine.connect() as conn:
        return [int(row[0]) for row in conn.execute(query)]


def top_value_ids(storage: RDBStorage, study_id: int) -> list[int]:
    """The COMPLETE trials that share the highest value (ties are common on small data)."""
    complete = _trials.join(_values, _values.c.trial_id == _trials.c.trial_id)
    finite = (
        _study_trials(study_id),
        _trials.c.state == TrialState.COMPLETE,
        _values.c.objective == 0,
        _values.c.value_type == private_apis.finite_value_type(),
    )
    best = sa.select(sa.func.max(_values.c.value)).select_from(complete).where(*finite)
    query = (
        sa.select(_trials.c.trial_id)
        .select_from(complete)
        .where(*finite, _values.c.value == best.scalar_subquery())
    )
    with storage.engine.connect() as conn:
        return [int(row[0]) for row in conn.execute(query)]


def cancel_waiting(storage: RDBStorage, trial_id: int) -> bool:
    """End a WAITING slot FAIL, marked CANCELLED, in one transaction; False if it was claimed.

    Optuna's own update cannot say "only if still WAITING": it would end a trial that a worker
    claimed a moment ago. The conditional UPDATE can.
    """
    with storage.engine.begin() as conn:
        ended = conn.execute(
            sa.update(_trials)
            .where(_trials.c.trial_id == trial_id, _trials.c.state == TrialState.WAITING)
            .values(state=TrialState.FAIL, datetime_complete=datetime.now())
        )
        if ended.rowcount != 1:
            return False
        conn.execute(
            sa.insert(_system_attrs).values(
                trial_id=trial_id, key=CANCELLED, value_json=json.dumps(True)
            )
        )
    return True


def _complete_values(study_id: int) -> tuple[sa.FromClause, tuple[sa.ColumnElement[bool], ...]]:
    joined = _trials.join(_values, _values.c.trial_id == _trials.c.trial_id)
    where = (
        _study_trials(study_id),
        _trials.c.state == TrialState.COMPLETE,
        _values.c.objective == 0,
    )
    return joined, where


def kth_best_value(storage: RDBStorage, study_id: int, k: int) -> float | None:
    """The k-th highest value of the study's COMPLETE trials (k >= 1); None if fewer."""
    joined, where = _complete_values(study_id)
    query = (
        sa.select(_values.c.value)
        .select_from(joined)
        .where(*where)
        .order_by(_values.c.value.desc())
        .offset(k - 1)
        .limit(1)
    )
    with storage.engine.connect() as conn:
        found = conn.execute(query).scalar_one_or_none()
    return None if found is None else float(found)


def complete_ids_below(
    storage: RDBStorage,
    study_id: int,
    value: float | None,
    limit: int | None = None,
    unmarked: str | None = None,
) -> list[int]:
    """COMPLETE trials whose value is below `value` (all when None), the highest first; with
    `unmarked`, only those that do not carry that system attribute."""
    joined, where = _complete_values(study_id)
    if value is not None:
        where = (*where, _values.c.value < value)
    if unmarked is not None:
        marked = _system_attrs.c.trial_id == _trials.c.trial_id, _system_attrs.c.key == unmarked
        where = (*where, ~sa.exists().where(*marked))
    query = sa.select(_trials.c.trial_id).select_from(joined).where(*where)
    query = query.order_by(_values.c.value.desc(), _trials.c.number).limit(limit)
    with storage.engine.connect() as conn:
        return [int(row[0]) for row in conn.execute(query)]
