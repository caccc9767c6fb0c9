"""What counts against the trial budget: exactly N finished trials, whatever W is.

The pool (pool.py) issues the budget as WAITING slots; workers pop them atomically, so no worker
ever starts an N+1th trial. A crashed trial's retry is a new slot, so it does not count twice;
a slot cancelled because the budget was lowered does not count at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpsearch import private_apis
from hpsearch.study import attrs as A
from hpsearch.study import rows


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
    retried = {t.system_attrs[A.RETRY_OF] for t in trials if A.RETRY_OF in t.system_attrs}
    states = Counter(t.state for t in trials)
    n_retried = sum(1 for t in trials if t.state == TrialState.FAIL and t.number in retried)
    n_cancelled = sum(1 for t in trials if t.system_attrs.get(A.CANCELLED))
    return _counts(states, n_retried, n_cancelled)


def _counts(states: Mapping[TrialState, int], retried: int, cancelled: int) -> Counts:
    return Counts(
        complete=states.get(TrialState.COMPLETE, 0),
        pruned=states.get(TrialState.PRUNED, 0),
        failed=states.get(TrialState.FAIL, 0) - retried - cancelled,
        retried=retried,
        running=states.get(TrialState.RUNNING, 0),
        waiting=states.get(TrialState.WAITING, 0),
        cancelled=cancelled,
    )


def count_rows(study: optuna.Study) -> Counts:
    """The same counts from three aggregate queries: the cost does not grow with the trials."""
    storage, study_id = rows.backend(study), private_apis.study_id(study)
    return _counts(
        rows.state_counts(storage, study_id),
        rows.marked_count(storage, study_id, A.RETRY_OF),
        rows.marked_count(storage, study_id, A.CANCELLED),
    )
