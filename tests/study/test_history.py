"""The bound on the trials TPE reads (study/history.py): unchanged below it, bounded above."""

from __future__ import annotations

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from hpsearch.study.history import BoundedHistorySampler, _BoundedStudy, bounded

X = FloatDistribution(0.0, 1.0)


def _study(values: list[float], *, pruned_every: int = 0) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for number, value in enumerate(values):
        pruned = pruned_every and number % pruned_every == 0
        state = TrialState.PRUNED if pruned else TrialState.COMPLETE
        study.add_trial(
            create_trial(
                state=state,
                value=None if pruned else value,
                params={"x": value},
                distributions={"x": X},
                intermediate_values={1: value},
            )
        )
    return study


def test_a_study_within_the_bound_is_seen_whole() -> None:
    study = _study([0.1 * i for i in range(10)])
    assert bounded(study.trials, limit=10) == study.trials


def test_beyond_the_bound_the_best_the_recent_and_every_unfinished_trial_are_kept() -> None:
    values = [0.3, 0.99, 0.98, *[0.5] * 95, 0.1, 0.2]  # the best two are among the oldest
    study = _study(values, pruned_every=7)
    running = study.ask()
    kept = bounded(study.trials, limit=10, best=2)
    numbers = [t.number for t in kept]
    assert numbers == sorted(numbers)  # in the study's order
    assert sum(t.state.is_finished() for t in kept) == 10
    assert {1, 2} <= set(numbers)  # the best, however old
    assert set(range(92, 100)) <= set(numbers)  # then the most recent
    assert running.number in numbers  # constant_liar reads the running trials


def test_tpe_suggests_the_same_within_the_bound_and_sees_at_most_it_beyond() -> None:
    def suggestions(sampler: optuna.samplers.BaseSampler, trials: int) -> list[float]:
        study = _study([0.01 * i for i in range(trials)])
        study.sampler = sampler
        return [study.ask({"x": X}).params["x"] for _ in range(3)]

    def tpe() -> optuna.samplers.TPESampler:
        return optuna.samplers.TPESampler(seed=3, multivariate=True, group=True, n_startup_trials=5)

    assert suggestions(BoundedHistorySampler(tpe(), 50), 40) == suggestions(tpe(), 40)
    study = _study([0.001 * i for i in range(300)])
    view = _BoundedStudy.of(study, 50)
    finished = view._get_trials(deepcopy=False, states=(TrialState.COMPLETE,), use_cache=True)
    assert len(finished) == 50
    study.sampler = BoundedHistorySampler(tpe(), 50)
    assert 0.0 <= study.ask({"x": X}).params["x"] <= 1.0


def test_each_trial_reads_the_study_once_and_the_next_trial_sees_what_finished_since() -> None:
    study = _study([0.001 * i for i in range(300)])
    sampler = BoundedHistorySampler(optuna.samplers.RandomSampler(seed=0), 50)
    first = study.ask()
    view = sampler._view(study, first)
    assert sampler._view(study, first) is view  # the sampler's later reads for this trial
    study.tell(first, 2.0)  # the best value yet: the next view must hold it
    second = study.ask()
    numbers = [t.number for t in sampler._view(study, second).get_trials(deepcopy=False)]
    assert first.number in numbers and second.number in numbers
    assert len(numbers) == 51  # 50 finished, and the running second
