"""A worker: claims trials of one study from the storage and runs them until the pool is empty.

Any number of workers on any number of machines may share one storage (Optuna's RDB storage is
the distributed engine). A crashed worker's trial goes stale, is failed by whoever notices, and
is retried once with the same parameters.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import TrialState
from threadpoolctl import threadpool_limits

from hpsearch.data import load_splits
from hpsearch.study.algorithms import make_pruner, make_sampler
from hpsearch.study.budget import CONFIG_ATTR, pop_slot
from hpsearch.study.config import StudyConfig, parse_study
from hpsearch.study.objective import Objective
from hpsearch.study.storage import load_existing_study, open_storage

if TYPE_CHECKING:
    from hpsearch.tracking import StudyTracker

log = logging.getLogger("hpsearch.worker")
IDLE_POLL_SECONDS = 1.0


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


def _sampler_seed(study_seed: int, worker_index: int | None) -> int:
    """Workers must not share a sampler stream, or their random start-up trials would coincide."""
    index = worker_index if worker_index is not None else os.getpid()
    return int(np.random.SeedSequence([study_seed, 1 + index]).generate_state(1)[0])


@contextlib.contextmanager
def _heartbeat(storage: RDBStorage, trial_id: int) -> Iterator[None]:
    """Tell the storage this trial is alive, every heartbeat interval, from a side thread."""
    interval = storage.get_heartbeat_interval() or 0
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                storage.record_heartbeat(trial_id)
            except Exception as exc:  # a restarting database must not kill the trial
                log.warning("heartbeat of trial %s failed: %s", trial_id, exc)

    storage.record_heartbeat(trial_id)
    thread = threading.Thread(target=beat, daemon=True, name="hpsearch-heartbeat")
    if interval:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if interval:
            thread.join()


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so both end the running trial cleanly."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _fail_and_retry(study: optuna.Study, trial: optuna.Trial) -> None:
    """An interrupted trial ends FAIL and gets its one retry, so the budget stays exact."""
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        frozen = study.tell(trial, state=TrialState.FAIL)
        RetryHeartbeatStaleTrialCallback(max_retry=1)(study, frozen)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def run_trial(
    study: optuna.Study, storage: RDBStorage, trial: optuna.Trial, objective: Objective
) -> TrialState:
    with _heartbeat(storage, trial._trial_id):
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            return study.tell(trial, state=TrialState.PRUNED).state
        except KeyboardInterrupt:
            _fail_and_retry(study, trial)
            raise
        except Exception:
            log.exception("trial %d failed", trial.number)
            return study.tell(trial, state=TrialState.FAIL).state
        return study.tell(trial, value).state


def _next_trial(study: optuna.Study, deadline: float) -> optuna.Trial | None:
    """The next slot; while others still run, wait (a crashed one's retry may appear)."""
    while time.monotonic() < deadline:
        fail_stale_trials(study)
        trial = pop_slot(study)
        if trial is not None:
            return trial
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not running:
            return None
        time.sleep(IDLE_POLL_SECONDS)
    return None


def run_worker(options: WorkerOptions) -> int:
    """Run trials until the pool is empty or the timeout passes. Returns trials run here."""
    storage = open_storage(options.storage_url)
    study = load_existing_study(options.study_name, storage)
    config = load_study_config(study)
    study.sampler = make_sampler(config.sampler, _sampler_seed(config.seed, options.worker_index))
    study.pruner = make_pruner(config.pruner, config.epochs)
    data = config.dataset
    splits = load_splits(
        data.name,
        data_dir=options.data_dir,
        val_fraction=data.val_fraction,
        train_subset=data.train_subset,
        seed=data.seed,
    )
    objective = Objective(config, splits, _tracker(options))
    deadline = time.monotonic() + (options.timeout or float("inf"))
    done = 0
    with threadpool_limits(limits=options.blas_threads), _signals_interrupt():
        while (trial := _next_trial(study, deadline)) is not None:
            trial.set_user_attr("blas_threads", options.blas_threads or 0)
            run_trial(study, storage, trial, objective)
            done += 1
    return done


def _tracker(options: WorkerOptions) -> StudyTracker | None:
    if options.tracking_uri is None:
        return None
    from hpsearch.tracking import StudyTracker

    return StudyTracker(options.study_name, options.tracking_uri, options.artifact_root)


def worker_process(options: WorkerOptions) -> None:
    """Entry point of a worker process started by `launch`: exit code 130 when interrupted."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        run_worker(options)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
