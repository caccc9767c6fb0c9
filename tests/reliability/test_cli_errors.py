"""Bad input to every command: one line on stderr, exit code 2, no traceback, nothing written.

Every case runs `python -m hpsearch ...` as its own process with its own empty HPSEARCH_HOME;
the processes run side by side (each pays the import time) to keep the file fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

UNREACHABLE_PG = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"
MALFORMED_YAML = "name: tiny\ndataset: [digits\nepochs: 2\n"

# case id -> argv; {dir} is the case's folder (files a case needs are made there)
CASES: dict[str, list[str]] = {
    "train-unknown-dataset": ["train", "--dataset", "nosuch", "--out", "{dir}/out"],
    "train-epochs-out-of-range": ["train", "--dataset", "digits", "--epochs", "0",
                                  "--out", "{dir}/out"],
    "train-bad-hidden": ["train", "--dataset", "digits", "--hidden", "8,x", "--out", "{dir}/out"],
    "train-bad-lr": ["train", "--dataset", "digits", "--lr", "-1", "--out", "{dir}/out"],
    "predict-missing-folder": ["predict", "{dir}/no-model", "--dataset", "digits"],
    "predict-unknown-dataset": ["predict", "{dir}/model", "--dataset", "nosuch"],
    "predict-missing-image": ["predict", "{dir}/model", "--images", "{dir}/none.png"],
    "predict-files-without-images-flag": ["predict", "{dir}/model", "{dir}/none.png"],
    "predict-images-flag-without-files": ["predict", "{dir}/model", "--images"],
    "predict-both-dataset-and-images": ["predict", "{dir}/model", "--dataset", "digits",
                                        "--images", "{dir}/none.png"],
    "launch-missing-file": ["launch", "{dir}/none.yaml"],
    "launch-malformed-yaml": ["launch", "{dir}/malformed.yaml"],
    "launch-workers-out-of-range": ["launch", "{dir}/tiny.yaml", "--workers", "-1"],
    "launch-bad-storage-url": ["launch", "{dir}/tiny.yaml", "--storage", "notaurl"],
    "launch-unreachable-storage": ["launch", "{dir}/tiny.yaml", "--storage", UNREACHABLE_PG],
    "worker-wrong-study": ["worker", "nosuch"],
    "worker-bad-storage-url": ["worker", "nosuch", "--storage", "notaurl"],
    "worker-timeout-out-of-range": ["worker", "tiny", "--timeout", "0"],
    "status-wrong-study": ["status", "nosuch"],
    "status-bad-storage-url": ["status", "nosuch", "--storage", "notaurl"],
    "replay-wrong-study": ["replay", "nosuch", "0"],
    "replay-bad-trial-number": ["replay", "nosuch", "x"],
    "best-wrong-study": ["best", "nosuch"],
    "best-bad-tracking-uri": ["best", "nosuch", "--tracking-uri", "notaurl"],
    "best-unreachable-storage": ["best", "nosuch", "--storage", UNREACHABLE_PG],
    "launch-bad-tracking-uri": ["launch", "{dir}/tiny.yaml", "--tracking-uri", "notaurl"],
    "worker-bad-tracking-uri": ["worker", "tiny", "--tracking-uri", "notaurl"],
    "predict-unknown-registered-model": ["predict", "models:/nosuch@champion",
                                         "--dataset", "digits"],
    "predict-malformed-model-uri": ["predict", "models:/", "--dataset", "digits"],
    "reconcile-wrong-study": ["reconcile", "nosuch"],
    "reconcile-unreachable-storage": ["reconcile", "nosuch", "--storage", UNREACHABLE_PG],
    "studies-bad-database-url": ["studies"],
    "launch-optuna-and-mlflow-in-one-database": ["launch", "{dir}/tiny.yaml"],
    "ui-port-out-of-range": ["ui", "--port", "0"],
    "ui-remote-host-without-flag": ["ui", "--host", "0.0.0.0"],
    "db-upgrade-bad-url": ["db", "upgrade", "--database-url", "notaurl"],
    "db-upgrade-unreachable": ["db", "upgrade", "--storage", UNREACHABLE_PG],
}  # fmt: skip
# environment a case runs with, beside its own HPSEARCH_HOME
CASE_ENV: dict[str, dict[str, str]] = {
    "studies-bad-database-url": {"HPSEARCH_DATABASE_URL": "notaurl"},
    "launch-optuna-and-mlflow-in-one-database": {"HPSEARCH_STORAGE_URL": "sqlite:///{dir}/one.db",
                                                 "MLFLOW_TRACKING_URI": "sqlite:///{dir}/one.db"},
}  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stderr: str
    written: list[str]  # files that appeared anywhere in the case's folder


def _prepare(directory: Path) -> None:
    from study.tiny import write_study

    directory.mkdir(parents=True)
    (directory / "malformed.yaml").write_text(MALFORMED_YAML)
    write_study(directory)
    import numpy as np

    from hpsearch.nn import MLP, Architecture, save_model

    model = MLP(Architecture(input_dim=64, hidden=(8,), n_classes=10), np.random.default_rng(0))
    save_model(model, directory / "model")


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def _run(case: str, argv: list[str], root: Path) -> Outcome:
    directory = root / case
    _prepare(directory)
    before = _files(directory)
    extra = {name: value.format(dir=directory) for name, value in CASE_ENV.get(case, {}).items()}
    env = {**os.environ, "HPSEARCH_HOME": str(directory / "home"), **extra}
    args = [arg.format(dir=directory) for arg in argv]
    done = subprocess.run([sys.executable, "-m", "hpsearch", *args],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    return Outcome(done.returncode, done.stderr, sorted(_files(directory) - before))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("cli-errors")
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {case: pool.submit(_run, case, argv, root) for case, argv in CASES.items()}
        return {case: future.result() for case, future in futures.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    outcomes: dict[str, Outcome], case: str
) -> None:
    outcome = outcomes[case]
    assert outcome.returncode == 2, outcome.stderr
    assert "Traceback" not in outcome.stderr
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].strip(), outcome.stderr
    assert outcome.written == [], f"{case} wrote {outcome.written}"
