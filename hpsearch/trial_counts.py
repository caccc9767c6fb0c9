"""How many trials a study has in each state, and how many count as finished: defined once.

A crashed trial's FAIL replaced by its retry is `retried`, not finished; an empty slot given
back when the budget was lowered is `cancelled`, not a trial. `hpsearch status`, the budget and
the parent run's summary all count with this.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from optuna.trial import FrozenTrial, TrialState

# trial system attributes that take a trial out of the finished count
RETRY_OF = "failed_trial"  # Optuna's retry callback's: the number of the trial this one retries
CANCELLED = "hpsearch.cancelled"  # an empty slot given back when the budget was lowered


@dataclass(frozen=True)
class Counts:
    complete: int
    pruned: int
    failed: int  # failures that were not retried
    retried: int  # failures replaced by a retry: not counted as finished
    running: int
    waiting: int
    cancelled: int = 0  # empty slots given back when the budget was lowered: not trials

    @property
    def finished(self) -> int:
        return self.complete + self.pruned + self.failed

    def as_dict(self) -> dict[str, int]:
        return {
            "complete": self.complete,
            "pruned": self.pruned,
            "failed": self.failed,
            "retried": self.retried,
            "running": self.running,
            "waiting": self.waiting,
            "cancelled": self.cancelled,
            "finished": self.finished,
        }


def count(trials: Sequence[FrozenTrial]) -> Counts:
    """The counts of trials already loaded (see `count_rows` for a study of any size)."""
    retried = {t.system_attrs[RETRY_OF] for t in trials if RETRY_OF in t.system_attrs}
    states = Counter(t.state for t in trials)
    n_retried = sum(1 for t in trials if t.state == TrialState.FAIL and t.number in retried)
    n_cancelled = sum(1 for t in trials if t.system_attrs.get(CANCELLED))
    return from_states(states, n_retried, n_cancelled)


def from_states(states: Mapping[TrialState, int], retried: int, cancelled: int) -> Counts:
    return Counts(
        complete=states.get(TrialState.COMPLETE, 0),
        pruned=states.get(TrialState.PRUNED, 0),
        failed=states.get(TrialState.FAIL, 0) - retried - cancelled,
        retried=retried,
        running=states.get(TrialState.RUNNING, 0),
        waiting=states.get(TrialState.WAITING, 0),
        cancelled=cancelled,
    )
