"""A trial run's epoch metrics, sent to the store at most about once a second.

One request per epoch was the largest part of a short trial's cost outside training: digits
trains an epoch in ~10 ms, and each `log_batch` took 4-5 ms of CPU on SQLite (more through a
server). Here epochs wait in memory until FLUSH_SECONDS have passed since the run's last
request, and the run's end sends what still waits in the same request as its end tags. So a
run ended by any of the tracker's finish_* calls (pruned, failed, stopped by a signal) has
every epoch; only a worker killed outright (SIGKILL, power loss) loses its last second of
epochs, which Optuna's intermediate values still hold. Longer epochs go out one by one, as
before, and the MLflow UI's live curves lag by at most that second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mlflow.entities import Metric

from hpsearch.tracking._entities import now_ms

FLUSH_SECONDS = 1.0
MAX_WAITING = 500  # metrics; MLflow takes at most 1,000 in one log_batch


class EpochLog:
    """The epochs of one run: every row it was given, and which of them the store has."""

    def __init__(self, client: Any, run_id: str, clock: Callable[[], float] = time.monotonic):
        self.client, self.run_id, self._clock = client, run_id, clock
        self._rows: dict[int, list[Metric]] = {}
        self._waiting: set[int] = set()
        self._waiting_rows = 0  # metrics in the waiting steps
        self._sent_at = clock()
        self._final_stamp: int | None = None

    def final_stamp(self) -> int:
        """The timestamp of the run's final metrics, fixed at the first call, for the same
        reason as an epoch's rows (`add`): a retried finish writes the very same rows."""
        if self._final_stamp is None:
            self._final_stamp = now_ms()
        return self._final_stamp

    def add(self, step: int, rows: list[Metric]) -> None:
        """Keep one epoch's rows; send all waiting ones once the last request is old enough.

        A step added again (the retry of a callback whose request failed) keeps its first rows:
        MLflow's SQL store commits the metrics before its other writes, so a request that failed
        after that commit has stored them, and only an identical row (same key, step, value,
        timestamp) is recognised as a duplicate instead of becoming a second point."""
        if step not in self._rows:
            self._rows[step] = rows
            self._waiting.add(step)
            self._waiting_rows += len(rows)
        if self._clock() - self._sent_at >= FLUSH_SECONDS or self._waiting_rows >= MAX_WAITING:
            self.flush()

    def flush(self) -> None:
        if self._waiting:
            self.client.log_batch(self.run_id, metrics=self.waiting())
            self.stored()

    def waiting(self, except_step: int | None = None) -> list[Metric]:
        """The rows not sent yet (in step order), without those of `except_step`."""
        steps = sorted(step for step in self._waiting if step != except_step)
        return [metric for step in steps for metric in self._rows[step]]

    def at(self, step: int) -> tuple[list[Metric], bool]:
        """(the rows of `step`, sent or not; whether they still wait): ([], False) when this
        log never had them (another worker's tracker logged that epoch)."""
        return list(self._rows.get(step, [])), step in self._waiting

    def stored(self) -> None:
        """Every waiting row was sent (by the caller, too, in a request with its end tags)."""
        self._waiting.clear()
        self._waiting_rows = 0
        self._sent_at = self._clock()
