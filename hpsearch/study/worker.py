"""A worker process: joins one study and runs its trials until the pool is empty.

Any number of workers on any number of machines may share one storage (Optuna's RDB storage is
the distributed engine). A crashed worker's trial goes stale, is failed by whoever notices, and
is retried once with the same parameters (see reconcile.py). The loop itself (claim, run, tell)
is in trial_loop.py, the heartbeat in heartbeat.py, stop signals in hpsearch/signals.py.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import optuna
from optuna.trial import TrialState
from threadpoolctl import threadpool_limits

from hpsearch.data import release_loaded
from hpsearch.errors import UserError
from hpsearch.private_apis import exit_at_once
from hpsearch.signals import STOP_SIGNALS, stop_signals_interrupt
from hpsearch.study import attrs as A
from hpsearch.study.algorithms import make_pruner, make_sampler
from hpsearch.study.config import StudyConfig, load_study_config
from hpsearch.study.objective import Objective
from hpsearch.study.reconcile import fail_stale, kill_orphaned_runs, summarise_if_idle
from hpsearch.study.retention import ModelKeeper
from hpsearch.study.stopping import WouldOverrun
from hpsearch.study.storage import load_existing_study, open_existing_storage
from hpsearch.study.trial_loop import next_trial, run_trial

if TYPE_CHECKING:
    from hpsearch.tracking import StudyTracker  # MLflow: only when tracking

__all__ = ["WorkerOptions", "preflight", "run_worker", "stop_signals_interrupt", "worker_process"]

log = logging.getLogger("hpsearch.worker")


@dataclass(frozen=True)
class WorkerOptions:
    study_name: str
    storage_url: str
    tracking_uri: str | None  # None: no MLflow runs (engine-only use)
    artifact_root: str | None = None
    blas_threads: int | None = None
    threads_choice: str | None = None  # how launch chose workers x threads, recorded per trial
    worker_index: int | None = None
    timeout: float | None = None
    data_dir: Path | None = None
    # the last worker out ends the parent run with the summary; launch's own workers leave it
    # to launch, which waits for them
    summarise: bool = True
    # launch's workers: a multiprocessing Event, set once launch has made the MLflow store, the
    # experiment and the parent run (see _tracker)
    tracker_ready: Any = None


def sampler_seed(config: StudyConfig, launch: int, worker_index: int | None) -> int:
    """The seed of a worker's sampler: reproducible, and never a stream already used.

    Workers of one launch must not share a stream, or their random start-up trials would
    coincide; launches must not either, or a resumed study would re-run the points it tried
    (so the launch's ordinal, attrs.LAUNCH, is mixed in). QMC is the exception: its points are
    one scrambled sequence whose position Optuna keeps in the storage, under a key made from the
    seed, so every worker of every launch shares one seed and the sequence goes on.
    """
    if config.sampler.type == "qmc":
        return int(np.random.SeedSequence([config.seed, 0]).generate_state(1)[0])
    index = worker_index if worker_index is not None else os.getpid()
    return int(np.random.SeedSequence([config.seed, launch, 1 + index]).generate_state(1)[0])


def preflight(config: StudyConfig, data_dir: Path | None) -> str:
    """What a worker needs before its first trial, for `launch` to check before any write.

    A sampler or pruner that cannot be built here, or a dataset that cannot be found, raises a
    one-line UserError. A dataset not yet on this machine is downloaded now, once, rather than
    by every worker at the same time; the workers then read it from the cache. Returns the
    fingerprint of the splits the trials will train on (the catalog records it).
    """
    with warnings.catch_warnings():  # built only to see that it can be: no "experimental" noise
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        make_sampler(config.sampler, config.seed)
        make_pruner(config.pruner, config.epochs)
    fingerprint = config.dataset.load_splits(data_dir).fingerprint()
    release_loaded()  # the launcher only checks it: its workers load their own copies
    return fingerprint


def run_worker(options: WorkerOptions) -> int:
    """Run trials until the pool is empty or the timeout passes. Returns trials run here."""
    storage = open_existing_storage(options.storage_url)
    study = load_existing_study(options.study_name, storage)
    config = load_study_config(study)
    launch = int(study.user_attrs.get(A.LAUNCH, 0))
    seed = sampler_seed(config, launch, options.worker_index)
    study.sampler = make_sampler(config.sampler, seed)
    study.pruner = make_pruner(config.pruner, config.epochs)
    splits = config.dataset.load_splits(options.data_dir)
    tracker = _tracker(options)
    deadline = time.monotonic() + (options.timeout or float("inf"))
    tags = _trial_tags(options, launch, seed)
    objective = Objective(config, splits, tracker, deadline if options.timeout else None, tags)

    def watch() -> None:
        fail_stale(study, tracker)

    keeper = _keeper(study, tracker, config)
    done = 0
    try:
        with threadpool_limits(limits=options.blas_threads), stop_signals_interrupt():
            while (trial := next_trial(study, deadline, tracker, config.budget)) is not None:
                try:
                    state = run_trial(study, storage, trial, objective, watch)
                except WouldOverrun as exc:  # nor would the next: the deadline is near
                    log.warning("trial %d not started: %s", trial.number, exc)
                    break
                if keeper is not None and state == TrialState.COMPLETE:
                    keeper.after_trial()  # models that left the K best are freed as we go
                done += 1
    except KeyboardInterrupt:  # stopped: launch's workers leave the clean-up to launch
        if tracker is not None and options.summarise:
            _leave(study, tracker, summarise=True)  # repeated signals are ignored by now
        raise
    if tracker is not None:
        _leave(study, tracker, summarise=options.summarise)
    return done


def _trial_tags(options: WorkerOptions, launch: int, seed: int) -> dict[str, Any]:
    """What every trial of this worker records: its threads, its sampling, its process."""
    return {
        A.BLAS_THREADS: options.blas_threads or 0,
        A.THREADS_CHOICE: options.threads_choice or "not chosen (hpsearch worker)",
        A.LAUNCH_NUMBER: launch,
        A.SAMPLER_SEED: seed,  # with the launch: how to sample this trial's point again
        # which process runs a trial: for operators, and for tests that kill it
        A.WORKER: f"{socket.gethostname()}:{os.getpid()}",
    }


def _leave(study: optuna.Study, tracker: StudyTracker, *, summarise: bool) -> None:
    """The last one out ends runs whose trials ended without them, and the parent run."""
    kill_orphaned_runs(study, tracker)
    if summarise:
        summarise_if_idle(study, tracker)


def _keeper(
    study: optuna.Study, tracker: StudyTracker | None, config: StudyConfig
) -> ModelKeeper | None:
    """keep_models: frees the models that fall out of the K best as the study runs."""
    return (
        None
        if tracker is None
        else ModelKeeper(study, tracker.client, config.artifacts.keep_models)
    )


def _tracker(options: WorkerOptions) -> StudyTracker | None:
    if options.tracking_uri is None:
        return None
    from hpsearch.tracking import StudyTracker  # MLflow: only when tracking

    if options.tracker_ready is not None:
        _await_launcher(options.tracker_ready)
    return StudyTracker(options.study_name, options.tracking_uri, options.artifact_root)


def _await_launcher(ready: Any) -> None:
    """Wait until launch has made the store, the experiment and the parent run, which this
    worker then only finds: two processes making a fresh store's tables at once would race.
    Should launch die first, the worker goes on and makes them itself, as `hpsearch worker`
    does; a launch that fails to make them stops its workers (SIGTERM ends this wait too)."""
    launcher = multiprocessing.parent_process()
    while not ready.wait(timeout=0.2):
        if launcher is None or not launcher.is_alive():
            return


def worker_process(options: WorkerOptions) -> NoReturn:
    """Entry point of a worker process started by `launch`.

    Exit code 130 when interrupted; on a user error (a dataset it cannot load, a sampler it
    cannot build) one line on stderr and exit code 2, which `launch` reports as a user error.
    Any other error keeps multiprocessing's traceback (a bug) and exit code 1. Otherwise the
    process exits without the interpreter's teardown (exit_at_once): freeing MLflow's, Optuna's
    and SQLAlchemy's modules ran while launch waited for its last worker to write the summary.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with stop_signals_interrupt():  # a stop signal held back while launch started us
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # ends the worker here
            run_worker(options)
        code = 0
    except KeyboardInterrupt:
        code = 130
    except UserError as exc:
        name = multiprocessing.current_process().name
        print(f"error: {name}: {exc}", file=sys.stderr, flush=True)
        code = exc.exit_code
    exit_at_once(code)
