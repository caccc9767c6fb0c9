"""Processes that race on one study's pool, for the pool tests (run as `python pool_racers.py`).

    python pool_racers.py launch URL BUDGET START_AT STUDY_FILE...  # what `launch` does, per file
    python pool_racers.py claim  URL STUDY START_AT OUT             # claim and finish slots

Each waits until the wall clock reaches START_AT, so the racers start together.
`claim` writes the trial ids it claimed, one a line, to OUT.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import optuna

from hpsearch.study.config import load_study_file
from hpsearch.study.pool import claim, create_or_resume
from hpsearch.study.storage import open_storage


def _wait_until(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


def launch(url: str, budget: int, start_at: float, study_files: list[str]) -> None:
    studies = [load_study_file(Path(path)) for path in study_files]
    storage = open_storage(url)
    _wait_until(start_at)
    for config, text in studies:
        create_or_resume(config, text, storage, budget)


def claim_all(url: str, study_name: str, start_at: float, out: str) -> None:
    study = optuna.load_study(study_name=study_name, storage=open_storage(url))
    _wait_until(start_at)
    with open(out, "w") as claimed:
        while (trial := claim(study)) is not None:
            claimed.write(f"{trial._trial_id}\n")
            claimed.flush()
            study.tell(trial, 0.5)  # raises if another process had claimed (and ended) it


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kind, url, target, start = sys.argv[1:5]
    if kind == "launch":
        launch(url, int(target), float(start), sys.argv[5:])
    else:
        claim_all(url, target, float(start), sys.argv[5])
