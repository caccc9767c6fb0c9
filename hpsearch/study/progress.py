"""What a study looks like right now: counts by state and the best trial, as data.

hpsearch.cli_views draws it."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import FrozenTrial

from hpsearch import private_apis
from hpsearch.ranking import best_trial
from hpsearch.study import attrs as A
from hpsearch.study import rows
from hpsearch.study.budget import count_rows
from hpsearch.study.config import study_dims


def study_status(study: optuna.Study) -> dict[str, Any]:
    """A JSON-ready summary: counts, budget, best trial with its parameters.

    Built from aggregate queries and the best trial alone, never from every trial: the live
    table refreshes it every second, and at 10,000 trials loading them all takes seconds.
    """
    best = _best(study)
    return {
        "study": study.study_name,
        "n_trials": study.user_attrs.get(A.BUDGET),
        **count_rows(study).as_dict(),
        "best": None
        if best is None
        else {
            "trial": best.number,
            "val_accuracy": best.value,
            "params": best.params,
            "mlflow_run_id": best.user_attrs.get(A.MLFLOW_RUN_ID),
        },
    }


def _best(study: optuna.Study) -> FrozenTrial | None:
    """hpsearch.ranking's rule, applied to the few trials that share the top value."""
    storage = rows.backend(study)
    tied = [storage.get_trial(i) for i in rows.top_value_ids(storage, private_apis.study_id(study))]
    return best_trial(tied, study_dims(study))
