"""The private Optuna APIs hpsearch uses (see the package's docstring)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna
    import sqlalchemy as sa
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial


# -- Optuna ---------------------------------------------------------------------------------
# Imported inside the functions below: this module is on the bottom floor, and importing
# optuna (or MLflow, seconds) must cost nothing to a caller that only needs the other one.


def storage_of(study: optuna.Study) -> BaseStorage:
    """The study's own (caching) storage object: trials it hands out are known to the study."""
    return study._storage


def backend_of(storage: BaseStorage) -> BaseStorage:
    """The storage under Optuna's caching wrapper (an RDBStorage: where the tables are)."""
    return getattr(storage, "_backend", storage)


def optuna_trial_tables() -> tuple[sa.Table, sa.Table, sa.Table]:
    """Optuna's trials, trial_system_attributes and trial_values tables (its versioned schema)."""
    from optuna.storages._rdb import models  # here: importing this module costs nothing

    return (
        models.TrialModel.__table__,
        models.TrialSystemAttributeModel.__table__,
        models.TrialValueModel.__table__,
    )


def finite_value_type() -> object:
    """The value_type of a finite objective value in trial_values."""
    from optuna.storages._rdb import models  # here: importing this module costs nothing

    return models.TrialValueModel.TrialValueType.FINITE


def study_id(study: optuna.Study) -> int:
    return study._study_id


def trial_id(trial: optuna.Trial | FrozenTrial) -> int:
    """The storage's id of a trial (numbers count per study; ids are unique per storage)."""
    return trial._trial_id


def forget_cached_trials(study: optuna.Study) -> None:
    """What `Study.ask` does before each trial: the sampler then reads the storage afresh."""
    study._thread_local.cached_all_trials = None


def set_trial_user_attrs(trial: optuna.Trial, values: dict[str, Any]) -> None:
    """`trial.set_user_attr` for every item, in one transaction on an RDB storage.

    Optuna commits each attribute on its own (a round trip and, on SQLite, an fsync each, and a
    read of the trial before each); a trial sets a dozen. Here the trial is read and checked
    once and the attributes are one upsert (SQLite, PostgreSQL; Optuna's own per-row write
    elsewhere). All or none are stored; a finished trial refuses them all
    (UpdateFinishedTrialError), as it refuses one.
    """
    from optuna.storages import RDBStorage  # here: importing this module costs nothing
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    storage = backend_of(trial.storage)
    if not isinstance(storage, RDBStorage):
        for key, value in values.items():
            trial.set_user_attr(key, value)
        return
    number = trial_id(trial)
    with _create_scoped_session(storage.scoped_session) as session:
        row = models.TrialModel.find_or_raise_by_id(number, session)
        storage.check_trial_is_updatable(number, row.state)
        table = models.TrialUserAttributeModel.__table__
        rows = [
            {"trial_id": number, "key": key, "value_json": json.dumps(value)}
            for key, value in values.items()
        ]
        upsert = _upsert(storage.engine.dialect.name, table, rows)
        if upsert is not None:
            session.execute(upsert)
        else:  # a database Optuna writes row by row
            for key, value in values.items():
                storage._set_trial_attr_without_commit(
                    session, models.TrialUserAttributeModel, number, key, value
                )
    trial._cached_frozen_trial.user_attrs.update(values)  # what set_user_attr keeps in step


@contextlib.contextmanager
def held_trial_params(trial: optuna.Trial) -> Iterator[list[tuple[str, float, Any]]]:
    """Inside, the parameters the trial suggests are held, not written; `write_trial_params`
    then writes them in one transaction.

    Optuna writes each suggested parameter in a transaction of its own (a commit, and on SQLite
    an fsync, each); a trial suggests about eight. The trial still knows each value as it is
    suggested, and a storage that is not an RDB storage gets them as Optuna writes them.
    """
    from optuna.storages import RDBStorage  # here: importing this module costs nothing

    held: list[tuple[str, float, Any]] = []
    storage = trial.storage
    if not isinstance(backend_of(storage), RDBStorage):
        yield held
        return
    trial.storage = _HoldingParams(storage, held)  # type: ignore[assignment]
    try:
        yield held
    finally:
        trial.storage = storage


class _HoldingParams:
    """A trial's storage, except that the parameters it is given are kept in `held`."""

    def __init__(self, storage: BaseStorage, held: list[tuple[str, float, Any]]) -> None:
        self._storage, self._held = storage, held

    def set_trial_param(self, trial_id: int, name: str, value: float, distribution: Any) -> None:
        self._held.append((name, value, distribution))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)


def write_trial_params(trial: optuna.Trial, held: list[tuple[str, float, Any]]) -> None:
    """What Optuna's set_trial_param does for each held parameter (the trial must still be
    running; each distribution is checked against the study's), in one transaction."""
    from optuna.storages._rdb.storage import _create_scoped_session  # costs nothing here

    if not held:
        return
    storage = backend_of(trial.storage)
    # as Optuna's own writes: a retry after a commit whose answer was lost changes nothing
    with _create_scoped_session(storage.scoped_session, True) as session:  # type: ignore[attr-defined]
        for name, value, distribution in held:
            storage._set_trial_param_without_commit(  # type: ignore[attr-defined]
                session, trial_id(trial), name, value, distribution
            )


def _upsert(dialect: str, table: sa.Table, rows: list[dict[str, Any]]) -> Any:
    """INSERT ... ON CONFLICT (trial_id, key) UPDATE value_json, as Optuna writes one row."""
    if _has_on_conflict(dialect):
        insert = _dialect_insert(dialect, table).values(rows)
        return insert.on_conflict_do_update(
            index_elements=[table.c.trial_id, table.c.key],
            set_={"value_json": insert.excluded.value_json},
        )
    return None


def claim_finished_trial(storage: BaseStorage, number: int, key: str) -> bool:
    """True for exactly one caller per (trial id, key), whichever process or machine asks.

    A system attribute's row is the claim: the table's unique (trial_id, key) lets one insert
    win and refuses the others. Optuna's API writes no attributes on a finished trial, so this
    one goes to the table itself, and the caching storage, which re-reads no finished trial,
    never shows it. A storage in memory has only one process: its caller always wins.
    """
    import sqlalchemy as sa  # here: importing this module costs nothing
    from optuna.storages import RDBStorage
    from optuna.storages._rdb import models

    backend = backend_of(storage)
    if not isinstance(backend, RDBStorage):
        return True
    table = models.TrialSystemAttributeModel.__table__
    row = {"trial_id": number, "key": key, "value_json": json.dumps(True)}
    dialect = backend.engine.dialect
    try:
        with backend.engine.begin() as connection:
            if _has_on_conflict(dialect.name) and dialect.insert_returning:
                # a lost claim is then no error in the server's log (rowcount says -1 here)
                insert = _dialect_insert(dialect.name, table).values(row)
                claimed = insert.on_conflict_do_nothing().returning(table.c.key)
                return connection.execute(claimed).first() is not None
            connection.execute(sa.insert(table).values(row))
    except sa.exc.IntegrityError:
        return False
    return True


def _dialect_insert(dialect: str, table: sa.Table) -> Any:
    """The dialect's own INSERT (the one with ON CONFLICT), for PostgreSQL or SQLite."""
    return import_module(f"sqlalchemy.dialects.{dialect}").insert(table)


def _has_on_conflict(dialect: str) -> bool:
    sqlite_upserts = dialect == "sqlite" and sqlite3.sqlite_version_info >= (3, 24)
    return dialect == "postgresql" or sqlite_upserts


def heartbeat_interval(storage: BaseStorage) -> int | None:
    """The storage's heartbeat interval in seconds; None when it keeps no heartbeats."""
    # here: importing this module costs nothing
    from optuna.storages._heartbeat import BaseHeartbeat

    return storage.get_heartbeat_interval() if isinstance(storage, BaseHeartbeat) else None


def stale_trial_ids(study: optuna.Study) -> list[int]:
    """RUNNING trials whose last heartbeat is older than the storage's grace period.

    Optuna's public fail_stale_trials does not say which trials it failed; its detector does.
    """
    storage = storage_of(study)
    if not heartbeat_interval(storage):
        return []
    return list(storage._get_stale_trial_ids(study_id(study)))  # type: ignore[attr-defined]
