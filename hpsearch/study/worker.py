"""A worker: claims trials of one study from the storage and runs them until the pool is empty.

Any number of workers on any number of machines may share one storage (Optuna's RDB storage is
the distributed engine). A crashed worker's trial goes stale, is failed by whoever notices, and
is retried once with the same parameters (see reconcile.py). Storage calls ride out a database
restart with bounded retries; a trial the database failed mid-way is retried like a crashed one.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.storages import RDBStorage
from optuna.trial import TrialState
from threadpoolctl import threadpool_limits

from hpsearch.data import load_dataset, release_loaded
from hpsearch.errors import UserError
from hpsearch.study.algorithms import make_pruner, make_sampler
from hpsearch.study.budget import CONFIG_ATTR, LAUNCH_ATTR, count_rows
from hpsearch.study.config import BudgetConfig, StudyConfig, parse_study
from hpsearch.study.objective import Objective
from hpsearch.study.pool import claim
from hpsearch.study.reconcile import (
    fail_and_retry,
    fail_stale,
    kill_orphaned_runs,
    repair_lost_retries,
)
from hpsearch.study.stopping import FINISHED, WouldOverrun, stop_reason
from hpsearch.study.storage import (
    is_transient,
    load_existing_study,
    open_existing_storage,
    with_retries,
)

if TYPE_CHECKING:
    from hpsearch.tracking import StudyTracker

log = logging.getLogger("hpsearch.worker")
IDLE_POLL_SECONDS = 1.0
FAIL_REASON = "fail_reason"  # user attribute of a FAIL trial: what went wrong, in one line
STOPPED_ATTR = "hpsearch.stopped"  # study user attribute: why budget.target/patience stopped it


@dataclass(frozen=True)
class WorkerOptions:
    study_name: str
    storage_url: str
    tracking_uri: str | None  # None: no MLflow runs (engine-only use)
    artifact_root: str | None = None
    blas_threads: int | None = None
    worker_index: int | None = None
    timeout: float | None = None
    data_dir: Path | None = None


def load_study_config(study: optuna.Study) -> StudyConfig:
    return parse_study(study.user_attrs[CONFIG_ATTR], f"study {study.study_name!r}")


def sampler_seed(config: StudyConfig, launch: int, worker_index: int | None) -> int:
    """The seed of a worker's sampler: reproducible, and never a stream already used.

    Workers of one launch must not share a stream, or their random start-up trials would
    coincide; launches must not either, or a resumed study would re-run the points it tried
    (so the launch's ordinal, LAUNCH_ATTR, is mixed in). QMC is the exception: its points are
    one scrambled sequence whose position Optuna keeps in the storage, under a key made from the
    seed, so every worker of every launch shares one seed and the sequence goes on.
    """
    if config.sampler.type == "qmc":
        return int(np.random.SeedSequence([config.seed, 0]).generate_state(1)[0])
    index = worker_index if worker_index is not None else os.getpid()
    return int(np.random.SeedSequence([config.seed, launch, 1 + index]).generate_state(1)[0])


@contextlib.contextmanager
def _heartbeat(
    storage: RDBStorage, trial_id: int, watch: Callable[[], object] | None = None
) -> Iterator[None]:
    """Tell the storage this trial is alive, every heartbeat interval, from a side thread.

    The same thread runs `watch` (looking for other workers' stale trials) after each beat, so a
    crashed worker's trial is failed and retried within the grace period even while we train.
    """
    interval = storage.get_heartbeat_interval() or 0
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                storage.record_heartbeat(trial_id)
                if watch is not None:
                    watch()
            except Exception as exc:  # a restarting database must not kill the trial
                log.warning("heartbeat of trial %s failed: %s", trial_id, exc)

    with_retries(lambda: storage.record_heartbeat(trial_id), "recording a heartbeat")
    thread = threading.Thread(target=beat, daemon=True, name="hpsearch-heartbeat")
    if interval:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if interval:
            thread.join()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Code that must not be broken off half-way: an exception raised inside a database client can
# leave a write transaction open, and our own clean-up writes then wait on it (SQLite: 20 s).
_DATABASE_CODE = ("sqlalchemy", "sqlite3", "psycopg", "mlflow.store", "optuna.storages")
_SIGNAL_RETRY_SECONDS = 0.05


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C: KeyboardInterrupt, so both end the running work cleanly.

    The interrupt waits until no database call is in progress. Only the first stop signal
    interrupts: a repeated one must not break off the clean-up the first one started (SIGKILL
    still stops at once). Handlers exist only in the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _interrupt) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if _in_database_call(frame):  # deliver it again in a moment, when the call has returned
        resend = threading.Timer(_SIGNAL_RETRY_SECONDS, os.kill, (os.getpid(), signum))
        resend.daemon = True
        resend.start()
        return
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def _in_database_call(frame: FrameType | None) -> bool:
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith(_DATABASE_CODE):
            return True
        frame = frame.f_back
    return False


def _fail_and_retry(study: optuna.Study, trial: optuna.Trial) -> None:
    """An interrupted trial ends FAIL and gets its one retry, so the budget stays exact."""
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        fail_and_retry(study, trial._trial_id)  # it retries its own steps
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _tell(study: optuna.Study, trial: optuna.Trial, **outcome: Any) -> TrialState:
    """Record the outcome, unless another worker already failed the trial as stale."""
    frozen = with_retries(
        lambda: study.tell(trial, skip_if_finished=True, **outcome), "recording the trial"
    )
    return frozen.state


def run_trial(
    study: optuna.Study,
    storage: RDBStorage,
    trial: optuna.Trial,
    objective: Objective,
    watch: Callable[[], object] | None = None,
) -> TrialState:
    """Run one claimed trial to its end state. KeyboardInterrupt: FAIL, retried, re-raised."""
    with _heartbeat(storage, trial._trial_id, watch):
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
            if not is_transient(exc):
                reason = f"{type(exc).__name__}: {exc}"[:1000]
                log.error("trial %d failed: %s", trial.number, reason, exc_info=True)
                with_retries(lambda: trial.set_user_attr(FAIL_REASON, reason), "failing")
                return _tell(study, trial, state=TrialState.FAIL)
            # the database, not the trial, failed: the trial gets its retry
            log.warning("trial %d failed: database unavailable (%s)", trial.number, exc)
            _fail_and_retry(study, trial)
            return TrialState.FAIL
        return _tell(study, trial, values=value)


def _return_to_pool(study: optuna.Study, trial: optuna.Trial) -> None:
    """Unclaim a trial that never started training: WAITING again, its sampled values kept."""
    with_retries(
        lambda: study._storage.set_trial_state_values(trial._trial_id, state=TrialState.WAITING),
        "returning the trial to the pool",
    )


def _stop_reason(study: optuna.Study, budget: BudgetConfig) -> str | None:
    """budget.target or budget.patience met (read only when the study file sets them)."""
    if budget.target is None and budget.patience is None:
        return None
    trials = with_retries(
        lambda: study.get_trials(deepcopy=False, states=FINISHED), "reading the study"
    )
    reason = stop_reason(trials, budget)
    if reason is not None:
        with_retries(lambda: study.set_user_attr(STOPPED_ATTR, reason), "stopping the study")
    return reason


def _next_trial(
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


def preflight(config: StudyConfig, data_dir: Path | None) -> None:
    """What a worker needs before its first trial, for `launch` to check before any write.

    A sampler or pruner that cannot be built here, or a dataset that cannot be found, raises a
    one-line UserError. A dataset not yet on this machine is downloaded now, once, rather than
    by every worker at the same time; the workers then read it from the cache.
    """
    with warnings.catch_warnings():  # built only to see that it can be: no "experimental" noise
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        make_sampler(config.sampler, config.seed)
        make_pruner(config.pruner, config.epochs)
    load_dataset(config.dataset.name, data_dir)
    release_loaded()  # the launcher only checks it: its workers load their own copies


def run_worker(options: WorkerOptions) -> int:
    """Run trials until the pool is empty or the timeout passes. Returns trials run here."""
    storage = open_existing_storage(options.storage_url)
    study = load_existing_study(options.study_name, storage)
    config = load_study_config(study)
    launch = int(study.user_attrs.get(LAUNCH_ATTR, 0))
    seed = sampler_seed(config, launch, options.worker_index)
    study.sampler = make_sampler(config.sampler, seed)
    study.pruner = make_pruner(config.pruner, config.epochs)
    splits = config.dataset.load_splits(options.data_dir)
    tracker = _tracker(options)
    deadline = time.monotonic() + (options.timeout or float("inf"))
    objective = Objective(config, splits, tracker, deadline if options.timeout else None)
    # which process runs a trial: for operators, and for tests that kill it
    attrs = {
        "blas_threads": options.blas_threads or 0,
        "launch": launch,
        "sampler_seed": seed,  # with `launch`: how to sample this trial's point again
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }

    def watch() -> None:
        fail_stale(study, tracker)

    done = 0
    with threadpool_limits(limits=options.blas_threads), stop_signals_interrupt():
        while (trial := _next_trial(study, deadline, tracker, config.budget)) is not None:
            _start_trial(study, trial, attrs)
            try:
                run_trial(study, storage, trial, objective, watch)
            except WouldOverrun as exc:  # nor would the next: the deadline is near
                log.warning("trial %d not started: %s", trial.number, exc)
                break
            done += 1
    if tracker is not None:  # the last one out ends runs whose trials ended without them
        kill_orphaned_runs(study, tracker)
    return done


def _start_trial(study: optuna.Study, trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    """Tag a claimed trial with its worker; a stop signal here must not leave it RUNNING."""
    try:
        with_retries(partial(_set_user_attrs, trial, attrs), "starting the trial")
    except KeyboardInterrupt:
        _fail_and_retry(study, trial)
        raise


def _set_user_attrs(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def _tracker(options: WorkerOptions) -> StudyTracker | None:
    if options.tracking_uri is None:
        return None
    from hpsearch.tracking import StudyTracker

    return StudyTracker(options.study_name, options.tracking_uri, options.artifact_root)


def worker_process(options: WorkerOptions) -> None:
    """Entry point of a worker process started by `launch`.

    Exit code 130 when interrupted; on a user error (a dataset it cannot load, a sampler it
    cannot build) one line on stderr and exit code 2, which `launch` reports as a user error.
    Any other error keeps multiprocessing's traceback (a bug) and exit code 1.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        run_worker(options)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except UserError as exc:
        name = multiprocessing.current_process().name
        print(f"error: {name}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(exc.exit_code) from None
