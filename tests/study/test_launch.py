"""Launching studies for real: SQLite and PostgreSQL storages, worker processes, exact budgets."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from hpsearch.settings import get_settings
from hpsearch.study.replay import replay
from hpsearch.study.storage import open_storage
from study.tiny import TINY_STUDY, run_launch

StudyFile = Callable[..., Path]


def _trials(name: str = "tiny", url: str | None = None) -> list[optuna.trial.FrozenTrial]:
    storage = open_storage(url or get_settings().optuna_url)
    return optuna.load_study(study_name=name, storage=storage).get_trials()


def test_end_to_end_study_on_sqlite_and_replay(study_file: StudyFile) -> None:
    baseline = {"hidden": [16], "activation": "relu", "optimizer": "sgd", "lr": 0.1,
                "batch_size": 32, "l2": 0}  # fmt: skip
    status = run_launch(study_file(enqueue=[baseline]), tracking=False)
    trials = _trials()
    assert status["finished"] == 4 and status["complete"] == 4
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert trials[0].params["lr"] == 0.1 and trials[0].params["width"] == 16
    for trial in trials:
        assert trial.state == TrialState.COMPLETE
        assert sorted(trial.intermediate_values) == [1, 2, 3, 4]
        assert trial.value == max(trial.intermediate_values.values())  # best epoch's accuracy
    assert len({t.user_attrs["seed"] for t in trials}) == 4
    report = replay("tiny", 2, get_settings().optuna_url)
    assert report.matches and report.epochs == 4
    assert [e["val_accuracy"] for e in report.replayed] == list(
        trials[2].intermediate_values.values()
    )


def test_replay_of_a_trial_recorded_before_losses_were_data_losses(study_file: StudyFile) -> None:
    """Old histories (no l2_penalty) had the penalty in the losses and a running train accuracy:
    their val_accuracy still means the same and is what replay compares."""
    import json
    import sqlite3

    run_launch(study_file(budget={"n_trials": 1}), tracking=False)
    (trial,) = _trials()
    old = [{**{k: v for k, v in epoch.items() if k != "l2_penalty"}, "train_loss": 9.0,
            "train_accuracy": 0.5} for epoch in trial.user_attrs["history"]]  # fmt: skip
    database = get_settings().optuna_url.removeprefix("sqlite:///")

    def store(history: list[dict[str, float]]) -> None:
        with sqlite3.connect(database) as db:
            db.execute("UPDATE trial_user_attributes SET value_json = ? WHERE key = 'history'",
                       (json.dumps(history),))  # fmt: skip

    store(old)
    assert replay("tiny", 0, get_settings().optuna_url).matches
    store([{**epoch, "val_accuracy": 0.0} for epoch in old])
    assert not replay("tiny", 0, get_settings().optuna_url).matches


def _params(trials: list[optuna.trial.FrozenTrial]) -> list[dict[str, object]]:
    return [t.params for t in trials]


def test_a_resumed_study_does_not_replay_the_points_it_tried(study_file: StudyFile) -> None:
    """Each launch's sampler stream mixes in the launch's ordinal, recorded on the study and
    on every trial, so a resume samples new points and a launch stays reproducible."""
    path = study_file(budget={"n_trials": 3})
    run_launch(path, tracking=False)
    run_launch(path, n_trials=6, tracking=False)
    trials = _trials()
    first, second = _params(trials[:3]), _params(trials[3:])
    assert len(second) == 3 and not any(p in first for p in second), (first, second)
    seeds = {t.number: t.user_attrs["sampler_seed"] for t in trials}
    assert seeds[0] == seeds[2] != seeds[3] == seeds[5]
    assert optuna.load_study(study_name="tiny", storage=open_storage(get_settings().optuna_url)
                             ).user_attrs["hpsearch.launch"] == 2  # fmt: skip


def test_a_fresh_study_samples_the_same_points_for_the_same_seed(
    study_file: StudyFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the order they were sampled (which trial number claims a slot is not fixed)."""

    def sampled() -> list[dict[str, object]]:
        return _params(sorted(_trials(), key=lambda t: t.datetime_start or 0))

    path = study_file(budget={"n_trials": 3})
    run_launch(path, tracking=False)
    first = sampled()
    monkeypatch.setenv("HPSEARCH_HOME", str(tmp_path / "second-home"))
    run_launch(path, tracking=False)
    assert sampled() == first


def test_qmc_workers_share_one_scrambled_sequence(study_file: StudyFile) -> None:
    """Optuna's QMCSampler counts its samples in the storage under a key made from its seed
    and the search space it inferred: one seed for every worker means one sequence (one key)
    whose points are handed out in turn; a seed per worker meant one key per worker and
    overlapping scrambled sequences."""
    # A space without conditions: QMC infers it from the first finished trial, so a
    # conditional one (depth, optimizer) changes key when an earlier-numbered trial finishes.
    space = {**TINY_STUDY["search_space"], "depth": 1, "optimizer": "sgd"}
    path = study_file(sampler={"type": "qmc"}, search_space=space, budget={"n_trials": 6})
    run_launch(path, workers=2, tracking=False)
    study = optuna.load_study(study_name="tiny", storage=open_storage(get_settings().optuna_url))
    system_attrs = study._storage.get_study_system_attrs(study._study_id)
    counts = {key: n + 1 for key, n in system_attrs.items() if key.startswith("qmc:")}
    # Trial 0 is sampled independently; the worker starting beside it may infer the space
    # from trial 0 while it is still half-suggested (a second key, one sample). Every later
    # trial draws from the one full-space sequence.
    assert len(counts) <= 2 and max(counts.values()) >= 4, counts
    assert len({t.user_attrs["sampler_seed"] for t in study.trials}) == 1
    # the rule itself, whichever workers got to sample above on a loaded machine
    from hpsearch.study.config import parse_study
    from hpsearch.study.worker import sampler_seed

    qmc = parse_study(yaml.safe_dump({**TINY_STUDY, "sampler": {"type": "qmc"}}))
    other = parse_study(yaml.safe_dump(TINY_STUDY))
    assert sampler_seed(qmc, 1, 0) == sampler_seed(qmc, 1, 1) == sampler_seed(qmc, 2, None)
    assert (
        len({sampler_seed(other, 1, 0), sampler_seed(other, 1, 1), sampler_seed(other, 2, 0)}) == 3
    )


def test_resume_tops_up_to_the_new_budget(study_file: StudyFile) -> None:
    path = study_file(budget={"n_trials": 2})
    run_launch(path, tracking=False)
    status = run_launch(path, n_trials=3, tracking=False)
    assert status["finished"] == 3 and len(_trials()) == 3


def test_the_study_file_timeout_stops_new_trials(study_file: StudyFile) -> None:
    status = run_launch(study_file(budget={"n_trials": 200, "timeout": 1}), tracking=False)
    assert status["running"] == 0 and status["waiting"] > 0  # the rest waits for a resume
    assert 1 <= status["finished"] < 200


def test_two_workers_stop_at_exactly_n_trials(study_file: StudyFile) -> None:
    status = run_launch(study_file(budget={"n_trials": 7}), workers=2, tracking=False)
    numbers = [t.number for t in _trials()]
    assert status["finished"] == 7 and status["running"] == status["waiting"] == 0
    assert sorted(numbers) == list(range(7))


def test_pruned_trials_record_the_pruner_as_reason(study_file: StudyFile) -> None:
    run_launch(
        study_file(pruner={"type": "threshold", "lower": 0.999, "n_warmup_steps": 0}),
        tracking=False,
    )
    trials = _trials()
    assert {t.state for t in trials} == {TrialState.PRUNED}
    assert {t.user_attrs["pruned_reason"] for t in trials} == {"pruner"}
    assert {t.user_attrs["pruned_step"] for t in trials} == {1}


def test_early_stopped_trials_complete_with_their_best_epoch(study_file: StudyFile) -> None:
    path = study_file(pruner={"type": "none", "early_stop": 2}, epochs=30)
    status = run_launch(path, tracking=False)
    trials = _trials()
    assert status["finished"] == 4 and {t.state for t in trials} == {TrialState.COMPLETE}
    stopped = [t for t in trials if "stopped_early" in t.user_attrs]
    assert stopped  # 30 epochs on 300 digits: every trial plateaus long before the end
    for t in stopped:
        val = [epoch["val_accuracy"] for epoch in t.user_attrs["history"]]
        assert len(val) == t.user_attrs["stopped_early"] < 30
        assert t.value == max(val) and max(val[-2:]) <= max(val[:-2])  # two epochs, no gain


def test_diverged_trials_end_pruned_and_the_study_goes_on(study_file: StudyFile) -> None:
    # relu: its activations overflow to NaN; tanh saturates, and its loss stays finite (~4e20)
    space = {**TINY_STUDY["search_space"], "lr": 1e20, "optimizer": "sgd", "activation": "relu"}
    status = run_launch(study_file(search_space=space, budget={"n_trials": 2}), tracking=False)
    trials = _trials()
    assert status["finished"] == 2 and status["failed"] == 0
    assert {t.state for t in trials} == {TrialState.PRUNED}
    assert {t.user_attrs["pruned_reason"] for t in trials} == {"diverged"}
    # the diverged epoch itself is reported: the step the trial ended at has a value
    assert all(list(t.intermediate_values) == [t.user_attrs["pruned_step"]] for t in trials)


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"pruner": {"type": "hyperband", "patience": 0}}, "pruner.patience"),
        ({"search_space": {"lr": {"low": 0.1, "high": 0.01}}}, "search_space.lr"),
        ({"epochs": 0}, "epochs"),
    ],
)
def test_bad_study_file_exits_2_and_creates_no_store(
    study_file: StudyFile, hpsearch_home: Path, changes: dict[str, object], expected: str
) -> None:
    result = _launch_cli(study_file(**changes))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not hpsearch_home.exists()


def _launch_cli(
    path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hpsearch", "launch", str(path), *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("where", ["--data-dir", "HPSEARCH_DATA_DIR"])
def test_a_dataset_not_found_exits_2_before_any_store_is_created(
    study_file: StudyFile, hpsearch_home: Path, tmp_path: Path, where: str
) -> None:
    # before: the launch created all three stores, each worker printed a traceback, exit code 0
    empty = tmp_path / "no-data"
    empty.mkdir()
    path = study_file(dataset={"name": "mnist"})
    if where == "--data-dir":
        result = _launch_cli(path, "--workers", "2", "--data-dir", str(empty))
    else:
        result = _launch_cli(path, "--workers", "2", env={"HPSEARCH_DATA_DIR": str(empty)})
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and f"mnist: {empty} lacks" in result.stderr
    assert "Traceback" not in result.stderr
    assert not hpsearch_home.exists()  # no optuna.db, mlflow.db or hpsearch.db: no rows anywhere


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="PyTorch is installed")
def test_a_sampler_that_cannot_be_built_exits_2_before_any_store_is_created(
    study_file: StudyFile, hpsearch_home: Path
) -> None:
    result = _launch_cli(study_file(sampler={"type": "gp"}), "--workers", "2")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "needs PyTorch" in result.stderr
    assert not hpsearch_home.exists()
