"""Out-of-range integers and durations are refused against stated limits before anything is
written: one line, exit 2. (Issue 11 item 21.)"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from study.tiny import TINY_STUDY, write_study

from hpsearch.limits import MAX_SEED, MAX_TRIALS
from reliability.hostile import Result, files_under, run_bounded, study_file_errors

HUGE = 10**23
# case -> (changes to the tiny study, the field path the error must name)
STUDY_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "seed-negative": ({"seed": -1}, "seed"),
    "seed-huge": ({"seed": HUGE}, "seed"),
    "dataset-seed-negative": ({"dataset": {**TINY_STUDY["dataset"], "seed": -1}}, "dataset.seed"),
    "n-trials-huge": ({"budget": {"n_trials": 10**12}}, "budget.n_trials"),
    "timeout-huge": ({"budget": {"n_trials": 2, "timeout": 1e300}}, "budget.timeout"),
    "epochs-huge": ({"epochs": 10**6}, "epochs"),
    "train-subset-huge": ({"dataset": {**TINY_STUDY["dataset"], "train_subset": HUGE}},
                          "dataset.train_subset"),
    "sampler-startup-huge": ({"sampler": {"type": "tpe", "n_startup_trials": HUGE}},
                             "sampler.n_startup_trials"),
    "pruner-patience-huge": ({"pruner": {"type": "median", "patience": HUGE}}, "pruner.patience"),
}  # fmt: skip

# case -> argv ({dir}: the case's folder, holding tiny.yaml)
CLI_CASES: dict[str, list[str]] = {
    "launch-n-trials-huge": ["launch", "{dir}/tiny.yaml", "--n-trials", str(HUGE)],
    "launch-n-trials-over-the-limit": ["launch", "{dir}/tiny.yaml", "--n-trials",
                                       str(MAX_TRIALS + 1)],
    "launch-timeout-huge": ["launch", "{dir}/tiny.yaml", "--timeout", "1e300"],
    "train-seed-negative": ["train", "--dataset", "digits", "--seed", "-1", "--out", "{dir}/m"],
    "train-seed-huge": ["train", "--dataset", "digits", "--seed", str(HUGE), "--out", "{dir}/m"],
    "train-split-seed-negative": ["train", "--dataset", "digits", "--split-seed", "-1",
                                  "--out", "{dir}/m"],
    "train-subset-negative": ["train", "--dataset", "digits", "--train-subset", "-5",
                              "--out", "{dir}/m"],
    "worker-timeout-huge": ["worker", "tiny", "--timeout", "1e300"],
}  # fmt: skip


def test_study_file_integers_beyond_the_stated_limits_are_refused(tmp_path: Path) -> None:
    paths = []
    for case, (changes, _) in STUDY_CASES.items():
        (tmp_path / case).mkdir()
        paths.append(str(write_study(tmp_path / case, **changes)))
    for (case, (_, field)), message in zip(
        STUDY_CASES.items(), study_file_errors(paths), strict=True
    ):
        assert f": {field}: " in message, (case, message)
        assert len(message) < 400, (case, message)


def test_the_seed_limit_is_inclusive(tmp_path: Path) -> None:
    assert study_file_errors([str(write_study(tmp_path, seed=MAX_SEED))]) == ["ok"]


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Result, Path]]:
    root = tmp_path_factory.mktemp("hostile-numbers")

    def run(case: str) -> tuple[Result, Path]:
        directory = root / case
        directory.mkdir()
        (directory / "tiny.yaml").write_text(yaml.safe_dump(TINY_STUDY))
        args = [arg.format(dir=directory) for arg in CLI_CASES[case]]
        return run_bounded(args, directory / "home", timeout=60), directory

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(CLI_CASES, pool.map(run, CLI_CASES), strict=True))


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_an_out_of_range_flag_is_one_line_and_writes_nothing(
    cli_results: dict[str, tuple[Result, Path]], case: str
) -> None:
    result, directory = cli_results[case]
    line = result.one_line_error()
    assert "Invalid value for '--" in line and "than or equal to" in line, line
    assert files_under(directory) == ["tiny.yaml"], files_under(directory)
