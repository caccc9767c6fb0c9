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

import copy
import heapq
from collections.abc import Container, Sequence
from typing import Any

import optuna
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

BEST = 25  # TPE's default gamma never puts more than 25 trials in its good group
_RUNNING, _WAITING, _COMPLETE = TrialState.RUNNING, TrialState.WAITING, TrialState.COMPLETE


def bounded(trials: Sequence[FrozenTrial], limit: int, best: int = BEST) -> list[FrozenTrial]:
    """The trials a bounded sampler sees (in their order): every unfinished one, the `best`
    highest-valued COMPLETE ones, and the most recent finished ones, `limit` finished in all."""
    finished: list[FrozenTrial] = []
    unfinished: list[FrozenTrial] = []
    for trial in trials:  # one pass, identity tests: at 10,000 trials this runs per sample
        state = trial.state
        (unfinished if state is _RUNNING or state is _WAITING else finished).append(trial)
    if len(finished) <= limit:
        return list(trials)
    scored = [t for t in finished if t.state is _COMPLETE and t.value is not None]
    kept = {t.number: t for t in heapq.nlargest(best, scored, key=lambda t: (t.value, t.number))}
    for trial in reversed(finished):
        if len(kept) >= limit:
            break
        kept.setdefault(trial.number, trial)
    return sorted([*kept.values(), *unfinished], key=lambda t: t.number)


class _BoundedStudy:
    """The study, except that its trials are the bounded `trials` taken once for one sample
    (a trial's sampling reads them several times); everything else reads through."""

    def __init__(self, study: optuna.Study, trials: list[FrozenTrial]) -> None:
        self._study, self._trials = study, trials

    @classmethod
    def of(cls, study: optuna.Study, limit: int) -> _BoundedStudy:
        return cls(study, bounded(study._get_trials(deepcopy=False, use_cache=True), limit))

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        trials = [t for t in self._trials if states is None or t.state in states]
        return copy.deepcopy(trials) if deepcopy else trials

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=deepcopy, states=states)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)


class BoundedHistorySampler(BaseSampler):
    """`sampler`, seeing at most `limit` finished trials of the study (see the module)."""

    def __init__(self, sampler: BaseSampler, limit: int) -> None:
        self.sampler, self.limit = sampler, limit
        self._last: tuple[tuple[int, int], _BoundedStudy] | None = None

    def _view(self, study: optuna.Study, trial: FrozenTrial) -> Any:
        """The bounded view for this trial's sampling: built at its first read, so each trial
        walks the whole study once, not at each of the sampler's reads (a few per parameter)."""
        key, last = (id(study), trial._trial_id), self._last  # one read: threads may share us
        if last is not None and last[0] == key:
            return last[1]
        view = _BoundedStudy.of(study, self.limit)
        self._last = (key, view)
        return view

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> Any:
        return self.sampler.infer_relative_search_space(self._view(study, trial), trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: Any) -> Any:
        return self.sampler.sample_relative(self._view(study, trial), trial, search_space)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, distribution: Any
    ) -> Any:
        view = self._view(study, trial)
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
