"""What MLflow tracking costs a trial: the same trials with tracking on and off.

    .venv/bin/python benchmarks/tracking_overhead.py [--epochs 3] [--repeats 2]

A 784-256-10 MLP on Fashion-MNIST (Debian's copy in /usr/share/datasets/fashion-mnist, no
download), tracked to the embedded default: a SQLite store and a local artifact folder in a
temporary HPSEARCH_HOME. Trials with and without tracking alternate so machine drift hits both.

Two measures of overhead: the difference of wall times (noisy on a busy machine), and the time
spent inside tracker calls, timed directly (what tracking itself costs). Targets: <= 2% of trial
wall time, <= 30 ms of logging per epoch.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpsearch.data import Splits, load_splits
from hpsearch.tracking import StudyTracker
from hpsearch.train import TrainConfig, train

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


class Stopwatch:
    """Sums the seconds spent in wrapped calls, and counts them."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        return timed


def untracked_trial(config: TrainConfig, splits: Splits) -> float:
    start = time.perf_counter()
    train(config, splits)
    return time.perf_counter() - start


def tracked_trial(
    tracker: StudyTracker, number: int, config: TrainConfig, splits: Splits
) -> tuple[float, float, float]:
    """Wall seconds of the whole trial, seconds inside tracker calls, seconds per epoch log."""
    other, epochs = Stopwatch(), Stopwatch()
    start = time.perf_counter()
    run_id = other.wrap(tracker.start_trial)(
        number,
        {"hidden": "256", "lr": config.lr},
        config.as_dict(),
        seed=config.seed,
        dataset_fingerprint=splits.fingerprint(),
    )
    log_epoch = epochs.wrap(tracker.epoch_callback(run_id))
    result = train(config, splits, [log_epoch])
    other.wrap(tracker.finish_complete)(run_id, result, splits)
    wall = time.perf_counter() - start
    return wall, other.seconds + epochs.seconds, epochs.seconds / max(epochs.calls, 1)


def splits_head(splits: Splits, n: int) -> Splits:
    """The first `n` training samples only: a quick warm-up trial."""
    return dataclasses.replace(splits, x_train=splits.x_train[:n], y_train=splits.y_train[:n])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    splits = load_splits("fashion-mnist", data_dir=FASHION_DIR, allow_download=False)
    config = TrainConfig(hidden=(256,), epochs=args.epochs, batch_size=128, seed=0)
    home = Path(tempfile.mkdtemp(prefix="hpsearch-bench-"))
    os.environ["HPSEARCH_HOME"] = str(home)
    from hpsearch.settings import get_settings

    settings = get_settings()
    settings.ensure_home()
    tracker = StudyTracker("tracking-overhead", settings.mlflow_uri, settings.artifact_root)
    print(
        f"{splits.name}: train {splits.x_train.shape}, val {splits.x_val.shape}; "
        f"MLP 784-256-10, {args.epochs} epochs; store {settings.mlflow_uri}"
    )

    splits.fingerprint()  # computed once per worker and cached, like the study layer does
    # once per worker process, not per trial: imports (mlflow.pyfunc, matplotlib), font cache
    warm = TrainConfig(hidden=(256,), epochs=1, seed=0)
    tracked_trial(tracker, 999, warm, splits_head(splits, 2000))

    off: list[float] = []
    on: list[tuple[float, float, float]] = []
    for repeat in range(args.repeats):
        off.append(untracked_trial(config, splits))
        print(f"trial {repeat}: tracking off  {off[-1]:7.2f} s")
        on.append(tracked_trial(tracker, repeat, config, splits))
        wall, inside, per_epoch = on[-1]
        fixed = inside - per_epoch * args.epochs
        print(
            f"trial {repeat}: tracking on   {wall:7.2f} s  (inside tracker calls "
            f"{inside * 1000:.0f} ms: start+finish {fixed * 1000:.0f} ms, "
            f"{per_epoch * 1000:.1f} ms/epoch)"
        )

    wall_off = statistics.median(off)
    wall_on = statistics.median(w for w, _, _ in on)
    inside = statistics.median(i for _, i, _ in on)
    per_epoch_ms = 1000 * statistics.median(p for _, _, p in on)
    print(
        f"median wall: off {wall_off:.2f} s, on {wall_on:.2f} s -> "
        f"difference {100 * (wall_on - wall_off) / wall_off:+.2f}% (noisy)"
    )
    print(
        f"tracking overhead (time inside tracker calls): {100 * inside / wall_on:.2f}% "
        "of trial wall time (target <= 2%)"
    )
    print(f"logging per epoch: {per_epoch_ms:.1f} ms (target <= 30 ms)")


if __name__ == "__main__":
    main()
