"""Worker scaling: trials per hour with 2 worker processes against 1, on this machine.

    .venv/bin/python benchmarks/worker_scaling.py [--trials 8] [--epochs 4] [--subset 54000]

The same study (no pruning, all 54,000 Fashion-MNIST training images) run with W=1
(2 BLAS threads) and W=2
(1 BLAS thread each). Target on a 2-core machine: >= 1.7x.
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
    rates = {}
    for workers in (1, 2):
        trials, seconds = run_study(study(args.trials, args.epochs, args.subset), workers=workers)
        rates[workers] = 3600 * len(trials) / seconds
        print(f"W={workers}: {len(trials)} trials in {seconds:6.1f} s"
              f" = {rates[workers]:7.1f} trials/hour")  # fmt: skip
    print(f"scaling 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x  (target >= 1.7x)")


if __name__ == "__main__":
    main()
