"""hpsearch against the script a user would otherwise write, on the same study and one worker.

    .venv/bin/python benchmarks/peers.py [--study FILE] [--trials 40] [--repeats 3]

Each repeat runs, alternately and each as a new process on a fresh home (start-up and the
study's summary count, as a user waits for them):
- `hpsearch launch STUDY --workers 1`: Optuna and MLflow on SQLite, with everything hpsearch
  records (a parent run, per-epoch metrics of every trial, pruned ones included, dataset inputs,
  a logged model and a confusion matrix per complete trial, the study's summary);
- plain Optuna with optuna-integration's MLflowCallback (benchmarks/_plain_optuna.py): the same
  trainer, search space, sampler (with the seed hpsearch's one worker uses) and pruner, one MLflow
  run per trial with its params and value, Optuna and MLflow on SQLite too.

The study file's `enqueue` is dropped (both search on their own) and its budget set to --trials.
Prints each run's wall time and the trainer's share, the medians, and hpsearch / plain
(issue 15's target: <= 1.0). FILE: studies/quickstart.yaml (digits) unless given.
Needs optuna-integration: `pip install -e '.[bench]'` (make venv installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
import yaml
from _study import machine_line

HERE = Path(__file__).resolve().parent


def peer_study(path: Path, trials: int) -> dict[str, Any]:
    study = yaml.safe_load(path.read_text())
    study.pop("enqueue", None)
    study["budget"] = {**study.get("budget", {}), "n_trials": trials, "timeout": None}
    return study


def _environment(home: str) -> dict[str, str]:
    return os.environ | {"HPSEARCH_HOME": home, "MLFLOW_DISABLE_TELEMETRY": "true"}


def _hpsearch() -> list[str]:
    script = Path(sys.executable).with_name("hpsearch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "hpsearch"]


def run_hpsearch(study_file: Path, home: str) -> dict[str, Any]:
    started, clock = time.perf_counter(), time.time()
    command = [*_hpsearch(), "launch", str(study_file), "--workers", "1"]
    subprocess.run(command, env=_environment(home), check=True, capture_output=True)
    wall = time.perf_counter() - started
    name = yaml.safe_load(study_file.read_text())["name"]
    storage = f"sqlite:///{Path(home) / 'optuna.db'}"
    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for trial in trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    train = sum(float(t.user_attrs.get("train_seconds", 0.0)) for t in trials)
    return {"wall": wall, "train_seconds": train, "states": states,
            "phases": _phases(trials, clock, clock + wall)}  # fmt: skip


def _phases(trials: list[Any], started: float, ended: float) -> str:
    """Where a launch's wall time went, by Optuna's timestamps (local time, as time.time):
    before the first trial started, the trials (and the epochs they trained), after the last."""
    first = min(t.datetime_start for t in trials).timestamp()
    last = max(t.datetime_complete for t in trials).timestamp()
    epochs = sum(len(t.intermediate_values) for t in trials)
    return (
        f"to the first trial {first - started:.2f} s, trials {last - first:.2f} s "
        f"({epochs} epochs), after the last {ended - last:.2f} s"
    )


def run_plain(study_file: Path, home: str) -> dict[str, Any]:
    started = time.perf_counter()
    command = [sys.executable, str(HERE / "_plain_optuna.py"), str(study_file), home]
    done = subprocess.run(command, env=_environment(home), check=True, capture_output=True)
    wall = time.perf_counter() - started
    return {"wall": wall} | json.loads(done.stdout.decode().strip().splitlines()[-1])


RUNNERS = {"hpsearch": run_hpsearch, "plain": run_plain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=HERE.parent / "studies" / "quickstart.yaml")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(machine_line())
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in RUNNERS}
    with tempfile.TemporaryDirectory() as scratch:
        study_file = Path(scratch) / "peers.yaml"
        study_file.write_text(yaml.safe_dump(peer_study(args.study, args.trials), sort_keys=False))
        for repeat in range(args.repeats):
            order = list(RUNNERS) if repeat % 2 == 0 else list(reversed(RUNNERS))
            for name in order:
                with tempfile.TemporaryDirectory(dir=scratch) as home:
                    result = RUNNERS[name](study_file, home)
                found[name].append(result)
                print(
                    f"repeat {repeat + 1} {name:8s} wall {result['wall']:6.2f} s, "
                    f"trainer {result['train_seconds']:6.2f} s, trials {result['states']}",
                    flush=True,
                )
                if "phases" in result:
                    print(f"         {name:8s} {result['phases']}", flush=True)
    medians = {name: statistics.median(r["wall"] for r in runs) for name, runs in found.items()}
    for name, runs in found.items():
        rest = statistics.median(r["wall"] - r["train_seconds"] for r in runs)
        print(f"{name:8s} median wall {medians[name]:6.2f} s, outside the trainer {rest:6.2f} s")
    ratio = medians["hpsearch"] / medians["plain"]
    verdict = "met" if ratio <= 1.0 else "not met"
    print(f"hpsearch / plain wall time: {ratio:.2f}x (target <= 1.0: {verdict})")


if __name__ == "__main__":
    main()
