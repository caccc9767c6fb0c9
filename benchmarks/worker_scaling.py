"""Worker scaling: trials per hour with 2 worker processes against 1, on this machine.

    .venv/bin/python benchmarks/worker_scaling.py [--trials 8] [--epochs 4] [--subset 54000]

The same study (no pruning, all 54,000 Fashion-MNIST training images) run with W=1
(2 BLAS threads) and W=2 (1 BLAS thread each). Target on a 2-core machine: >= 1.7x.

Two rates per run: end to end (launch to exit, including each worker's start-up: imports and
loading the dataset, a fixed cost a long study pays once), and steady state (trials finished
between the first trial's start and the last trial's end, what an hour-long study sees).
"""

from __future__ import annotations

import argparse

from _study import run_study


def study(trials: int, epochs: int, subset: int) -> dict[str, object]:
    return {
        "name": "worker-scaling",
        "dataset": {"name": "fashion-mnist", "val_fraction": 0.1, "train_subset": subset},
        "epochs": epochs,
        "seed": 0,
        "search_space": {
            "lr": {"low": 1e-3, "high": 0.1, "log": True},
            "batch_size": 128,
            "depth": 1,
            "width": {"low": 128, "high": 256, "log": True},
            "activation": "relu",
            "optimizer": "adam",
            "l2": 0.0,
        },
        "sampler": {"type": "random"},
        "pruner": {"type": "none"},
        "budget": {"n_trials": trials},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--subset", type=int, default=54000)
    args = parser.parse_args()
    rates: dict[int, tuple[float, float]] = {}
    for workers in (1, 2):
        trials, seconds = run_study(study(args.trials, args.epochs, args.subset), workers=workers)
        span = max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)
        rates[workers] = (3600 * len(trials) / seconds, 3600 * len(trials) / span.total_seconds())
        end_to_end, steady = rates[workers]
        print(f"W={workers}: {len(trials)} trials in {seconds:6.1f} s end to end"
              f" = {end_to_end:7.1f} trials/hour; steady state (first trial start to"
              f" last trial end, {span.total_seconds():.1f} s) {steady:7.1f} trials/hour",
              flush=True)  # fmt: skip
    print(f"scaling 2 workers / 1 worker: end to end {rates[2][0] / rates[1][0]:.2f}x, "
          f"steady state {rates[2][1] / rates[1][1]:.2f}x  (target >= 1.7x)")  # fmt: skip


if __name__ == "__main__":
    main()
