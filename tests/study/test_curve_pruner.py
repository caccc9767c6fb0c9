"""The learning-curve pruner on synthetic curves: what it extrapolates, and when it prunes."""

from __future__ import annotations

import optuna
import pytest

from hpsearch.study.algorithms import make_pruner
from hpsearch.study.config import PrunerConfig
from hpsearch.study.curve_pruner import LearningCurvePruner, extrapolate


def test_a_flat_curve_extrapolates_to_itself() -> None:
    assert extrapolate([0.5] * 5, horizon=40) == pytest.approx(0.5)


def test_an_exact_power_law_is_predicted_at_least_as_high_as_it_ends() -> None:
    curve = [0.9 - 0.3 / t for t in range(1, 6)]
    assert 0.9 - 0.3 / 40 <= extrapolate(curve, horizon=40) <= 1.0


def test_a_steep_riser_is_given_the_benefit_of_the_doubt() -> None:
    assert extrapolate([0.3, 0.6, 0.75], horizon=40) >= 0.95  # the optimist: c = 0.5


def test_a_prediction_never_passes_one_nor_falls_below_the_best_so_far() -> None:
    assert extrapolate([0.5, 0.9, 0.99], horizon=1000) == 1.0
    assert extrapolate([0.1, 0.1, 0.1, 0.9], horizon=40) >= 0.9


def _study_with_best(value: float) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    for _ in range(2):
        trial = study.ask()
        trial.report(value, 1)
        study.tell(trial, value)
    return study


def _judged(pruner: LearningCurvePruner, study: optuna.Study, curve: list[float]) -> bool:
    trial = study.ask()
    for step, value in enumerate(curve, start=1):
        trial.report(value, step)
    return pruner.prune(study, study._storage.get_trial(trial._trial_id))


def test_it_prunes_a_plateau_below_the_best_and_spares_a_riser() -> None:
    study = _study_with_best(0.95)
    pruner = LearningCurvePruner(horizon=40, min_epochs=1, n_startup_trials=2)
    assert _judged(pruner, study, [0.80, 0.85, 0.86, 0.86]) is True
    assert _judged(pruner, study, [0.3, 0.6, 0.75]) is False


def test_it_waits_for_three_epochs_and_for_its_start_up_trials() -> None:
    study = _study_with_best(0.95)
    assert _judged(LearningCurvePruner(40, 1, 2), study, [0.1, 0.1]) is False  # 2 points
    assert _judged(LearningCurvePruner(40, 1, 3), study, [0.1, 0.1, 0.1]) is False  # 2 complete
    assert _judged(LearningCurvePruner(40, 1, 2), study, [0.1, 0.1, 0.1]) is True


def test_a_study_file_names_it() -> None:
    config = PrunerConfig(type="learning-curve", min_resource=4, n_startup_trials=3)
    pruner = make_pruner(config, epochs=40)
    assert isinstance(pruner, LearningCurvePruner)
    assert (pruner.horizon, pruner.min_epochs, pruner.n_startup_trials) == (40, 4, 3)
