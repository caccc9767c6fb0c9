"""What counts against the trial budget: exactly N finished trials, whatever W is.

The pool (pool.py) issues the budget as WAITING slots; workers pop them atomically, so no worker
ever starts an N+1th trial. A crashed trial's retry is a new slot, so it does not count twice;
a slot cancelled because the budget was lowered does not count at all.
"""

from __future__ import annotations

import optuna

from hpsearch import private_apis
from hpsearch.study import attrs as A
from hpsearch.study import rows
from hpsearch.trial_counts import Counts, count, from_states

__all__ = ["Counts", "count", "count_rows"]  # count: for trials already loaded


def count_rows(study: optuna.Study) -> Counts:
    """The same counts from three aggregate queries: the cost does not grow with the trials."""
    storage, study_id = rows.backend(study), private_apis.study_id(study)
    return from_states(
        rows.state_counts(storage, study_id),
        rows.marked_count(storage, study_id, A.RETRY_OF),
        rows.marked_count(storage, study_id, A.CANCELLED),
    )
