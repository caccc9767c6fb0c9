"""What the pruner sees: the best val_accuracy so far per 1-based epoch, warmup in epochs."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from hpsearch.study.algorithms import AtRungs, make_pruner
from hpsearch.study.config import PrunerConfig
from hpsearch.study.objective import EarlyStop, PruningCallback
from hpsearch.train import EpochMetrics


def _epoch(epoch: int, val_accuracy: float) -> EpochMetrics:
    return EpochMetrics(epoch, 0.5, 0.5, 0.5, val_accuracy, 0.1)


def _study(pruner: optuna.pruners.BasePruner) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction="maximize", pruner=pruner)


def test_the_pruner_sees_the_best_so_far_not_a_decline() -> None:
    study = _study(optuna.pruners.NopPruner())
    trial = study.ask()
    callback = PruningCallback(trial)
    for epoch, accuracy in enumerate([0.5, 0.8, 0.6, 0.7, 0.9], start=1):
        assert callback(_epoch(epoch, accuracy), model=None) is False  # type: ignore[arg-type]
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {
        1: 0.5, 2: 0.8, 3: 0.8, 4: 0.8, 5: 0.9,
    }  # fmt: skip


def test_a_trial_that_peaked_early_survives_a_threshold_on_its_decline() -> None:
    study = _study(make_pruner(PrunerConfig(type="threshold", lower=0.7), epochs=5))
    trial = study.ask()
    callback = PruningCallback(trial)
    stops = [callback(_epoch(e, a), None) for e, a in [(1, 0.8), (2, 0.6), (3, 0.5)]]  # type: ignore[arg-type]
    assert stops == [False, False, False] and callback.pruned_at is None


def _finished(study: optuna.Study, values: list[float]) -> None:
    trial = study.ask()
    for step, value in enumerate(values, start=1):
        trial.report(value, step)
    study.tell(trial, max(values))


def test_median_warmup_counts_epochs_from_one() -> None:
    # n_warmup_steps: 1 means the first epoch is never judged, the second is.
    config = PrunerConfig(type="median", n_startup_trials=1, n_warmup_steps=1)
    study = _study(make_pruner(config, epochs=3))
    _finished(study, [0.9, 0.95, 0.97])
    trial = study.ask()
    trial.report(0.1, 1)
    assert not trial.should_prune()
    trial.report(0.1, 2)
    assert trial.should_prune()


def test_percentile_warmup_of_zero_judges_the_first_epoch() -> None:
    config = PrunerConfig(type="percentile", percentile=50.0, n_startup_trials=1, n_warmup_steps=0)
    study = _study(make_pruner(config, epochs=3))
    _finished(study, [0.9, 0.95, 0.97])
    trial = study.ask()
    trial.report(0.1, 1)
    assert trial.should_prune()


def test_early_stop_ends_a_trial_after_patience_epochs_without_a_new_best() -> None:
    stop = EarlyStop(patience=2)
    curve = [0.5, 0.7, 0.7, 0.65]  # a tie is no new best
    stops = [stop(_epoch(e, a), None) for e, a in enumerate(curve, start=1)]  # type: ignore[arg-type]
    assert stops == [False, False, False, True] and stop.stopped_at == 4
    assert (stop.best, stop.best_epoch) == (0.7, 2)


def test_early_stop_waits_while_the_trial_improves() -> None:
    stop = EarlyStop(patience=1)
    curve = [0.1, 0.2, 0.3, float("nan")]  # a non-finite epoch is no new best
    stops = [stop(_epoch(e, a), None) for e, a in enumerate(curve, start=1)]  # type: ignore[arg-type]
    assert stops == [False, False, False, True] and stop.stopped_at == 4


def test_tie_break_ranks_equal_accuracies_by_val_loss_and_never_crosses_an_image() -> None:
    # 360 validation images: accuracies step by 1/360; the tie-break moves a value by less
    # than half of that, so only trials of equal accuracy change order (lower loss first)
    study = _study(optuna.pruners.NopPruner())
    step = 0.5 / 360
    reported = {}
    for loss in (0.3, 0.1, float("nan")):
        callback = PruningCallback(study.ask(), tie_step=step)
        callback(EpochMetrics(1, 0.5, 0.5, loss, 0.9, 0.1), None)  # type: ignore[arg-type]
        reported[str(loss)] = callback.best
    assert reported["nan"] < reported["0.3"] < reported["0.1"] < 0.9
    assert 0.9 - reported["nan"] <= step < 1 / 360
    assert PruningCallback(study.ask()).tie_step == 0.0  # off unless pruner.tie_break


def _curves(n: int, epochs: int, seed: int) -> list[list[float]]:
    """Saturating val-accuracy curves with noise: each trial its own ceiling and speed."""
    rng = np.random.default_rng(seed)
    curves = []
    for _ in range(n):
        ceiling, speed = rng.uniform(0.3, 0.95), rng.uniform(0.05, 0.8)
        steps = np.arange(1, epochs + 1)
        noise = rng.normal(0, 0.01, epochs)
        curves.append(list(np.maximum.accumulate(ceiling * (1 - np.exp(-speed * steps)) + noise)))
    return curves


def _pruned_steps(pruner: optuna.pruners.BasePruner, curves: list[list[float]]) -> list[int | None]:
    """Each trial, run in turn, reporting every epoch: the step it was pruned at, or None."""
    # Hyperband picks a trial's bracket from a hash of the study's name and the trial's number
    study = optuna.create_study(study_name="same-name", direction="maximize", pruner=pruner)
    pruned: list[int | None] = []
    for curve in curves:
        trial = study.ask()
        pruned.append(None)
        for step, value in enumerate(curve, start=1):
            trial.report(value, step)
            if trial.should_prune():
                pruned[-1] = step
                break
        state = optuna.trial.TrialState.PRUNED if pruned[-1] else optuna.trial.TrialState.COMPLETE
        study.tell(trial, None if pruned[-1] else curve[-1], state=state)
    return pruned


@pytest.mark.parametrize(
    "config",
    [
        PrunerConfig(type="successive-halving", min_resource=1, reduction_factor=3),
        PrunerConfig(
            type="successive-halving", min_resource=2, reduction_factor=2, bootstrap_count=2
        ),
        PrunerConfig(type="hyperband", min_resource=2, reduction_factor=3),
        PrunerConfig(type="hyperband", min_resource=1, reduction_factor=2),
    ],
    ids=["asha", "asha-bootstrap", "hyperband", "hyperband-2"],
)
def test_successive_halving_asked_only_at_its_rungs_decides_as_optuna_does(
    config: PrunerConfig,
) -> None:
    curves = _curves(60, epochs=30, seed=3)
    asked: list[int] = []
    at_rungs = make_pruner(config, epochs=30)
    assert isinstance(at_rungs, AtRungs)
    prune = at_rungs.pruner.prune
    at_rungs.pruner.prune = lambda study, trial: (
        asked.append(trial.last_step) or prune(study, trial)
    )  # type: ignore[method-assign]
    ours = _pruned_steps(at_rungs, curves)
    optunas = _pruned_steps(make_pruner(config, epochs=30, at_rungs=False), curves)
    assert ours == optunas
    assert len(set(ours) - {None}) >= 2  # pruned at more than one rung: the test can fail
    rungs = {config.min_resource * config.reduction_factor**k for k in range(6)}
    assert set(asked) <= rungs


def test_a_patient_pruner_asks_successive_halving_as_optuna_does() -> None:
    # PatientPruner asks only after a plateau, maybe past a rung: no gate there
    config = PrunerConfig(type="successive-halving", patience=2)
    patient = make_pruner(config, epochs=30)
    assert isinstance(patient, optuna.pruners.PatientPruner)
    assert isinstance(patient._wrapped_pruner, optuna.pruners.SuccessiveHalvingPruner)
