"""Study files: the shipped ones validate; each kind of mistake gets one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hpsearch.study.config import StudyConfigError, load_study_file, parse_study
from study.tiny import TINY_STUDY

STUDIES = Path(__file__).parents[2] / "studies"


@pytest.mark.parametrize("path", sorted(STUDIES.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_studies_validate_and_enqueue_the_tutorial_baseline(path: Path) -> None:
    config, _ = load_study_file(path)
    assert config.name == path.stem
    baseline = {"hidden": [50], "activation": "relu", "optimizer": "sgd", "lr": 0.1}
    assert any(baseline.items() <= trial.items() for trial in config.enqueue)
    assert any(trial.get("batch_size") == 100 for trial in config.enqueue)


def _error(**changes: object) -> str:
    text = yaml.safe_dump({**TINY_STUDY, **changes})
    with pytest.raises(StudyConfigError) as info:
        parse_study(text, "s.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("s.yaml: ")
    return message


def _space(**changes: object) -> dict[str, object]:
    return {**TINY_STUDY["search_space"], **changes}


def test_unknown_key_is_named() -> None:
    assert "sampler.kind: unknown key" in _error(sampler={"kind": "tpe"})
    assert "search_space.learning_rate: unknown key" in _error(
        search_space=_space(learning_rate=0.1)
    )


def test_low_not_below_high_is_refused() -> None:
    message = _error(search_space=_space(lr={"low": 0.1, "high": 0.01}))
    assert "search_space.lr" in message and "low < high" in message


def test_log_range_touching_zero_is_refused() -> None:
    message = _error(search_space=_space(lr={"low": 0.0, "high": 0.1, "log": True}))
    assert "search_space.lr" in message and "above zero" in message


def test_unknown_choice_lists_the_allowed_values() -> None:
    message = _error(search_space=_space(optimizer={"choices": ["sgd", "lbfgs"]}))
    assert "optimizer: unknown choice 'lbfgs'" in message and "adamw" in message
    message = _error(sampler={"type": "annealing"})
    assert "sampler.type" in message and "'tpe'" in message and "'qmc'" in message


def test_depth_outside_one_to_four_is_refused() -> None:
    assert "depth must stay within 1..4" in _error(search_space=_space(depth={"low": 1, "high": 6}))


def test_enqueued_trial_outside_the_space_is_refused() -> None:
    message = _error(enqueue=[{"hidden": [16], "activation": "relu", "optimizer": "sgd",
                               "lr": 5.0, "batch_size": 32}])  # fmt: skip
    assert "enqueue.0: lr=5.0 lies outside the search space" in message


def test_malformed_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StudyConfigError, match=r"s.yaml: not valid YAML \(line 2\)"):
        parse_study("name: x\n  bad: [\n", "s.yaml")
    with pytest.raises(StudyConfigError, match="cannot read study file"):
        load_study_file(tmp_path / "absent.yaml")


def test_a_parameter_can_be_fixed() -> None:
    text = yaml.safe_dump({**TINY_STUDY, "search_space": _space(lr=0.05, activation="tanh")})
    config = parse_study(text)
    assert config.search_space.lr == 0.05 and config.search_space.activation == "tanh"


def test_unknown_lr_schedule_lists_the_allowed_ones() -> None:
    message = _error(search_space=_space(lr_schedule="linear"))
    assert "unknown choice 'linear'" in message and "constant, cosine" in message
