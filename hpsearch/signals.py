"""Stop signals: SIGTERM behaves like Ctrl-C, and never lands inside a database call.

Shared by the launcher, the workers and `hpsearch ui`: `kill` or `docker stop` must clean up
exactly as Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Code that must not be broken off half-way: an exception raised inside a database client can
# leave a write transaction open, and our own clean-up writes then wait on it (SQLite: 20 s);
# one raised while a spawned child is sent its start-up data kills that child with an EOFError
# traceback (blocking the signals in the launching thread is not enough: another thread of the
# process may take the signal, and Python still runs the handler in the main thread). An import
# broken off half-way leaves a half-made module, and inside a class body's __set_name__ Python
# turns the interrupt into a RuntimeError traceback (seen in CI: SIGTERM as launch imported MLflow).
_UNBREAKABLE_CODE = ("sqlalchemy", "sqlite3", "psycopg", "mlflow.store", "optuna.storages",
                     "multiprocessing.popen_spawn_posix", "importlib._bootstrap")  # fmt: skip
_SIGNAL_RETRY_SECONDS = 0.05


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C: KeyboardInterrupt, so both end the running work cleanly.

    The interrupt waits until no database call (or child start) is in progress. Only the first
    stop signal interrupts: a repeated one must not break off the clean-up the first one started
    (SIGKILL still stops at once). Handlers exist only in the main thread. A signal ignored on
    entry stays ignored: `nohup hpsearch launch ... &` ignores Ctrl-C on purpose.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [sig for sig in STOP_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN]
    previous = {sig: signal.signal(sig, _interrupt) for sig in wanted}
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _redeliver_lost_interrupt(previous_hook)
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def stop_signals_ignored() -> Iterator[None]:
    """No stop signal breaks off what runs inside (a clean-up that keeps the budget exact)."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_held = threading.local()


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """A stop signal that arrives inside waits until the block has ended (then it interrupts).

    For steps whose result must reach the caller, or nothing is there to clean up: a run
    created in the tracking store whose id was lost to the interrupt stayed RUNNING for ever.
    """
    _held.depth = getattr(_held, "depth", 0) + 1
    try:
        yield
    finally:
        _held.depth -= 1


class ScratchFolder:
    """A temporary folder that a stop signal never leaves behind: `with ScratchFolder(p) as path`.

    Made and removed with stop signals held: an interrupt between making the folder (or
    tempfile's first probe file in TMPDIR) and the `with` taking it, or one during the removal
    of a `with` that ended normally, left it there. A class, not a generator
    (contextlib's) or TemporaryDirectory: an interrupt between a generator's yield and the
    `with` leaves its clean-up to the garbage collector, which the command's fast exit skips
    (cli.main). `before_removal` runs first (a pool that may still write into the folder).
    """

    def __init__(self, prefix: str, before_removal: Callable[[], object] | None = None) -> None:
        self.prefix, self.before_removal = prefix, before_removal

    def __enter__(self) -> Path:
        with signals_held():
            self.path = Path(tempfile.mkdtemp(prefix=self.prefix))
        return self.path

    def __exit__(self, *exc_info: object) -> None:
        with signals_held():  # the first stop signal, arriving here, would skip the removal
            if self.before_removal is not None:
                self.before_removal()
            shutil.rmtree(self.path, ignore_errors=True)


class StopSignalInterrupt(KeyboardInterrupt):
    """The KeyboardInterrupt a stop signal raises; `rearm` lists the signals it turned off."""

    def __init__(self, signum: int, rearm: list[signal.Signals]) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum
        self.rearm = rearm


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if getattr(_held, "depth", 0) or _in_unbreakable_code(frame):
        _resend_soon(signum)  # held back: delivered again once that has returned
        return
    rearm = [sig for sig in STOP_SIGNALS if signal.getsignal(sig) is _interrupt]
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise StopSignalInterrupt(signum, rearm)


def _resend_soon(signum: int) -> None:
    resend = threading.Timer(_SIGNAL_RETRY_SECONDS, os.kill, (os.getpid(), signum))
    resend.daemon = True
    resend.start()


def _redeliver_lost_interrupt(
    previous_hook: Callable[[Any], object],
) -> Callable[[Any], object]:
    """An unraisablehook that sends again an interrupt Python swallowed, and prints nothing.

    A signal handled while a finalizer runs (a weakref callback, a `__del__` during garbage
    collection) raises inside it, and Python only prints "Exception ignored in ..." with a
    traceback and goes on: the stop would be lost, and stderr would show a traceback.
    """

    def hook(unraisable: Any) -> object:
        interrupt = unraisable.exc_value
        if not isinstance(interrupt, StopSignalInterrupt):
            return previous_hook(unraisable)
        for sig in interrupt.rearm:
            signal.signal(sig, _interrupt)
        _resend_soon(interrupt.signum)
        return None

    return hook


def _in_unbreakable_code(frame: FrameType | None) -> bool:
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith(_UNBREAKABLE_CODE):
            return True
        frame = frame.f_back
    return False
