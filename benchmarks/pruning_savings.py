"""Pruning savings: the same study, TPE seeds and trial count with several pruners and with none.

    .venv/bin/python benchmarks/pruning_savings.py [--dataset fashion-mnist|digits] [--trials 40]
        [--epochs 40] [--subset 10000] [--seeds 0 1 2] [--pruner SPEC ...] [--workers 1]
        [--threads 1]

A SPEC is `type` or `type:key=value,key=value` with PrunerConfig's keys, e.g.
`successive-halving:min_resource=2,reduction_factor=4` or `hyperband:min_resource=3,patience=3`;
`default` is what a study file gets when it names no pruner, `shipped` the shipped
Fashion-MNIST study's pruner. Without --pruner: `default` and `shipped`.

For each seed every arm runs the same study (same TPE seed, same trial seeds), in an order that
rotates from seed to seed; prints each run's epochs trained and best val accuracy, then per arm
the mean over seeds: epochs ratio (none / arm) and best val accuracy gap to none (points).
Target: >= 5x fewer epochs with a best val accuracy at most 0.3 points below none's.

Hyperband's savings grow with the ratio of the longest to the shortest training (epochs /
min_resource): its least aggressive bracket trains every trial to the end, so short budgets
cannot show large savings. 40 epochs is the budget of the shipped Fashion-MNIST study.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from _study import machine_line, run_study
from optuna.trial import TrialState

from hpsearch.study.config import PrunerConfig, load_study_file

SHIPPED = Path(__file__).parents[1] / "studies" / "fashion-mnist.yaml"
# Small enough for many seeds on 2 cores; per-optimizer learning-rate ranges as in the studies.
SPACE = {
    "lr": {"low": 1e-4, "high": 0.3, "log": True},
    "batch_size": {"choices": [64, 128, 256]},
    "depth": {"low": 1, "high": 2},
    "width": {"low": 32, "high": 256, "log": True},
    "activation": {"choices": ["relu", "tanh", "gelu"]},
    "optimizer": {"choices": ["sgd", "momentum", "adam"]},
}


def study(args: argparse.Namespace, seed: int, pruner: dict[str, Any]) -> dict[str, Any]:
    val = 0.1 if args.dataset != "digits" else 0.2  # digits: 360 validation images
    return {
        "name": "pruning-savings",
        "dataset": {"name": args.dataset, "val_fraction": val, "train_subset": args.subset},
        "epochs": args.epochs,
        "seed": seed,
        "search_space": SPACE,
        "sampler": {"type": "tpe", "n_startup_trials": 8},
        "pruner": pruner,
        "budget": {"n_trials": args.trials},
    }


def parse_pruner(spec: str) -> dict[str, Any]:
    """`type:key=value,...` -> a `pruner:` mapping (validated by PrunerConfig)."""
    if spec == "default":
        return PrunerConfig().model_dump()
    if spec == "shipped":
        return load_study_file(SHIPPED)[0].pruner.model_dump()
    kind, _, rest = spec.partition(":")
    pruner: dict[str, Any] = {"type": kind}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        pruner[key] = float(value) if "." in value else int(value)
    PrunerConfig.model_validate(pruner)
    return pruner


def summary(trials: list[Any]) -> tuple[int, float, int]:
    epochs = sum(len(t.intermediate_values) for t in trials)
    best = max((t.value for t in trials if t.state == TrialState.COMPLETE), default=0.0)
    pruned = sum(t.state == TrialState.PRUNED for t in trials)
    return epochs, best, pruned


def as_record(trial: Any) -> dict[str, Any]:
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": trial.value,
        "params": trial.params,
        "curve": [trial.intermediate_values[s] for s in sorted(trial.intermediate_values)],
    }


def arms(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    specs = args.pruners or ["default", "shipped"]
    return {"none": {"type": "none"}} | {spec: parse_pruner(spec) for spec in specs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--subset", type=int, default=10000, help="0: the whole training set")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--pruner", action="append", dest="pruners", metavar="SPEC")
    parser.add_argument("--workers", type=int, default=1)
    # fixed, not measured per machine: every arm then does the same arithmetic, and several
    # seeds can run side by side as separate processes
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads per worker")
    parser.add_argument("--dump", type=Path, help="write every run's trials (curves) as JSON")
    args = parser.parse_args()
    args.subset = args.subset or None
    print(machine_line())
    print(f"{args.dataset}: {args.trials} trials of up to {args.epochs} epochs, "
          f"{args.subset or 'all'} training images, TPE seeds {args.seeds}")  # fmt: skip
    labels = arms(args)
    results: dict[str, list[tuple[int, float, int]]] = {label: [] for label in labels}
    runs: list[dict[str, Any]] = []
    for index, seed in enumerate(args.seeds):
        order = list(labels)[index % len(labels) :] + list(labels)[: index % len(labels)]
        for label in order:
            trials, seconds = run_study(
                study(args, seed, labels[label]), workers=args.workers, threads=args.threads
            )
            results[label].append(summary(trials))
            runs.append({"seed": seed, "arm": label, "trials": [as_record(t) for t in trials]})
            if args.dump:
                args.dump.write_text(json.dumps(runs))
            epochs, best, pruned = results[label][-1]
            print(f"seed {seed} {label:40s} trials {len(trials):3d} pruned {pruned:3d} "
                  f"epochs {epochs:5d} best val {best:.4f} wall {seconds:6.1f} s",
                  flush=True)  # fmt: skip
    report(results)


def report(results: dict[str, list[tuple[int, float, int]]]) -> None:
    none = results.pop("none")
    none_epochs = statistics.mean(r[0] for r in none)
    none_best = statistics.mean(r[1] for r in none)
    print(f"none: mean epochs {none_epochs:.0f}, mean best val {none_best:.4f}")
    for label, runs in results.items():
        ratio = none_epochs / statistics.mean(r[0] for r in runs)
        gap = 100 * (none_best - statistics.mean(r[1] for r in runs))
        pairs = zip(none, runs, strict=True)
        per_seed = " ".join(f"{n[0] / r[0]:.2f}x/{100 * (n[1] - r[1]):+.2f}" for n, r in pairs)
        verdict = "MET" if ratio >= 5 and gap <= 0.3 else "missed"
        print(f"{label}: epochs ratio {ratio:.2f}x (>= 5x), gap {gap:+.2f} points (<= 0.3): "
              f"{verdict}; per seed ratio/gap {per_seed}")  # fmt: skip


if __name__ == "__main__":
    main()
