"""One best-trial rule (issue 11 item 10): `status`, the parent run's summary and `hpsearch best`
pick the same trial when validation accuracies tie, as they often do on digits (steps of 1/216)."""

from __future__ import annotations

from pathlib import Path

import optuna
import yaml
from optuna.trial import create_trial

from hpsearch.registry._best import pick_best
from hpsearch.study.config import study_dims
from hpsearch.study.progress import study_status
from hpsearch.study.storage import open_storage
from hpsearch.tracking import StudyTracker
from study.tiny import TINY_STUDY

TIE = 205 / 216


def _tied_study(tmp_path: Path) -> optuna.Study:
    storage = open_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    study = optuna.create_study(storage=storage, study_name="ties", direction="maximize")
    study.set_user_attr("hpsearch.config", yaml.safe_dump(TINY_STUDY))  # digits: 64 -> ... -> 10
    for value, hidden in [(0.9, [8]), (TIE, [64]), (TIE, [16, 16]), (TIE, [16, 16]), (0.5, [8])]:
        study.add_trial(create_trial(value=value, user_attrs={"hidden": hidden}))
    # a newer trial records its size: tied too, and between [16, 16] (1482) and [64] (4810)
    study.add_trial(create_trial(value=TIE, user_attrs={"hidden": [32], "n_params": 2410}))
    return study


def test_status_summary_and_best_agree_on_ties(tmp_path: Path) -> None:
    study = _tied_study(tmp_path)
    smallest_first = 2  # [16, 16]: the smallest tied model, and the earlier of its two trials
    assert study_status(study)["best"]["trial"] == smallest_first
    assert pick_best(study, 64, 10).number == smallest_first
    tracker = StudyTracker("ties", f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path.as_uri())
    tracker.write_summary(study, study_dims(study))
    parent = tracker.client.get_run(tracker.parent_run_id)
    assert parent.data.metrics["best_trial_number"] == smallest_first
    assert parent.data.metrics["best_val_accuracy"] == TIE
