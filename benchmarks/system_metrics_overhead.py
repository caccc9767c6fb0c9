"""What `system_metrics: true` costs a trial: the same tracked trials with the monitor on and off.

    .venv/bin/python benchmarks/system_metrics_overhead.py [--epochs 5] [--repeats 3]

A 784-256-10 MLP on a 20,000-image subset of Fashion-MNIST (Debian's copy, no download), tracked
to a SQLite store in a temporary HPSEARCH_HOME, exactly as a worker tracks a trial. Watched and
unwatched trials alternate, so machine drift hits both; medians are reported.

Two measures: the difference of median wall times (noisy on a shared machine), and the cost of
one sample timed directly (psutil's readings, the run-status check and the log_batch MLflow's
monitor makes per sample) divided by the sampling interval: the share of one core the monitor
thread takes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_info

from hpsearch.data import Splits, load_splits
from hpsearch.tracking import StudyTracker
from hpsearch.tracking._system import INTERVAL_S
from hpsearch.train import TrainConfig, train

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def trial(tracker: StudyTracker, number: int, config: TrainConfig, splits: Splits,
          watch: bool) -> float:  # fmt: skip
    """Wall seconds of one tracked trial, start to FINISHED."""
    start = time.perf_counter()
    fingerprint = splits.fingerprint()
    run_id = tracker.start_trial(number, {}, config.as_dict(), seed=config.seed,
                                 dataset_fingerprint=fingerprint, splits=splits)  # fmt: skip
    if watch:
        tracker.watch_system(run_id)
    result = train(config, splits, [tracker.epoch_callback(run_id)])
    tracker.finish_complete(run_id, result, splits)
    return time.perf_counter() - start


def sample_cost(tracker: StudyTracker, n: int = 20) -> float:
    """Seconds of one monitor sample: readings, status check, logging (as MLflow's loop does)."""
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    run_id = tracker.start_trial(10_000, {}, {}, seed=0, dataset_fingerprint="f")
    monitor = SystemMetricsMonitor(run_id, tracking_uri=tracker.tracking_uri)
    start = time.perf_counter()
    for _ in range(n):
        monitor.collect_metrics()
        tracker.client.get_run(run_id)
        monitor.publish_metrics(monitor.aggregate_metrics())
        monitor.mlflow_logger.flush()
    cost = (time.perf_counter() - start) / n
    tracker.finish_pruned(run_id, 0, "benchmark")
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ["HPSEARCH_HOME"] = tempfile.mkdtemp(prefix="hpsearch-bench-")
    from hpsearch.settings import get_settings

    settings = get_settings()
    settings.ensure_home()
    splits = load_splits("fashion-mnist", data_dir=FASHION_DIR, allow_download=False,
                         train_subset=20_000)  # fmt: skip
    tracker = StudyTracker("system-metrics", settings.mlflow_uri, settings.artifact_root)
    blas = "; ".join(f"{i['internal_api']} {i.get('architecture')} x{i['num_threads']}"
                     for i in threadpool_info())  # fmt: skip
    print(f"host: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {blas}")
    config = TrainConfig(hidden=(256,), epochs=args.epochs, batch_size=128, seed=0)
    trial(tracker, 999, TrainConfig(hidden=(256,), epochs=1), splits, watch=True)  # warm-up
    times: dict[bool, list[float]] = {False: [], True: []}
    for repeat in range(args.repeats):
        for watch in (repeat % 2 == 1, repeat % 2 == 0):  # alternate which goes first
            times[watch].append(trial(tracker, 2 * repeat + watch, config, splits, watch))
            print(f"repeat {repeat}: system metrics {'on ' if watch else 'off'} "
                  f"{times[watch][-1]:6.2f} s")  # fmt: skip
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(f"median trial: off {off:.2f} s, on {on:.2f} s -> {100 * (on - off) / off:+.2f}% "
          "(wall difference, noisy)")  # fmt: skip
    cost = sample_cost(tracker)
    print(f"one sample: {1000 * cost:.1f} ms every {INTERVAL_S:.0f} s -> "
          f"{100 * cost / INTERVAL_S:.2f}% of one core")  # fmt: skip


if __name__ == "__main__":
    main()
