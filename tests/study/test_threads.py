"""Workers x threads from a measurement: the cache, the choice, and one real measurement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpsearch.study import threads
from hpsearch.study.threads import ThreadChoice, choose, measure


@pytest.fixture
def four_cores(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Pretend to have 4 cores; measurements are recorded and answered from a table."""
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    measured: list[tuple[int, int]] = []
    table = {(1, 4): 100.0, (2, 2): 180.0, (4, 1): 170.0, (3, 1): 120.0, (2, 1): 150.0}

    def fake_measure(workers: int, n: int, seconds: float = 0.0) -> float:
        measured.append((workers, n))
        return table[(workers, n)]

    monkeypatch.setattr(threads, "measure", fake_measure)
    return measured


def test_the_best_measured_combination_wins_and_is_cached(four_cores, tmp_path: Path):
    assert choose(None, tmp_path) == ThreadChoice(2, 2, 180.0)
    assert sorted(four_cores) == [(1, 4), (2, 2), (3, 1), (4, 1)]
    four_cores.clear()
    assert choose(None, tmp_path) == ThreadChoice(2, 2, 180.0)  # from the cache
    assert four_cores == []
    cached = json.loads((tmp_path / threads.CACHE_FILE).read_text())
    assert next(iter(cached.values()))["2x2"] == 180.0


def test_fixed_workers_choose_only_threads(four_cores, tmp_path: Path):
    assert choose(2, tmp_path) == ThreadChoice(2, 2, 180.0)
    assert sorted(four_cores) == [(2, 1), (2, 2)]
    four_cores.clear()
    assert choose(4, tmp_path).describe().startswith("4x1 (the only combination")
    assert four_cores == []  # one choice: nothing to measure


def test_an_unreadable_cache_is_measured_again(four_cores, tmp_path: Path):
    (tmp_path / threads.CACHE_FILE).write_text("{not json")
    assert choose(None, tmp_path).workers == 2
    assert len(four_cores) == 4
    assert json.loads((tmp_path / threads.CACHE_FILE).read_text())  # rewritten whole


def test_a_real_measurement_trains_in_worker_processes():
    rate = measure(2, 1, seconds=0.1)
    assert rate > 100  # samples/s of a 784-256-10 MLP: thousands on any machine
