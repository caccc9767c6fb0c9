"""A bound on the trials a sampler reads, so that a sample costs the same at trial 100 and 10,000.

Optuna's TPE reads every finished trial for every sample, in Python (splitting them into the
good and the rest, building each one's internal values, growing the group decomposition): at
9,000 trials that took about a second of a worker's CPU per trial, more than the trial itself.
Optuna has no option that bounds it, so the sampler gets a view of the study that holds, of the
finished trials, the `best` highest-valued COMPLETE ones and the most recent others up to
`limit`, and every unfinished trial (constant_liar reads the running ones).

With TPE's default gamma the good group is the best min(10%, 25) trials: with `best` = 25 those
are the same trials with or without the bound, so only the rest (the density TPE divides by)
is drawn from recent trials, which TPE's default weights favour anyway. A study with at most
`limit` finished trials sees every one of them: its suggestions are unchanged.
"""

from __future__ import annotations

import heapq
from collections.abc import Container, Sequence
from typing import Any

import optuna
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

BEST = 25  # TPE's default gamma never puts more than 25 trials in its good group


def bounded(trials: Sequence[FrozenTrial], limit: int, best: int = BEST) -> list[FrozenTrial]:
    """The trials a bounded sampler sees (in their order): every unfinished one, the `best`
    highest-valued COMPLETE ones, and the most recent finished ones, `limit` finished in all."""
    finished = [t for t in trials if t.state.is_finished()]
    if len(finished) <= limit:
        return list(trials)
    scored = [(t.value, t.number) for t in finished if t.state == TrialState.COMPLETE]
    kept = {number for _, number in heapq.nlargest(best, [s for s in scored if s[0] is not None])}
    for trial in reversed(finished):
        if len(kept) >= limit:
            break
        kept.add(trial.number)
    return [t for t in trials if not t.state.is_finished() or t.number in kept]


class _BoundedStudy:
    """The study, except that its trials are bounded as above; everything else reads through."""

    def __init__(self, study: optuna.Study, limit: int) -> None:
        self._study, self._limit = study, limit

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        trials = self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
        return bounded(trials, self._limit)

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        return bounded(self._study.get_trials(deepcopy=deepcopy, states=states), self._limit)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)


class BoundedHistorySampler(BaseSampler):
    """`sampler`, seeing at most `limit` finished trials of the study (see the module)."""

    def __init__(self, sampler: BaseSampler, limit: int) -> None:
        self.sampler, self.limit = sampler, limit

    def _view(self, study: optuna.Study) -> Any:
        return _BoundedStudy(study, self.limit)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> Any:
        return self.sampler.infer_relative_search_space(self._view(study), trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: Any) -> Any:
        return self.sampler.sample_relative(self._view(study), trial, search_space)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, distribution: Any
    ) -> Any:
        view = self._view(study)
        return self.sampler.sample_independent(view, trial, param_name, distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.sampler.reseed_rng()
