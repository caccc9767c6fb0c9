"""The worker processes of one launch: start them, watch them, stop them, judge their exits."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from multiprocessing import connection
from typing import Any

from hpsearch.signals import STOP_SIGNALS
from hpsearch.study.worker import WorkerOptions, worker_process

STOP_GRACE_SECONDS = 20.0


class WorkersFailed(Exception):
    """Worker processes of a launch ended with an error. `exit_code`: 2 if all were user errors."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def start_workers(options: list[WorkerOptions], processes: list[Any]) -> Any:
    """Start a process per options into `processes`, one by one: an interrupt mid-way still
    stops those.

    Returns the event to set once the MLflow store, experiment and parent run exist: tracked
    workers import and load their data meanwhile, and open their tracker only after it."""
    context = multiprocessing.get_context("spawn")  # no forked SQLite/BLAS state in children
    ready = context.Event()
    for index, each in enumerate(options):
        if each.tracking_uri is not None:
            each = replace(each, tracker_ready=ready)
        process = context.Process(target=worker_process, args=(each,), name=f"worker-{index}")
        # The child starts with the stop signals blocked (it inherits the mask; its entry point
        # unblocks them under its own handler). Here the handler holds a signal back while the
        # child's start-up data is sent (signals.py): broken off, the child dies of an EOFError.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            process.start()
            processes.append(process)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return ready


def watch_workers(processes: list[Any], every_second: Callable[[], object]) -> None:
    """Wait for the workers, calling `every_second` meanwhile and once they are all gone."""
    while any(p.is_alive() for p in processes):
        every_second()
        # back at once when a worker exits: the summary need not wait out the second
        connection.wait([p.sentinel for p in processes if p.is_alive()], timeout=1.0)
    every_second()


def stop_workers(processes: list[Any]) -> None:
    """Ask workers to stop (they fail and re-queue their trial), then make sure they are gone."""
    for process in processes:
        if process.is_alive() and process.pid:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def check_exit_codes(processes: list[Any]) -> None:
    """A worker that ended with an error fails the launch, even when the others finished it."""
    failed = [p for p in processes if p.exitcode]
    if failed:
        code = 2 if all(p.exitcode == 2 for p in failed) else 1
        ends = ", ".join(f"{p.name} ({_how_it_ended(p.exitcode)})" for p in failed)
        raise WorkersFailed(f"worker process(es) failed: {ends}", code)


def _how_it_ended(exitcode: int) -> str:
    if exitcode == 2:
        return "a user error, printed above"
    if exitcode < 0:  # multiprocessing's way of saying "killed by a signal"
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"
