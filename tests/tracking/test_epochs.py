"""A trial run's epochs wait in memory for at most FLUSH_SECONDS; a run's end sends the rest.

Against a real SQLite MLflow store; the client's log_batch is counted, not replaced.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from hpsearch.tracking import StudyTracker, _epochs
from hpsearch.train import EpochMetrics

PER_EPOCH = len(EpochMetrics(1, 0.0, 0.0, 0.0, 0.0, 0.0).as_dict())  # metrics logged per epoch


def _start(tracker: StudyTracker) -> str:
    return tracker.start_trial(3, {"lr": 0.1}, {}, seed=1, dataset_fingerprint="f" * 64)


def _epoch(epoch: int) -> EpochMetrics:
    return EpochMetrics(epoch, 1.0 / epoch, 0.5, 1.5 / epoch, 0.4 + epoch / 100, 0.01)


def _steps(tracker: StudyTracker, run_id: str) -> list[int]:
    return sorted(m.step for m in tracker.client.get_metric_history(run_id, "val_accuracy"))


def _log(tracker: StudyTracker, run_id: str, epochs: range | tuple[int, ...]) -> None:
    log_epoch = tracker.epoch_callback(run_id)
    for epoch in epochs:
        log_epoch(_epoch(epoch), None)  # type: ignore[arg-type]


def _count_requests(tracker: StudyTracker, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of metrics of each log_batch request from now on."""
    sizes: list[int] = []
    log_batch = tracker.client.log_batch

    def counted(run_id: str, metrics: Any = (), **kwargs: Any) -> Any:
        sizes.append(len(metrics))
        return log_batch(run_id, metrics=metrics, **kwargs)

    monkeypatch.setattr(tracker.client, "log_batch", counted)
    return sizes


def test_epochs_wait_until_the_last_request_is_old_enough_then_go_together(
    tracker: StudyTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_epochs, "FLUSH_SECONDS", 0.5)
    run_id = _start(tracker)
    sizes = _count_requests(tracker, monkeypatch)
    _log(tracker, run_id, (1, 2))
    assert (sizes, _steps(tracker, run_id)) == ([], [])
    time.sleep(0.6)
    _log(tracker, run_id, (3,))
    assert (sizes, _steps(tracker, run_id)) == ([3 * PER_EPOCH], [1, 2, 3])
    _log(tracker, run_id, (4,))
    assert sizes == [3 * PER_EPOCH]  # the clock starts again at each request


@pytest.mark.parametrize(
    "finish",
    [
        lambda t, r: t.finish_pruned(r, 3, "pruner"),
        lambda t, r: t.finish_killed(r, "SIGTERM"),
        lambda t, r: t.finish_failed(r, "Traceback: boom"),
    ],
    ids=["pruned", "killed", "failed"],
)
def test_a_runs_end_sends_its_waiting_epochs_with_its_end_tags(
    tracker: StudyTracker, monkeypatch: pytest.MonkeyPatch, finish: Any
) -> None:
    run_id = _start(tracker)
    sizes = _count_requests(tracker, monkeypatch)
    _log(tracker, run_id, (1, 2, 3))
    finish(tracker, run_id)
    assert sizes == [3 * PER_EPOCH]  # one request: the three epochs and the end tags
    assert _steps(tracker, run_id) == [1, 2, 3]
    assert tracker.client.get_run(run_id).info.status in ("KILLED", "FAILED")


def test_waiting_epochs_are_sent_before_a_request_would_pass_mlflows_limit(
    tracker: StudyTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_epochs, "FLUSH_SECONDS", 3600.0)
    run_id = _start(tracker)
    sizes = _count_requests(tracker, monkeypatch)
    _log(tracker, run_id, range(1, 121))
    tracker.finish_pruned(run_id, 120, "pruner")
    first = -(-_epochs.MAX_WAITING // PER_EPOCH) * PER_EPOCH  # whole epochs, at the limit or over
    assert sizes == [first, 120 * PER_EPOCH - first]  # MLflow takes at most 1,000 metrics at once
    assert _steps(tracker, run_id) == list(range(1, 121))
