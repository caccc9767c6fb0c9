"""The chunked trial pool: a few WAITING rows, an exact budget, no trial claimed twice."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.catalog import open_catalog
from hpsearch.errors import UserError
from hpsearch.settings import get_settings
from hpsearch.study import rows
from hpsearch.study.budget import count, count_rows
from hpsearch.study.pool import POOL_CHUNK, claim, issued
from hpsearch.study.storage import open_storage
from study.tiny import run_launch

RACERS = Path(__file__).with_name("pool_racers.py")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'optuna.db'}"
    from hpsearch.catalog.upgrade import upgrade_optuna

    url: str = request.getfixturevalue("postgres_database")
    upgrade_optuna(url)
    return url


def _study(url: str, name: str = "tiny") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(url))


def _racers(args: list[list[str]], timeout: float = 240) -> None:
    """Start one process per argument list at the same moment; each must exit 0."""
    start_at = str(time.time() + 6)  # imports take a few seconds on a loaded machine
    processes = [
        subprocess.Popen([sys.executable, str(RACERS), kind, url, target, start_at, *rest])
        for kind, url, target, *rest in args
    ]
    for process in processes:
        assert process.wait(timeout) == 0


def test_a_big_budget_queues_one_chunk_not_every_trial(
    study_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    monkeypatch.setenv("HPSEARCH_STORAGE_URL", url)
    status = run_launch(study_file(budget={"n_trials": 20_000}), workers=0)
    assert status["waiting"] == POOL_CHUNK and status["n_trials"] == 20_000
    assert issued(_study(url)) == POOL_CHUNK


def test_claims_top_the_pool_up_to_exactly_the_budget(
    storage_url: str, study_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPSEARCH_STORAGE_URL", storage_url)
    n_trials = 2 * POOL_CHUNK + 5  # three top-ups, the last one partial
    run_launch(study_file(budget={"n_trials": n_trials}), workers=0)
    study = _study(storage_url)
    while (trial := claim(study)) is not None:
        assert count_rows(study).waiting <= POOL_CHUNK
        study.tell(trial, 0.5)
    counts = count_rows(study)
    assert counts == count(study.get_trials())  # the aggregate queries agree with the trials
    assert counts.complete == n_trials and counts.waiting == counts.running == 0


def test_many_workers_racing_on_postgres_claim_each_trial_once(
    postgres_database: str, study_file: Callable[..., Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from hpsearch.catalog.upgrade import upgrade_optuna

    upgrade_optuna(postgres_database)
    monkeypatch.setenv("HPSEARCH_STORAGE_URL", postgres_database)
    n_trials, workers = 10 * POOL_CHUNK + 3, 8
    run_launch(study_file(budget={"n_trials": n_trials}), workers=0)
    outs = [tmp_path / f"claimed-{i}.txt" for i in range(workers)]
    _racers([["claim", postgres_database, "tiny", str(out)] for out in outs])

    claimed = [int(line) for out in outs for line in out.read_text().split()]
    assert len(claimed) == len(set(claimed)) == n_trials  # every trial once, none twice
    assert sum(1 for out in outs if out.read_text()) > 1  # they did share the work
    study = _study(postgres_database)
    assert sorted(claimed) == sorted(t._trial_id for t in study.get_trials())
    counts = count_rows(study)
    assert counts.complete == n_trials and counts.waiting == counts.running == 0


def test_two_concurrent_launches_never_overfill(
    storage_url: str, study_file: Callable[..., Path]
) -> None:
    # before: count, then enqueue, with no lock: 18 WAITING for n_trials=10 in 1 of 3 tries
    names = [f"race-{i}" for i in range(20)]  # twenty studies, each created by both at once
    paths = [str(study_file(name=name)) for name in names]
    open_storage(storage_url).engine.dispose()  # the tables exist: the race is on the pool
    _racers([["launch", storage_url, "10", *paths] for _ in range(2)])
    for name in names:
        study = _study(storage_url, name)
        assert issued(study) == count_rows(study).waiting == 10, name


def test_a_lower_budget_on_resume_cancels_the_surplus_slots(
    study_file: Callable[..., Path],
) -> None:
    # before: queueing 6, then `launch --n-trials 3` printed "6/3 finished"
    path = study_file(budget={"n_trials": 6})
    run_launch(path, workers=0)
    status = run_launch(path, workers=1, n_trials=3)
    assert status["finished"] == 3 and status["complete"] == 3
    assert status["cancelled"] == 3 and status["failed"] == 0 and status["waiting"] == 0
    trials = _study(get_settings().optuna_url).get_trials()
    cancelled = [t for t in trials if t.system_attrs.get(rows.CANCELLED)]
    assert [t.number for t in cancelled] == [3, 4, 5] and not any(t.params for t in cancelled)

    status = run_launch(path, workers=1, n_trials=5)  # raising it again runs 2 more
    assert status["complete"] == 5 and status["finished"] == 5


def test_a_budget_below_the_trials_already_run_is_refused_before_any_write(
    study_file: Callable[..., Path],
) -> None:
    path = study_file(budget={"n_trials": 3}, epochs=1)
    run_launch(path, workers=1)
    with open_catalog(get_settings()) as catalog:
        launches = len(catalog.list_launches("tiny"))
    with pytest.raises(UserError, match=r"already has 3 finished .* at least 3"):
        run_launch(path, workers=1, n_trials=2)
    with open_catalog(get_settings()) as catalog:
        assert len(catalog.list_launches("tiny")) == launches
    study = _study(get_settings().optuna_url)
    assert study.user_attrs["hpsearch.n_trials"] == 3
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE] * 3
