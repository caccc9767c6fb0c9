"""Watches a study from inside a network namespace, for test_partition.py.

    python partition_observer.py STORAGE_URL STUDY OUT STOP_FILE

Every 0.3 s, one JSON line on OUT: every trial's number, state, worker and retry link. Ends
when STOP_FILE exists (or after 10 minutes, so that it can never outlive a broken test).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import optuna
from optuna.storages import RDBStorage


def snapshot(study: optuna.Study) -> list[dict[str, object]]:
    return [
        {
            "number": t.number,
            "state": t.state.name,
            "worker": t.user_attrs.get("worker"),
            "retry_of": t.system_attrs.get("failed_trial"),
        }
        for t in study.get_trials(deepcopy=False)
    ]


def main(url: str, name: str, out: Path, stop: Path) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    deadline = time.monotonic() + 600
    storage = RDBStorage(url, engine_kwargs={"pool_pre_ping": True}, skip_table_creation=True)
    with out.open("a") as lines:
        while not stop.exists() and time.monotonic() < deadline:
            try:
                study = optuna.load_study(study_name=name, storage=storage)
                lines.write(json.dumps({"time": time.time(), "trials": snapshot(study)}) + "\n")
                lines.flush()
            except KeyError:  # not queued yet
                pass
            time.sleep(0.3)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
