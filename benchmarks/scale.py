"""Scale: what a trial costs hpsearch (not the trainer) as a study grows to 10,000 trials.

    nice -n 5 .venv/bin/python benchmarks/scale.py run --trials 10000 --workers 8 --tag T
    .venv/bin/python benchmarks/scale.py report --tag T [--plot benchmarks/scale_cost.png]
    .venv/bin/python benchmarks/scale.py drop --tag T

`run` creates three PostgreSQL databases (hps_scale_{optuna,mlflow,hpsearch}_T, on
$HPSEARCH_BENCH_POSTGRES_URL, default the local server), migrates them (`hpsearch db upgrade`),
and launches a study of tiny trials (digits, 1 epoch, widths 8-32, TPE) with W worker processes,
tracked to MLflow on PostgreSQL with artifacts under /tmp/hps-scale-T. `report` may run at any
time, also while `run` is still going. It prints:

- the per-trial orchestration cost, for the first and the last thousand trials (by trial
  number): a worker's time from the end of its previous trial to the end of this one, less the
  trainer's own time (the `train_seconds` attribute). That is claiming, sampling, reporting,
  finishing, and MLflow (the run, its metrics, model and figures). Target: last thousand's
  median <= 1.5x the first thousand's;
- the latency of `hpsearch status`, `hpsearch best --no-register` and `hpsearch studies` (as a
  user sees it: a new process, interpreter start included; `hpsearch --help` is the floor), and
  of MLflow's REST `runs/search` for the study's experiment through a real `mlflow server`.
  Target: every one <= 2 s;
- the size of each store, and a PNG of the cost against the trial number.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

ADMIN_URL = os.environ.get(
    "HPSEARCH_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ROLES = ("optuna", "mlflow", "hpsearch")
NAME = "scale"


def study(trials: int) -> dict[str, Any]:
    return {
        "name": NAME,
        "dataset": {"name": "digits", "val_fraction": 0.2, "seed": 0},
        "epochs": 1,
        "seed": 0,
        "search_space": {
            "lr": {"low": 1e-3, "high": 0.3, "log": True},
            "batch_size": {"choices": [32, 64]},
            "depth": {"low": 1, "high": 2},
            "width": {"low": 8, "high": 32, "log": True},
            "activation": {"choices": ["relu", "tanh"]},
            "optimizer": {"choices": ["sgd", "adam"]},
        },
        "sampler": {"type": "tpe"},
        "budget": {"n_trials": trials},
    }


def urls(tag: str) -> dict[str, str]:
    base = sa.make_url(ADMIN_URL)
    return {
        role: base.set(database=f"hps_scale_{role}_{tag}").render_as_string(hide_password=False)
        for role in ROLES
    }


def environment(tag: str) -> dict[str, str]:
    found = urls(tag)
    home = Path(tempfile.gettempdir()) / f"hps-scale-{tag}"
    return {
        "HPSEARCH_HOME": str(home),
        "HPSEARCH_STORAGE_URL": found["optuna"],
        "HPSEARCH_DATABASE_URL": found["hpsearch"],
        "MLFLOW_TRACKING_URI": found["mlflow"],
        "MLFLOW_ARTIFACTS_DESTINATION": (home / "mlartifacts").as_uri(),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def _admin() -> sa.Engine:
    return sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")


def run(tag: str, trials: int, workers: int) -> None:
    from rich.console import Console

    from hpsearch.catalog import upgrade_all
    from hpsearch.settings import get_settings
    from hpsearch.study.launch import LaunchRequest, launch

    with _admin().connect() as conn:
        for url in urls(tag).values():
            conn.execute(sa.text(f'CREATE DATABASE "{sa.make_url(url).database}"'))
    os.environ.update(environment(tag))
    home = Path(os.environ["HPSEARCH_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    upgrade_all(get_settings())
    path = home / "scale.yaml"
    path.write_text(yaml.safe_dump(study(trials), sort_keys=False))
    started = time.perf_counter()
    request = LaunchRequest(path, workers=workers)
    launch(request, get_settings(), Console(file=io.StringIO()))
    print(f"{trials} trials with {workers} workers in {time.perf_counter() - started:.0f} s")


def trial_costs(tag: str) -> list[tuple[int, float, float]]:
    """(trial number, orchestration seconds, train seconds) of every finished trial."""
    import optuna

    from hpsearch.study.storage import open_storage

    storage = open_storage(urls(tag)["optuna"])
    trials = optuna.load_study(study_name=NAME, storage=storage).get_trials(deepcopy=False)
    by_worker: dict[str, list[Any]] = defaultdict(list)
    for trial in trials:
        if trial.datetime_complete is not None and "train_seconds" in trial.user_attrs:
            by_worker[trial.user_attrs.get("worker", "?")].append(trial)
    costs = []
    for finished in by_worker.values():
        finished.sort(key=lambda t: t.datetime_complete)
        for previous, trial in zip([None, *finished], finished, strict=False):
            begin = trial.datetime_start if previous is None else previous.datetime_complete
            train = float(trial.user_attrs["train_seconds"])
            wall = (trial.datetime_complete - begin).total_seconds()
            if previous is not None:  # a worker's first trial also paid its start-up
                costs.append((trial.number, wall - train, train))
    return sorted(costs)


def _median_seconds(command: list[str], env: dict[str, str], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=600)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def in_process_latencies(tag: str) -> dict[str, float]:
    """What `status` and `studies` cost without the interpreter's start: the part that grows."""
    from hpsearch.catalog import open_catalog
    from hpsearch.settings import get_settings
    from hpsearch.study.progress import study_status
    from hpsearch.study.storage import load_existing_study, open_existing_storage

    os.environ.update(environment(tag))
    settings = get_settings()

    def status() -> None:
        study_status(load_existing_study(NAME, open_existing_storage(settings.optuna_url)))

    def studies() -> None:
        with open_catalog(settings) as catalog:
            [record.to_dict() for record in catalog.list_studies()]

    found = {}
    for what, call in (("status (in process)", status), ("studies (in process)", studies)):
        call()  # warm: imports and connections
        times = []
        for _ in range(3):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        found[what] = statistics.median(times)
    return found


def command_latencies(tag: str) -> dict[str, float]:
    env = os.environ | environment(tag)
    hpsearch = [sys.executable, "-m", "hpsearch"]
    return {
        "hpsearch --help (start-up floor)": _median_seconds([*hpsearch, "--help"], env),
        "hpsearch status": _median_seconds([*hpsearch, "status", NAME], env),
        "hpsearch best --no-register": _median_seconds(
            [*hpsearch, "best", NAME, "--no-register"], env
        ),
        "hpsearch studies": _median_seconds([*hpsearch, "studies"], env),
    } | rest_latencies(tag, env)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rest_latencies(tag: str, env: dict[str, str]) -> dict[str, float]:
    """runs/search through a real `mlflow server` on the study's MLflow database."""
    port = _free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen(
        [str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", urls(tag)["mlflow"]],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api/2.0/mlflow"
    try:
        _wait_for(f"http://127.0.0.1:{port}/health")
        with urllib.request.urlopen(f"{base}/experiments/get-by-name?experiment_name={NAME}") as r:
            experiment = json.load(r)
        experiment_id = experiment["experiment"]["experiment_id"]
        found = {}
        for page in (100, 1000):
            body = {"experiment_ids": [experiment_id], "max_results": page}
            times = []
            for _ in range(3):
                started = time.perf_counter()
                _post(f"{base}/runs/search", body)
                times.append(time.perf_counter() - started)
            found[f"REST runs/search, {page} runs"] = statistics.median(times)
        return found
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_for(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(url)


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def store_sizes(tag: str) -> dict[str, int]:
    sizes = {}
    with _admin().connect() as conn:
        for role, url in urls(tag).items():
            name = sa.make_url(url).database
            size = conn.execute(sa.text("SELECT pg_database_size(:n)"), {"n": name}).scalar_one()
            sizes[f"{role} database"] = int(size)
    artifacts = Path(environment(tag)["HPSEARCH_HOME"]) / "mlartifacts"
    sizes["artifacts"] = sum(f.stat().st_size for f in artifacts.rglob("*") if f.is_file())
    return sizes


def plot(costs: list[tuple[int, float, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    numbers = np.array([c[0] for c in costs])
    seconds = np.array([c[1] for c in costs]) * 1000
    figure, axes = plt.subplots(figsize=(8, 4))
    axes.scatter(numbers, seconds, s=1, alpha=0.3, label="one trial")
    window = 200
    if len(seconds) > window:
        rolling = [np.median(seconds[i : i + window]) for i in range(len(seconds) - window)]
        axes.plot(numbers[window // 2 : window // 2 + len(rolling)], rolling, color="black",
                  label=f"median of {window}")  # fmt: skip
    axes.set_ylim(0, float(np.percentile(seconds, 99)) * 1.2)
    axes.set_xlabel("trial number")
    axes.set_ylabel("orchestration cost per trial (ms)")
    axes.set_title("hpsearch: what a tiny trial costs beyond training, 8 workers, PostgreSQL")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def report(tag: str, plot_path: Path | None, costs_only: bool = False) -> None:
    costs = trial_costs(tag)
    print(f"{len(costs)} finished trials measured (each worker's first trial left out)")
    if len(costs) < 2000:
        print("fewer than 2,000 trials: the first and the last thousand overlap")
    if len(costs) >= 1000:
        first = statistics.median(c[1] for c in costs[:1000])
        last = statistics.median(c[1] for c in costs[-1000:])
        train = statistics.median(c[2] for c in costs)
        print(f"orchestration per trial, median: first thousand {first * 1000:.0f} ms, "
              f"last thousand (trials {costs[-1000][0]}-{costs[-1][0]}) {last * 1000:.0f} ms: "
              f"{last / first:.2f}x (target <= 1.5x); trainer {train * 1000:.0f} ms")  # fmt: skip
    if plot_path is not None and costs:
        plot(costs, plot_path)
        print(f"plot: {plot_path}")
    if costs_only:
        return
    for what, size in store_sizes(tag).items():
        print(f"{what:34s} {size / 2**20:8.1f} MiB", flush=True)
    for what, seconds in in_process_latencies(tag).items():
        print(f"{what:34s} {seconds:6.2f} s", flush=True)
    for what, seconds in command_latencies(tag).items():
        print(f"{what:34s} {seconds:6.2f} s  (target <= 2 s)", flush=True)


def drop(tag: str) -> None:
    with _admin().connect() as conn:
        for url in urls(tag).values():
            name = sa.make_url(url).database
            terminate = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            conn.execute(sa.text(terminate), {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    shutil.rmtree(environment(tag)["HPSEARCH_HOME"], ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("run", "report", "drop"))
    parser.add_argument("--tag", required=True)
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--costs-only", action="store_true", help="report: no latencies, sizes")
    args = parser.parse_args()
    if args.action == "run":
        run(args.tag, args.trials, args.workers)
    elif args.action == "report":
        report(args.tag, args.plot, args.costs_only)
    else:
        drop(args.tag)


if __name__ == "__main__":
    main()
