"""Time to accuracy: one study file under several search strategies, side by side.

    .venv/bin/python benchmarks/time_to_accuracy.py STUDY.yaml [--strategy NAME ...]
        [--seeds 0 1 2] [--budget SECONDS] [--subset N] [--epochs N] [--target ACC]
        [--png time_to_accuracy.png]

Strategies: random-none (random sampler, no pruning), tpe-none, tpe-hyperband (hyperband as
the shipped studies had it: min_resource 3, reduction_factor 3), default (TPE and the pruner a
study file gets when it names none), study (the file's own sampler and pruner). Each run is the
same study file (its search space, enqueued baseline and epochs) on a fresh HPSEARCH_HOME with
2 workers, the same wall-clock budget (budget.timeout) and the same study seed; strategies
alternate, their order rotating from seed to seed.

For each run it records the best val accuracy of the trials finished within the budget
against wall time and against epochs trained (anytime curves, drawn as one PNG), and prints,
per strategy, the time and the epochs needed to reach the target: by default, per seed, the
best val accuracy TPE without pruning reaches in its budget. Ratios are against tpe-none,
medians over seeds.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

import yaml
from _study import machine_line, run_study
from optuna.trial import FrozenTrial, TrialState

from hpsearch.study.config import PrunerConfig

STRATEGIES: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {
    # name: (sampler, pruner); None keeps the study file's
    "random-none": ({"type": "random"}, {"type": "none"}),
    "tpe-none": ({"type": "tpe"}, {"type": "none"}),
    "tpe-hyperband": (
        {"type": "tpe"},
        {"type": "hyperband", "min_resource": 3, "reduction_factor": 3},
    ),
    "default": ({"type": "tpe"}, PrunerConfig().model_dump()),
    "study": (None, None),
}
Curve = list[tuple[float, int, float]]  # (seconds since the first start, epochs so far, best)


def variant(study: dict[str, Any], name: str, seed: int, args: argparse.Namespace) -> dict:
    sampler, pruner = STRATEGIES[name]
    out = {**study, "name": "time-to-accuracy", "seed": seed}
    if sampler is not None:
        keep = study.get("sampler", {}).get("n_startup_trials", 10)
        startup = {"n_startup_trials": keep} if sampler["type"] == "tpe" else {}
        out["sampler"] = {**sampler, **startup}  # every TPE strategy: the file's start-up
    if pruner is not None:
        out["pruner"] = pruner
    out["budget"] = {"n_trials": 10_000, "timeout": args.budget}
    if args.subset:
        out["dataset"] = {**study["dataset"], "train_subset": args.subset}
    if args.epochs:
        out["epochs"] = args.epochs
    return out


def anytime(trials: list[FrozenTrial], budget: float) -> Curve:
    """The best COMPLETE value after each trial finished within `budget` seconds, in order.

    Trials running at the deadline finish after it; they are left out, so that no strategy
    gets more than the budget (a pruned study expects short trials, and may start one late).
    """
    done = [t for t in trials if t.datetime_complete and t.state.is_finished()]
    done.sort(key=lambda t: t.datetime_complete)  # type: ignore[arg-type, return-value]
    starts = [t.datetime_start for t in trials if t.datetime_start]
    if not starts:
        return []
    origin, best, epochs, curve = min(starts), 0.0, 0, []
    for trial in done:
        epochs += len(trial.intermediate_values)
        if trial.state == TrialState.COMPLETE and trial.value is not None:
            best = max(best, trial.value)
        seconds = (trial.datetime_complete - origin).total_seconds()  # type: ignore[operator]
        if seconds > budget:
            break
        curve.append((seconds, epochs, best))
    return curve


def reach(curve: Curve, target: float) -> tuple[float, float]:
    """(seconds, epochs) when the curve first reaches `target`; inf if never."""
    hit = next(((s, e) for s, e, best in curve if best >= target), None)
    return hit if hit is not None else (float("inf"), float("inf"))


def draw(curves: dict[str, list[Curve]], path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.5))
    axes = figure.subplots(1, 2, sharey=True)
    for index, (name, runs) in enumerate(curves.items()):
        color = f"C{index}"
        for number, curve in enumerate(runs):
            label = name if number == 0 else None
            axes[0].step([c[0] for c in curve], [c[2] for c in curve], where="post",
                         color=color, alpha=0.7, label=label)  # fmt: skip
            axes[1].step([c[1] for c in curve], [c[2] for c in curve], where="post",
                         color=color, alpha=0.7)  # fmt: skip
    axes[0].set(xlabel="wall time (s)", ylabel="best val accuracy so far")
    axes[1].set(xlabel="epochs trained")
    lows = [c[2] for runs in curves.values() for curve in runs for c in curve if c[2] > 0]
    if lows:
        top = max(lows)
        axes[0].set_ylim(max(min(lows), top - 0.05), top + 0.005)
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("--strategy", action="append", dest="strategies", choices=STRATEGIES)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=600.0, help="wall seconds per run")
    parser.add_argument("--subset", type=int, default=None, help="training images")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--target", type=float, default=None)
    parser.add_argument("--png", type=Path, default=Path("time_to_accuracy.png"))
    args = parser.parse_args()
    names = args.strategies or ["random-none", "tpe-none", "tpe-hyperband", "default"]
    study = yaml.safe_load(args.study.read_text())
    print(machine_line())
    print(f"{args.study}: {names}, seeds {args.seeds}, {args.budget:.0f} s each, 2 workers")
    curves: dict[str, list[Curve]] = {name: [] for name in names}
    for index, seed in enumerate(args.seeds):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            trials, seconds = run_study(variant(study, name, seed, args), workers=2)
            curves[name].append(anytime(trials, args.budget))
            final = curves[name][-1][-1] if curves[name][-1] else (0, 0, 0.0)
            finished = sum(t.state.is_finished() for t in trials)
            print(f"seed {seed} {name:14s} finished {finished:4d} epochs {final[1]:5d} "
                  f"best val {final[2]:.4f} wall {seconds:6.1f} s", flush=True)  # fmt: skip
    draw(curves, args.png)
    print(f"anytime curves: {args.png}")
    report(curves, args.seeds, args.target)


def report(curves: dict[str, list[Curve]], seeds: list[int], target: float | None) -> None:
    reference = curves.get("tpe-none")
    for index, seed in enumerate(seeds):
        goal = target
        if goal is None:
            goal = reference[index][-1][2] if reference and reference[index] else 1.0
        line = [f"seed {seed}: target {goal:.4f}"]
        for name, runs in curves.items():
            seconds, epochs = reach(runs[index], goal)
            line.append(f"{name} {seconds:.0f} s / {epochs:.0f} epochs")
        print("; ".join(line))
    if reference is None:
        return
    for name, runs in curves.items():
        ratios = []
        for index, _ in enumerate(seeds):
            goal = target if target is not None else reference[index][-1][2]
            ratios.append(reach(reference[index], goal)[0] / reach(runs[index], goal)[0])
        print(f"{name}: reaches the target {statistics.median(ratios):.2f}x sooner in wall time "
              f"than tpe-none (median over seeds; per seed "
              f"{', '.join(f'{r:.2f}' for r in ratios)})")  # fmt: skip


if __name__ == "__main__":
    main()
