"""Pruning savings: the same TPE seed and trial count with the default pruner and with none.

    .venv/bin/python benchmarks/pruning_savings.py [--trials 24] [--epochs 12] [--subset 20000]

Prints epochs trained and best val accuracy of each run on Fashion-MNIST, and their ratio.
Target: >= 5x fewer epochs with a best val accuracy within 0.3 points.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

from _study import run_study
from optuna.trial import TrialState


def study(trials: int, epochs: int, subset: int | None, pruner: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "pruning-savings",
        "dataset": {"name": "fashion-mnist", "val_fraction": 0.1, "train_subset": subset},
        "epochs": epochs,
        "seed": 0,
        "search_space": {
            "lr": {"low": 1e-4, "high": 0.3, "log": True},
            "batch_size": {"choices": [64, 128, 256]},
            "depth": {"low": 1, "high": 2},
            "width": {"low": 32, "high": 256, "log": True},
            "activation": {"choices": ["relu", "tanh", "gelu"]},
            "optimizer": {"choices": ["sgd", "momentum", "adam"]},
        },
        "sampler": {"type": "tpe", "n_startup_trials": 8},
        "pruner": pruner,
        "budget": {"n_trials": trials},
    }


def summary(trials: list[Any]) -> tuple[int, float, int]:
    epochs = sum(len(t.intermediate_values) for t in trials)
    best = max((t.value for t in trials if t.state == TrialState.COMPLETE), default=0.0)
    pruned = sum(t.state == TrialState.PRUNED for t in trials)
    return epochs, best, pruned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--subset", type=int, default=20000)
    args = parser.parse_args()
    default = {"type": "hyperband", "min_resource": 1, "reduction_factor": 3}
    results = {}
    for label, pruner in (("hyperband", default), ("none", {"type": "none"})):
        config = study(args.trials, args.epochs, args.subset, copy.deepcopy(pruner))
        trials, seconds = run_study(config, workers=1)
        results[label] = (*summary(trials), seconds)
        epochs, best, pruned = results[label][:3]
        print(f"{label:10s} trials {len(trials):3d}  pruned {pruned:3d}  epochs trained {epochs:4d}"
              f"  best val_accuracy {best:.4f}  wall {seconds:6.1f} s")  # fmt: skip
    (e_pruned, b_pruned, *_), (e_none, b_none, *_) = results["hyperband"], results["none"]
    print(f"epochs ratio (none / hyperband): {e_none / e_pruned:.2f}x  (target >= 5x)")
    print(f"best val_accuracy gap: {100 * (b_none - b_pruned):+.2f} points  (target within 0.3)")


if __name__ == "__main__":
    main()
