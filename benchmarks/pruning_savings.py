"""Pruning savings: the same TPE seed and trial count with the default pruner and with none.

    .venv/bin/python benchmarks/pruning_savings.py [--trials 40] [--epochs 40] [--subset 10000]
        [--reduction-factor 3 --reduction-factor 4 ...] [--successive-halving]

Prints epochs trained and best val accuracy of each run on Fashion-MNIST, and their ratio.
The pruner is hyperband with the study file's defaults (PrunerConfig); each --reduction-factor
adds a hyperband run with that factor, compared with the same unpruned run.
Target: >= 5x fewer epochs with a best val accuracy within 0.3 points.

Hyperband's savings grow with the ratio of the longest to the shortest training (epochs /
min_resource): its least aggressive bracket trains every trial to the end, so short budgets
cannot show large savings. 40 epochs is the budget of the shipped Fashion-MNIST study.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

from _study import run_study
from optuna.trial import TrialState

from hpsearch.study.config import PrunerConfig


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
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--subset", type=int, default=10000)
    parser.add_argument("--reduction-factor", type=int, action="append", dest="factors")
    parser.add_argument(
        "--successive-halving", action="store_true", help="also a successive-halving run"
    )
    args = parser.parse_args()
    default = PrunerConfig()  # what a study file gets when it names no pruner
    print(f"default pruner: {default.type}, min_resource {default.min_resource}, "
          f"reduction_factor {default.reduction_factor}; {args.trials} trials of up to "
          f"{args.epochs} epochs, {args.subset} training images")  # fmt: skip
    arms = {"none": {"type": "none"}}
    for factor in args.factors or [default.reduction_factor]:
        arms[f"hyperband/{factor}"] = {
            "type": default.type,
            "min_resource": default.min_resource,
            "reduction_factor": factor,
        }
    if args.successive_halving:
        arms["successive-halving/3"] = {
            "type": "successive-halving",
            "min_resource": default.min_resource,
            "reduction_factor": 3,
        }
    results = {}
    for label, pruner in arms.items():
        config = study(args.trials, args.epochs, args.subset, copy.deepcopy(pruner))
        trials, seconds = run_study(config, workers=1)
        results[label] = summary(trials)
        epochs, best, pruned = results[label]
        print(f"{label:20s} trials {len(trials):3d}  pruned {pruned:3d}  epochs trained {epochs:5d}"
              f"  best val_accuracy {best:.4f}  wall {seconds:6.1f} s", flush=True)  # fmt: skip
    e_none, b_none, _ = results.pop("none")
    for label, (epochs, best, _) in results.items():
        gap = 100 * (b_none - best)
        print(f"{label}: epochs ratio (none / pruned) {e_none / epochs:.2f}x (target >= 5x), "
              f"best val_accuracy gap {gap:+.2f} points (target within 0.3)")  # fmt: skip


if __name__ == "__main__":
    main()
