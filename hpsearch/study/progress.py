"""What a study looks like right now: counts by state and the best trial, as data.

hpsearch.cli_views draws it."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

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
    best = best_complete_trial(study, study_dims(study))
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


def best_complete_trial(
    study: optuna.Study, dims: tuple[int, int] | None = None
) -> FrozenTrial | None:
    """hpsearch.ranking's rule, applied to the few trials that share the top value, not to
    every trial (at 10,000 trials, loading them all takes seconds). `dims`: (input_dim,
    n_classes), sizing trials that recorded only their widths. A storage without tables (in
    memory) has its trials at hand: the rule reads them all."""
    storage = private_apis.backend_of(private_apis.storage_of(study))
    if isinstance(storage, RDBStorage):
        ids = rows.top_value_ids(storage, private_apis.study_id(study))
        candidates = [storage.get_trial(trial_id) for trial_id in ids]
    else:
        candidates = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return best_trial(candidates, dims)
