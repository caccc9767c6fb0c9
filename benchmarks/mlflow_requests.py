"""What one request to MLflow's SQL store costs, for each request a trial's run makes.

    .venv/bin/python benchmarks/mlflow_requests.py [--runs 30] [--rounds 3]

On a fresh SQLite store in a temporary folder, each round makes `--runs` runs and times, in the
calling thread's CPU time, the requests a trial makes in the order it makes them (create the run,
its parameters and tags, its dataset inputs, an epoch's five metrics, its end tags, its end
status). It also times a complete trial's last `log_batch` with and without the best epoch's
metrics linked again to the model (the same rows as logged, plus the model id: MLflow's store
takes its duplicate-row path for them). Prints the median of each request over all rounds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

EPOCH = [f"m{i}" for i in range(5)]  # an epoch's five metrics, logged at step 1, stamp 1000


def _timed(seconds: dict[str, list[float]], name: str, call: Callable[[], Any]) -> Any:
    started = time.thread_time()
    result = call()
    seconds[name].append(time.thread_time() - started)
    return result


def _inputs() -> list[DatasetInput]:
    return [
        DatasetInput(Dataset(name, f"digest-{name}", "numpy", "source"),
                     [InputTag("mlflow.data.context", name)])
        for name in ("training", "validation")
    ]  # fmt: skip


def _one_run(client: MlflowClient, experiment: str, relink: bool, seconds: Any) -> None:
    run = _timed(seconds, "create_run", lambda: client.create_run(experiment).info.run_id)
    params = [Param(f"p{i}", "1") for i in range(12)]
    tags = [RunTag(f"t{i}", "x") for i in range(8)]
    _timed(seconds, "log_batch: 12 params, 8 tags",
           lambda: client.log_batch(run, params=params, tags=tags))  # fmt: skip
    _timed(seconds, "log_inputs: 2 datasets", lambda: client.log_inputs(run, _inputs()))
    epoch = [Metric(key, 0.5, 1000, 1) for key in EPOCH]
    _timed(seconds, "log_batch: 5 metrics", lambda: client.log_batch(run, metrics=epoch))
    model = client.create_logged_model(experiment, name="model", source_run_id=run)
    final = [
        Metric("best", 0.9, 2000, 1, model_id=model.model_id),
        Metric("best_epoch", 1, 2000, 0),
    ]
    if relink:
        final += [Metric(key, 0.5, 1000, 1, model_id=model.model_id, run_id=run) for key in EPOCH]
    name = f"last log_batch, {'with' if relink else 'without'} the epoch's metrics relinked"
    _timed(seconds, name, lambda: client.log_batch(run, metrics=final, tags=tags[:3]))
    _timed(seconds, "log_batch: 3 end tags", lambda: client.log_batch(run, tags=tags[:3]))
    _timed(seconds, "set_terminated", lambda: client.set_terminated(run, "KILLED"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as folder:
        client = MlflowClient(f"sqlite:///{folder}/mlflow.db")
        experiment = client.create_experiment("requests", artifact_location=f"{folder}/a")
        _one_run(client, experiment, False, defaultdict(list))  # warm-up: caches, first queries
        for _ in range(args.rounds):
            for i in range(args.runs):
                _one_run(client, experiment, relink=bool(i % 2), seconds=seconds)  # alternated
    for name, values in seconds.items():
        print(f"{name:60} {1000 * statistics.median(values):6.2f} ms CPU ({len(values)} requests)")


if __name__ == "__main__":
    main()
