"""A running trial's heartbeat: a side thread tells the storage the trial is alive."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from optuna.storages import RDBStorage

log = logging.getLogger("hpsearch.worker")


@contextlib.contextmanager
def heartbeat(
    storage: RDBStorage, trial_id: int, watch: Callable[[], object] | None = None
) -> Iterator[None]:
    """Tell the storage this trial is alive, every heartbeat interval, from a side thread.

    The same thread runs `watch` (looking for other workers' stale trials) after each beat, so a
    crashed worker's trial is failed and retried within the grace period even while we train.
    The trial's first beat is the claim's (pool.pop_slot beats just before it claims); the
    thread's first comes one interval later.
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

    thread = threading.Thread(target=beat, daemon=True, name="hpsearch-heartbeat")
    if interval:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if interval:
            thread.join()
