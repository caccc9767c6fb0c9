"""Study-level stopping: budget.target, budget.patience and the deadline, with exact counts."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState

from hpsearch.settings import get_settings
from hpsearch.study.config import BudgetConfig
from hpsearch.study.stopping import RECENT_TRIALS, epoch_cost, expected_seconds, stop_reason
from hpsearch.study.storage import open_storage
from study.tiny import TINY_STUDY, run_launch

StudyFile = Callable[..., Path]
START = datetime.datetime(2026, 1, 1)
# Three epochs of a fixed small network on digits: values reproducible from the study seed.
FIXED = {"hidden": [16], "activation": "relu", "optimizer": "adam", "batch_size": 32, "l2": 0}


def _finished(
    number: int, value: float | None, *, seconds: float = 1.0, hidden: list[int] | None = None
) -> FrozenTrial:
    """A trial that finished `number` minutes after START, COMPLETE with `value` or PRUNED."""
    trial = optuna.trial.create_trial(
        state=TrialState.COMPLETE if value is not None else TrialState.PRUNED,
        value=value,
        intermediate_values={1: value or 0.1, 2: value or 0.1},
        user_attrs={"hidden": hidden or [16]},
    )
    trial.number = number
    trial.datetime_complete = START + datetime.timedelta(minutes=number)
    trial.datetime_start = trial.datetime_complete - datetime.timedelta(seconds=seconds)
    return trial


def test_target_stops_at_the_first_trial_that_reaches_it() -> None:
    trials = [_finished(0, 0.5), _finished(1, None), _finished(2, 0.91), _finished(3, 0.95)]
    assert stop_reason(trials, BudgetConfig(n_trials=9, target=0.9)) == (
        "target 0.9 reached by trial 2"
    )
    assert stop_reason(trials, BudgetConfig(n_trials=9, target=0.96)) is None


def test_patience_counts_finished_trials_since_the_best_in_finishing_order() -> None:
    # finishing order 0, 2, 1, 3: the best (0.8) is trial 2; then 1 (pruned) and 3 (worse)
    trials = [_finished(0, 0.5), _finished(3, None), _finished(1, 0.8), _finished(4, 0.7)]
    trials[1].datetime_complete = START + datetime.timedelta(minutes=2)
    assert stop_reason(trials, BudgetConfig(n_trials=9, patience=3)) is None
    assert stop_reason(trials, BudgetConfig(n_trials=9, patience=2)) == (
        "no improvement in the last 2 finished trials"
    )


def test_expected_seconds_scale_with_the_trial_size() -> None:
    dims = (64, 10)
    assert expected_seconds([], [16], 10, dims) is None
    # 2 epochs in 4 s: 2 s per epoch for [16]; a network 4x as costly takes 4x as long
    trials = [_finished(0, 0.9, seconds=4.0, hidden=[16])]
    assert expected_seconds(trials, [16], 2, dims) == pytest.approx(4.0)
    big = [512, 512]
    ratio = epoch_cost([64, *big, 10]) / epoch_cost([64, 16, 10])
    assert expected_seconds(trials, big, 2, dims) == pytest.approx(4.0 * ratio)


def test_expected_seconds_read_only_the_latest_finished_trials() -> None:
    dims = (64, 10)
    slow_and_old = [_finished(n, 0.5, seconds=100.0) for n in range(RECENT_TRIALS)]
    recent = [_finished(RECENT_TRIALS + n, 0.9, seconds=4.0) for n in range(RECENT_TRIALS)]
    # in any order: what counts is when they finished
    assert expected_seconds(recent + slow_and_old, [16], 2, dims) == pytest.approx(4.0)


def test_expected_seconds_count_the_epochs_finished_trials_trained() -> None:
    # under pruning most trials stop early: a trial may train 40 epochs, but the finished ones
    # trained 2 and 6 (mean 4), so 4 epochs are expected, at the median 2 s per epoch
    dims = (64, 10)
    short = _finished(0, None, seconds=4.0)
    long = _finished(1, 0.9, seconds=12.0)
    long.intermediate_values = {step: 0.9 for step in range(1, 7)}
    assert expected_seconds([short, long], [16], 40, dims) == pytest.approx(8.0)
    assert expected_seconds([short, long], [16], 3, dims) == pytest.approx(6.0)  # the cap


def _trials() -> list[FrozenTrial]:
    storage = open_storage(get_settings().optuna_url)
    return optuna.load_study(study_name="tiny", storage=storage).get_trials()


def _launch(study_file: StudyFile, budget: dict[str, object], enqueue: list[object]) -> None:
    space = {**TINY_STUDY["search_space"], "lr": {"low": 1e-3, "high": 1e-2, "log": True}}
    run_launch(study_file(search_space=space, epochs=3, budget=budget, enqueue=enqueue),
               tracking=False)  # fmt: skip


def test_a_study_stops_when_a_trial_reaches_the_target(study_file: StudyFile) -> None:
    # trial 0 (adam, lr 0.01) passes 0.5 on digits; with one worker no other trial starts
    _launch(study_file, {"n_trials": 6, "target": 0.5}, [FIXED | {"lr": 0.01}])
    trials = _trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] + [TrialState.WAITING] * 5
    assert trials[0].value is not None and trials[0].value >= 0.5


def test_a_study_stops_after_patience_trials_without_a_new_best(study_file: StudyFile) -> None:
    # a strong trial first, then weaker fixed ones (lower lr): patience 2 stops after trial 2
    enqueue = [FIXED | {"lr": 0.01}, FIXED | {"lr": 0.001}, FIXED | {"lr": 0.001},
               FIXED | {"lr": 0.001}]  # fmt: skip
    _launch(study_file, {"n_trials": 6, "patience": 2}, enqueue)
    trials = _trials()
    states = [t.state for t in trials]
    assert states == [TrialState.COMPLETE] * 3 + [TrialState.WAITING] * 3
    assert trials[1].value < trials[0].value and trials[2].value < trials[0].value  # type: ignore[operator]
    assert not any(t.state == TrialState.RUNNING for t in trials)


def test_no_trial_starts_that_would_end_past_the_deadline(study_file: StudyFile) -> None:
    # Every trial is pruned right after its 300-epoch warmup (threshold 0.999), so 301 epochs
    # are expected of each: after trial 0 ([8]), trial 1 (~157 times its cost per epoch) is
    # expected to take ~301 x 157 x the [8] epoch time, over a minute even at 1.5 ms an epoch,
    # far past the 10 s timeout. It goes back to the pool unstarted, its values kept, and the
    # worker stops: nothing is left RUNNING. (When the threshold pruner ignored the warmup,
    # trials stopped after one epoch and a fast host started trial 1.)
    huge = FIXED | {"lr": 0.01, "hidden": [1024] * 4}
    space = {**TINY_STUDY["search_space"], "lr": {"low": 1e-3, "high": 1e-2, "log": True},
             "depth": {"low": 1, "high": 4},
             "width": {"low": 8, "high": 1024, "log": True}}  # fmt: skip
    pruner = {"type": "threshold", "lower": 0.999, "n_warmup_steps": 300}
    path = study_file(search_space=space, epochs=1000, pruner=pruner,
                      budget={"n_trials": 3, "timeout": 10},
                      enqueue=[FIXED | {"lr": 0.01, "hidden": [8]}, huge])  # fmt: skip
    run_launch(path, tracking=False)
    trials = _trials()
    assert [t.state for t in trials] == [TrialState.PRUNED, TrialState.WAITING,
                                         TrialState.WAITING]  # fmt: skip
    assert len(trials[0].intermediate_values) == 301  # the warmup held: judged first at 301
    assert trials[1].params["width"] == 1024 and not trials[1].intermediate_values


def test_a_trial_running_at_the_deadline_completes_with_its_best_epoch_before_it(
    study_file: StudyFile,
) -> None:
    # The first trial has no evidence to be refused on, so it starts: 1000 epochs of [512] take
    # far longer than the 4 s timeout, and it is stopped before the epoch that would overrun.
    space = {**TINY_STUDY["search_space"], "lr": {"low": 1e-3, "high": 1e-2, "log": True},
             "width": {"low": 8, "high": 512, "log": True}}  # fmt: skip
    path = study_file(search_space=space, epochs=1000, pruner={"type": "none"},
                      budget={"n_trials": 2, "timeout": 4},
                      enqueue=[FIXED | {"lr": 0.01, "hidden": [512]}])  # fmt: skip
    run_launch(path, tracking=False)
    first, second = _trials()
    assert first.state == TrialState.COMPLETE and second.state == TrialState.WAITING
    val = [epoch["val_accuracy"] for epoch in first.user_attrs["history"]]
    assert len(val) == first.user_attrs["stopped_at_deadline"] < 1000
    assert first.value == max(val)
    # the worker's deadline is 4 s after it started, so before the trial did; 1 s to finish
    assert (first.datetime_complete - first.datetime_start).total_seconds() < 4 + 1  # type: ignore[operator]
