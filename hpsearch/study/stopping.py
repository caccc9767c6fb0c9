"""Study-level stopping: a target val accuracy, patience, and a deadline no trial may overrun.

`budget.target` and `budget.patience` are judged on the finished trials, in the order they
finished: a worker asks `stop_reason` before it claims a trial, so once it says stop no trial
starts (those running finish). With `budget.timeout`, `expected_seconds` estimates how long a
sampled trial will take from the finished trials' seconds per epoch, scaled by the new
trial's size, times the epochs a trial is expected to train: the mean the finished trials
trained, since under pruning most stop long before the last epoch. A trial that would end past
the deadline is not started: it goes back to the pool, untouched, for a later launch. An
estimate can still be short (a trial that survives pruning trains more than the mean), so
`DeadlineStop` ends a running trial COMPLETE, with its best epoch so far, before the epoch that
would end past the deadline: the timeout bounds the launch instead of hinting at it.
"""

from __future__ import annotations

import heapq
import itertools
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from hpsearch.nn import MLP
from hpsearch.study.config import BudgetConfig
from hpsearch.train import EpochMetrics

# Cost of one epoch ~ weights + a fixed part (evaluation, logging, Python) worth this many
# weights, so that tiny networks' overhead does not make big ones look cheap.
FIXED_COST_WEIGHTS = 20_000
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
RECENT_TRIALS = 500  # the finished trials a duration is estimated from


def _finished(trials: Sequence[FrozenTrial]) -> Iterator[FrozenTrial]:
    return (t for t in trials if t.state in FINISHED and t.datetime_complete is not None)


def _finishing_order(trial: FrozenTrial) -> tuple[Any, int]:
    return trial.datetime_complete, trial.number


def _in_finishing_order(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    return sorted(_finished(trials), key=_finishing_order)


def _latest_finished(trials: Sequence[FrozenTrial], n: int) -> list[FrozenTrial]:
    """The `n` last finished of `trials` (COMPLETE or PRUNED), in finishing order."""
    return heapq.nlargest(n, _finished(trials), key=_finishing_order)[::-1]


def stop_reason(trials: Sequence[FrozenTrial], budget: BudgetConfig) -> str | None:
    """Why the study must start no more trials (target reached, patience spent), else None."""
    best: float | None = None
    since_best = 0
    for trial in _in_finishing_order(trials):
        value = trial.value if trial.state == TrialState.COMPLETE else None
        if budget.target is not None and value is not None and value >= budget.target:
            return f"target {budget.target} reached by trial {trial.number}"
        if value is not None and (best is None or value > best):
            best, since_best = value, 0
        else:
            since_best += 1
        if budget.patience is not None and since_best >= budget.patience:
            return f"no improvement in the last {since_best} finished trials"
    return None


def epoch_cost(widths: Sequence[int]) -> int:
    """Relative cost of one epoch of an MLP whose layer widths (input to output) are `widths`."""
    weights = sum((fan_in + 1) * fan_out for fan_in, fan_out in itertools.pairwise(widths))
    return weights + FIXED_COST_WEIGHTS


def expected_seconds(
    trials: Sequence[FrozenTrial], widths: Sequence[int], epochs: int, dims: tuple[int, int]
) -> float | None:
    """Expected seconds of a trial of hidden `widths` and at most `epochs` epochs; None before
    any evidence.

    `dims` is (input dimension, classes). Each finished trial gives seconds per epoch (start
    to end, so sampling, tracking and saving count) per unit of `epoch_cost`; the median wins.
    The epochs expected are the finished trials' mean, capped at `epochs`: counting all of
    them for every trial stopped pruned studies minutes before their deadline. Only the
    `RECENT_TRIALS` last finished count: the trials the sampler proposes now, and a cost per
    trial that stays flat at 10,000 trials (reading each one took 0.1 s per trial at 9,000).
    """
    rates, trained = [], []
    for trial in _latest_finished(trials, RECENT_TRIALS):
        hidden, steps = trial.user_attrs.get("hidden"), len(trial.intermediate_values)
        if not hidden or not steps or trial.datetime_start is None:
            continue
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()  # type: ignore[operator]
        rates.append(seconds / steps / epoch_cost([dims[0], *hidden, dims[1]]))
        trained.append(steps)
    if not rates:
        return None
    expected_epochs = min(epochs, statistics.fmean(trained))
    return expected_epochs * statistics.median(rates) * epoch_cost([dims[0], *widths, dims[1]])


class WouldOverrun(Exception):
    """A sampled trial expected to end past the deadline: it goes back to the pool unstarted."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"expected to take {seconds:.0f} s, past the deadline")
        self.seconds = seconds


@dataclass
class DeadlineStop:
    """A trainer callback: stop once the next epoch, at this trial's pace, would end past
    `deadline` (a time.monotonic()). The trial then completes with its best epoch so far, as
    `pruner.early_stop` does: its value and model are that epoch either way."""

    deadline: float
    started: float = field(default_factory=time.monotonic)
    stopped_at: int | None = None

    def __call__(self, metrics: EpochMetrics, model: MLP) -> bool:
        now = time.monotonic()
        seconds_per_epoch = (now - self.started) / metrics.epoch
        if now + seconds_per_epoch > self.deadline:
            self.stopped_at = metrics.epoch
            return True
        return False
