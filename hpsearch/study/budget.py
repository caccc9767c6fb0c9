"""The trial budget as a pool of WAITING trials: exactly N finished trials, whatever W is.

`launch` creates the pool (the study's fixed trials first, then empty slots the sampler fills).
Workers pop slots atomically through the storage, so no worker ever starts an N+1th trial;
a crashed trial's retry is a new slot, so it does not count twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpsearch.study.config import StudyConfig
from hpsearch.study.space import enqueue_params

CONFIG_ATTR = "hpsearch.config"
BUDGET_ATTR = "hpsearch.n_trials"


@dataclass(frozen=True)
class Counts:
    complete: int
    pruned: int
    failed: int  # failures that were not retried
    retried: int  # failures replaced by a retry: not counted as finished
    running: int
    waiting: int

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
            "finished": self.finished,
        }


def count(trials: Sequence[FrozenTrial]) -> Counts:
    retried = {t.system_attrs["failed_trial"] for t in trials if "failed_trial" in t.system_attrs}
    states = Counter(t.state for t in trials)
    n_retried = sum(1 for t in trials if t.state == TrialState.FAIL and t.number in retried)
    return Counts(
        complete=states[TrialState.COMPLETE],
        pruned=states[TrialState.PRUNED],
        failed=states[TrialState.FAIL] - n_retried,
        retried=n_retried,
        running=states[TrialState.RUNNING],
        waiting=states[TrialState.WAITING],
    )


def create_or_resume(
    config: StudyConfig, config_text: str, storage: optuna.storages.BaseStorage, n_trials: int
) -> tuple[optuna.Study, int]:
    """Create the study (or load it) and top its pool up to `n_trials`. Returns (study, added)."""
    study = optuna.create_study(
        study_name=config.name, storage=storage, direction="maximize", load_if_exists=True
    )
    is_new = CONFIG_ATTR not in study.user_attrs
    study.set_user_attr(CONFIG_ATTR, config_text)
    study.set_user_attr(BUDGET_ATTR, n_trials)
    counts = count(study.get_trials(deepcopy=False))
    missing = n_trials - (counts.finished + counts.running + counts.waiting)
    fixed = config.enqueue[:missing] if is_new else []
    for values in fixed:
        study.enqueue_trial(enqueue_params(config.search_space, values))
    for _ in range(missing - len(fixed)):
        study.enqueue_trial({})
    return study, max(missing, 0)


def pop_slot(study: optuna.Study) -> optuna.Trial | None:
    """Atomically claim one WAITING trial (the storage refuses a second claimant); None if empty.

    Unlike `Study.ask`, never creates a trial: an empty pool means the budget is spent.
    """
    # The study's own (caching) view of the storage, so that it knows the trial it hands out.
    storage = study._storage
    study_id = study._study_id
    for frozen in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
        # Beat first: a worker killed right after its claim still leaves a trial that goes stale.
        if getattr(storage, "get_heartbeat_interval", lambda: None)():
            storage.record_heartbeat(frozen._trial_id)  # type: ignore[attr-defined]
        try:
            if storage.set_trial_state_values(frozen._trial_id, state=TrialState.RUNNING):
                return optuna.Trial(study, frozen._trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None
