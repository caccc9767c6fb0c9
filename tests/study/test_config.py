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


@pytest.mark.parametrize("name", ["fashion-mnist", "mnist", "quickstart"])
def test_searched_studies_enqueue_nothing_but_the_baseline(name: str) -> None:
    # Their accuracy must be the search's own: points picked by hand go to *-warm.yaml.
    config, _ = load_study_file(STUDIES / f"{name}.yaml")
    assert len(config.enqueue) == 1
    assert config.enqueue[0]["hidden"] == [50] and config.enqueue[0]["lr"] == 0.1


def _error(**changes: object) -> str:
    text = yaml.safe_dump({**TINY_STUDY, **changes})
    with pytest.raises(StudyConfigError) as info:
        parse_study(text, "s.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("s.yaml: ")
    return message


def _space(**changes: object) -> dict[str, object]:
    return {**TINY_STUDY["search_space"], **changes}


def test_unknown_key_is_named_with_the_keys_allowed_there() -> None:
    message = _error(sampler={"kind": "tpe"})
    assert "sampler.kind: unknown key" in message
    assert "allowed: type, n_startup_trials, history" in message
    message = _error(search_space=_space(learning_rate=0.1))
    assert "search_space.learning_rate: unknown key" in message
    assert all(key in message for key in ("lr", "batch_size", "momentum", "rho", "lr_schedule"))
    assert "did you mean" not in message  # nothing is close to `learning_rate`
    message = _error(seeds=1)
    assert message.startswith("s.yaml: seeds: unknown key; did you mean 'seed'? allowed: name,")


def test_a_misspelt_key_is_matched_to_the_closest_allowed_one() -> None:
    message = _error(dataset={"name": "digits", "val_frac": 0.1})
    assert "dataset.val_frac: unknown key; did you mean 'val_fraction'?" in message
    assert "allowed: name, val_fraction, train_subset, seed" in message
    message = _error(search_space=_space(momentun=0.9))
    assert "search_space.momentun: unknown key; did you mean 'momentum'?" in message


def test_an_unknown_key_inside_a_range_or_choice_lists_its_keys() -> None:
    # Reported before the `high` it leaves missing, and without pydantic's union branch names.
    message = _error(search_space=_space(lr={"low": 0.01, "hihg": 0.1}))
    assert message == ("s.yaml: search_space.lr.hihg: unknown key; did you mean 'high'? "
                       "allowed: low, high, log, zero")  # fmt: skip
    message = _error(search_space=_space(batch_size={"choice": [32, 64]}))
    assert "search_space.batch_size.choice: unknown key; did you mean 'choices'?" in message
    message = _error(search_space=_space(batch_size={"low": 32, "high": 64}))  # not a choice
    assert "search_space.batch_size." in message and "unknown key; allowed: choices" in message


def test_a_value_of_the_wrong_type_names_the_forms_allowed() -> None:
    message = _error(search_space=_space(lr="fast"))
    assert message == ("s.yaml: search_space.lr: expected a mapping {low, high, log, zero} "
                       "or a number, got 'fast'")  # fmt: skip
    message = _error(sampler="tpe")
    assert "sampler: expected a mapping {type, n_startup_trials, history}, got 'tpe'" in message


def test_low_not_below_high_is_refused() -> None:
    message = _error(search_space=_space(lr={"low": 0.1, "high": 0.01}))
    assert "search_space.lr: needs finite low < high, got low=0.1, high=0.01" in message
    message = _error(search_space=_space(depth={"low": 2, "high": 2}))
    assert "search_space.depth: needs low < high, got low=2, high=2" in message
    message = _error(search_space=_space(lr={"low": float("nan"), "high": 0.01}))
    assert "search_space.lr: needs finite low < high" in message


def test_log_range_touching_zero_is_refused() -> None:
    message = _error(search_space=_space(lr={"low": 0.0, "high": 0.1, "log": True}))
    assert "search_space.lr: a log range must stay above zero, got low=0.0" in message


def test_unknown_choice_lists_the_allowed_values() -> None:
    message = _error(search_space=_space(optimizer={"choices": ["sgd", "lbfgs"]}))
    assert message == ("s.yaml: search_space.optimizer: unknown choice 'lbfgs'; allowed: sgd, "
                       "momentum, nesterov, adagrad, rmsprop, adam, adamw")  # fmt: skip
    message = _error(search_space=_space(activation="swish"))
    assert "search_space.activation: unknown choice 'swish'; allowed: relu," in message
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
    assert "search_space.lr_schedule: unknown choice 'linear'; allowed: constant, cosine" in message


def test_an_enqueued_point_without_l2_names_the_key_to_write() -> None:
    message = _error(enqueue=[{"hidden": [16], "activation": "relu", "optimizer": "sgd",
                               "lr": 0.1, "batch_size": 32}])  # fmt: skip
    assert "enqueue.0: missing value for searched parameter 'l2'" in message


def test_every_name_the_engine_knows_is_accepted_in_a_study_file() -> None:
    from hpsearch.data import DATASET_NAMES
    from hpsearch.nn import ACTIVATIONS, LOSSES, OPTIMIZERS
    from hpsearch.train import LR_SCHEDULES

    space = _space(activation={"choices": list(ACTIVATIONS)},
                   optimizer={"choices": list(OPTIMIZERS)}, loss={"choices": list(LOSSES)},
                   lr_schedule={"choices": list(LR_SCHEDULES)})  # fmt: skip
    config = parse_study(yaml.safe_dump({**TINY_STUDY, "search_space": space}))
    assert config.search_space.activation.choices == list(ACTIVATIONS)
    for name in DATASET_NAMES:
        dataset = {**TINY_STUDY["dataset"], "name": name}
        assert parse_study(yaml.safe_dump({**TINY_STUDY, "dataset": dataset})).dataset.name == name
    assert "dataset.name: unknown dataset 'emnist'; allowed: digits," in _error(
        dataset={"name": "emnist"}
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("lr", float("nan"), "search_space.lr: lr must stay within (0.0, inf], got nan"),
        ("width", -5, "search_space.width: width must stay within 1..65536, got -5"),
        ("dropout", 1.0, "search_space.dropout: dropout must stay within [0.0, 1.0), got 1.0"),
        ("l2", -1, "search_space.l2: l2 must stay within [0.0, inf], got -1.0"),
        ("depth", 9, "search_space.depth: depth must stay within 1..4, got 9"),
        ("momentum", 1.5, "search_space.momentum: momentum must stay within [0.0, 1.0)"),
    ],
)
def test_a_fixed_value_passes_the_same_checks_as_a_range(
    field: str, value: object, expected: str
) -> None:
    assert expected in _error(search_space=_space(**{field: value}))


def test_both_ends_of_a_range_are_checked_like_a_fixed_value() -> None:
    message = _error(search_space=_space(dropout={"low": 0.5, "high": 1.5}))
    assert "search_space.dropout: dropout must stay within [0.0, 1.0), got 0.5..1.5" in message
    message = _error(search_space=_space(lr={"low": 0.01, "high": 0.1, "zero": True}))
    assert "search_space.lr: lr must stay within (0.0, inf]" in message  # zero is no lr


def test_a_fixed_value_is_a_fixed_range_that_is_never_sampled() -> None:
    text = yaml.safe_dump({**TINY_STUDY, "search_space": _space(lr="1e-3", width=16)})
    space = parse_study(text).search_space
    assert space.lr.fixed and space.lr.value == 1e-3  # PyYAML reads 1e-3 as a string
    assert space.width.fixed and space.width.value == 16 and "width" not in space.searched()


def test_a_duplicate_key_is_refused_naming_it_and_its_line() -> None:
    text = yaml.safe_dump(TINY_STUDY, sort_keys=False) + "epochs: 1000\n"
    with pytest.raises(StudyConfigError, match=r"duplicate key 'epochs' \(line \d+\)"):
        parse_study(text)
    study = {k: v for k, v in TINY_STUDY.items() if k != "search_space"}
    nested = "search_space:\n  lr: 0.1\n  width: 8\n  lr: 0.2\n"
    with pytest.raises(StudyConfigError, match="duplicate key 'lr'"):
        parse_study(yaml.safe_dump(study, sort_keys=False) + nested)


def test_merge_keys_may_repeat_what_they_override() -> None:
    # `<<` merges a mapping; a key written beside it overrides, as YAML says: not a duplicate
    study = {k: v for k, v in TINY_STUDY.items() if k != "dataset"}
    merged = "dataset: {<<: {name: digits, seed: 1}, seed: 3}\n"
    text = yaml.safe_dump(study, sort_keys=False) + merged
    assert parse_study(text).dataset.seed == 3
