"""The fixed cost of a trial outside training, split by part, for complete and pruned trials.

    .venv/bin/python benchmarks/trial_overhead.py [--trials 12] [--postgres URL]

A real worker (run_worker, in this process, one BLAS thread) runs a digits study of tiny
trials (32 hidden units, 2 epochs of ~10 ms) tracked to MLflow, on the SQLite default in a
temporary HPSEARCH_HOME and, with --postgres, on PostgreSQL (a fresh database per study,
dropped after). Complete trials: no pruner. Pruned trials: Optuna's ThresholdPruner(lower=1.1),
which prunes every trial at its first report (epoch 1).

Fixed cost of a trial = the time from one claim of a trial to the next, minus the trainer's own
time (the `train_seconds` each trial records); the median over trials, after the first (its
imports and caches are start-up, not per trial). Each part's share is the time spent inside
its functions (exclusive of nested parts), in the worker's thread only (the heartbeat thread
runs beside the trial, not in its way):
  optuna storage   every RDBStorage method (claim, params, reports, user attrs, state), and
                   hpsearch's batched user attributes (private_apis.set_trial_user_attrs)
  mlflow run       creating the child run, its end (tags, status) and the artifact uploads
  params           the run's parameters and tags (start_trial)
  metrics          the per-epoch metric batches
  model            the MLflow logged model (log_trial_model), except the two parts below
  weights bytes    writing weights.npz (excluded from the target: it grows with the model)
  checksums        sha256 of the weights and the dataset fingerprint
  figures          building the confusion-matrix PNG
  retention        freeing the models of trials that fell out of the K best (keep_models: 10
                   here, so from the 11th complete trial on, about one model per trial)
  other            the rest: sampling, the objective's bookkeeping, the worker loop
Target (issue 15): median fixed cost <= 100 ms complete, <= 40 ms pruned, on SQLite, without
the weights' bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy as sa
import yaml
from rich.console import Console

PARTS = ("optuna storage", "mlflow run", "params", "metrics", "model", "weights bytes",
         "checksums", "figures", "retention")  # fmt: skip


def clocks() -> tuple[float, float]:
    """(wall, CPU of this thread) seconds: CPU time is what a loaded machine does not inflate;
    wall time also counts waiting (fsync, the database server, other processes)."""
    return time.perf_counter(), time.thread_time()


class Profiler:
    """Exclusive (wall, CPU) seconds per part, for calls made in one thread."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        self.thread = threading.get_ident()
        self._stack: list[list[float]] = []  # per open call: time spent in nested parts

    def wrap(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != self.thread:
                return fn(*args, **kwargs)
            self._stack.append([0.0, 0.0])
            start = clocks()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = [b - a for a, b in zip(start, clocks(), strict=True)]
                nested = self._stack.pop()
                total = self.seconds[part]
                for i in (0, 1):
                    total[i] += elapsed[i] - nested[i]
                    if self._stack:
                        self._stack[-1][i] += elapsed[i]

        return timed

    def snapshot(self) -> dict[str, tuple[float, float]]:
        return {part: (w, c) for part, (w, c) in self.seconds.items()}


@contextlib.contextmanager
def instrumented(profiler: Profiler, claims: list[Any]) -> Iterator[None]:
    """Wrap the functions of every part (undone on exit), and note when each trial is claimed."""
    from mlflow.tracking import MlflowClient
    from optuna.storages import RDBStorage

    import hpsearch.study.worker as worker
    from hpsearch import private_apis
    from hpsearch.data import Splits
    from hpsearch.nn import _serialize
    from hpsearch.study.retention import ModelKeeper
    from hpsearch.tracking import _tracker
    from hpsearch.tracking._tracker import StudyTracker

    patches: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, part: str) -> None:
        original = getattr(owner, name)
        patches.append((owner, name, original))
        setattr(owner, name, profiler.wrap(part, original))

    for name in dir(RDBStorage):
        if not name.startswith("_") and callable(getattr(RDBStorage, name)):
            patch(RDBStorage, name, "optuna storage")
    if hasattr(private_apis, "set_trial_user_attrs"):  # batched (absent before 2026-12-07)
        patch(private_apis, "set_trial_user_attrs", "optuna storage")
    for name in ("create_run", "set_terminated", "log_artifacts", "log_text"):
        patch(MlflowClient, name, "mlflow run")
    patch(StudyTracker, "start_trial", "params")
    patch(StudyTracker, "finish_complete", "mlflow run")
    patch(StudyTracker, "finish_pruned", "mlflow run")
    patch(StudyTracker, "_plot_trial", "figures")
    patch(ModelKeeper, "after_trial", "retention")
    patch(_tracker, "log_trial_model", "model")
    patch(_serialize, "_write_npz", "weights bytes")
    patch(_serialize, "_hash_file", "checksums")
    patch(Splits, "fingerprint", "checksums")
    original_callback = StudyTracker.epoch_callback
    patches.append((StudyTracker, "epoch_callback", original_callback))
    StudyTracker.epoch_callback = lambda self, run_id: profiler.wrap(  # type: ignore[method-assign]
        "metrics", original_callback(self, run_id)
    )
    original_next = worker.next_trial

    def next_trial(*args: Any, **kwargs: Any) -> Any:
        claims.append((clocks(), profiler.snapshot()))
        return original_next(*args, **kwargs)

    patches.append((worker, "next_trial", original_next))
    worker.next_trial = next_trial
    try:
        yield
    finally:
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)


def study_file(name: str, trials: int) -> dict[str, Any]:
    return {
        "name": name,
        "dataset": {"name": "digits", "val_fraction": 0.2},
        "epochs": 2,
        "seed": 0,
        "search_space": {
            "lr": {"low": 1e-3, "high": 1e-2, "log": True},
            "batch_size": 64,
            "depth": 1,
            "width": 32,
            "activation": "relu",
            "optimizer": "adam",
            "l2": 0.0,
        },
        "sampler": {"type": "random"},
        "pruner": {"type": "none"},
        "budget": {"n_trials": trials},
    }


Costs = list[dict[str, tuple[float, float]]]  # per trial: part -> (wall, CPU) seconds


def run(kind: str, trials: int, env: dict[str, str]) -> Costs:
    """Per trial (after the first): (wall, CPU) seconds of each part, of "fixed" and "train"."""
    import hpsearch.study.worker as worker
    from hpsearch.settings import get_settings
    from hpsearch.study.launch import LaunchRequest, launch

    with tempfile.TemporaryDirectory() as home, _environment(env | {"HPSEARCH_HOME": home}):
        path = Path(home) / "study.yaml"
        name = f"overhead-{kind}"
        path.write_text(yaml.safe_dump(study_file(name, trials)))
        settings = get_settings()
        if env:  # a server's fresh databases: the explicit schema step, as in the service
            from hpsearch.catalog import upgrade_all

            upgrade_all(settings)
        launch(LaunchRequest(path, workers=0), settings, Console(file=io.StringIO()))
        options = worker.WorkerOptions(
            study_name=name,
            storage_url=settings.optuna_url,
            tracking_uri=settings.mlflow_uri,
            artifact_root=settings.artifact_root,
            blas_threads=1,
            worker_index=0,
        )
        profiler, claims = Profiler(), []  # claims: (clocks, part totals) at each claim
        make_pruner = worker.make_pruner
        if kind == "pruned":
            worker.make_pruner = lambda *a: optuna.pruners.ThresholdPruner(lower=1.1)
        try:
            with instrumented(profiler, claims):
                worker.run_worker(options)
        finally:
            worker.make_pruner = make_pruner
        study = optuna.load_study(study_name=name, storage=settings.optuna_url)
        done = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    costs: Costs = []
    for ((t0, parts0), (t1, parts1)), trial in zip(itertools.pairwise(claims), done, strict=False):
        train = float(trial.user_attrs["train_seconds"])  # wall; the trainer is all CPU here
        cost = {p: tuple(b - a for a, b in zip(parts0.get(p, (0, 0)), v, strict=True))
                for p, v in parts1.items()}  # fmt: skip
        cost["fixed"] = (t1[0] - t0[0] - train, t1[1] - t0[1] - train)
        costs.append(cost)  # type: ignore[arg-type]
    return costs[1:]  # the first trial pays imports and caches: start-up, not per trial


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def postgres_stores(admin_url: str) -> Iterator[dict[str, str]]:
    """Two fresh databases (Optuna+catalog, MLflow) on the server at `admin_url`, dropped after."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    names = {key: f"hps_overhead_{key}_{uuid.uuid4().hex[:8]}" for key in ("optuna", "mlflow")}
    with engine.connect() as conn:
        for db in names.values():
            conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield {
            "HPSEARCH_STORAGE_URL": f"{base}/{names['optuna']}",
            "HPSEARCH_TRACKING_URI": f"{base}/{names['mlflow']}",
        }
    finally:
        with engine.connect() as conn:
            for db in names.values():
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        engine.dispose()


def report(store: str, kind: str, costs: Costs) -> None:
    def median(part: str, clock: int) -> float:
        return 1000 * statistics.median(c.get(part, (0.0, 0.0))[clock] for c in costs)

    for clock, label in ((0, "wall"), (1, "CPU ")):
        fixed, weights = median("fixed", clock), median("weights bytes", clock)
        accounted = sum(median(p, clock) for p in PARTS)
        print(f"{store:10} {kind:8} {label}: fixed cost per trial median {fixed:6.1f} ms, "
              f"{fixed - weights:6.1f} ms without the weights' bytes "
              f"({len(costs)} trials)")  # fmt: skip
        shares = ", ".join(f"{p} {median(p, clock):.1f}" for p in PARTS)
        print(f"{'':26}medians by part, ms: {shares}, other {fixed - accounted:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--postgres", help="admin URL, e.g. postgresql+psycopg://postgres@...")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    print(f"host: {os.uname().nodename}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}")  # fmt: skip
    stores: list[tuple[str, Callable[[], Any]]] = []
    if not args.no_sqlite:
        stores.append(("sqlite", lambda: contextlib.nullcontext({})))
    if args.postgres:
        stores.append(("postgresql", lambda: postgres_stores(args.postgres)))
    for store, stores_for in stores:
        for kind in ("complete", "pruned"):
            with stores_for() as env:
                costs = run(kind, args.trials, env)
            report(store, kind, costs)


if __name__ == "__main__":
    main()
