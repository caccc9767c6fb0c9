"""Worker scaling: the machine's training rate with the launcher's chosen workers x threads,
against every combination that fills the cores, on the same study.

    .venv/bin/python benchmarks/worker_scaling.py [--trials 6] [--epochs 2] [--subset 20000]

The study (no pruning, Fashion-MNIST, 784-{128..256}-10 Adam) runs once per combination W x T
(W workers of T BLAS threads, W*T = cores, swept by `launch`'s `threads` field), and once with
what `launch` chooses by itself (hpsearch/study/threads.py: its cached measurement). The rate is
training samples per second of the whole machine in the steady state: the samples the trials
trained, over the time from the first trial's start to the last trial's end. Runs alternate in
rounds (--rounds) and the median per combination is reported. Target (issue 15): the chosen
combination >= 90% of the best swept one.
"""

from __future__ import annotations

import argparse
import os
import statistics

from _study import run_study

from hpsearch.study.threads import choose, usable_cores


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


def samples_per_second(args: argparse.Namespace, workers: int, threads: int) -> float:
    spec = study(args.trials, args.epochs, args.subset)
    trials, _ = run_study(spec, workers=workers, threads=threads)
    span = max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)
    samples = sum(len(t.user_attrs["history"]) for t in trials) * args.subset * 0.9
    return samples / span.total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--subset", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cores = usable_cores()
    chosen = choose(None)
    combos = sorted({(w, cores // w) for w in range(1, cores + 1)})
    print(f"{cores} cores, load average {os.getloadavg()[0]:.1f}; launch chooses "
          f"{chosen.describe()}; sweeping {', '.join(f'{w}x{t}' for w, t in combos)}")  # fmt: skip
    rates: dict[tuple[int, int], list[float]] = {c: [] for c in combos}
    for _ in range(args.rounds):
        for combo in combos:
            rates[combo].append(samples_per_second(args, *combo))
            print(f"  {combo[0]}x{combo[1]}: {rates[combo][-1]:8.0f} samples/s", flush=True)
    medians = {c: statistics.median(r) for c, r in rates.items()}
    best = max(medians, key=lambda c: medians[c])
    ours = medians[(chosen.workers, chosen.threads)]
    print(f"best swept {best[0]}x{best[1]}: {medians[best]:.0f} samples/s; chosen "
          f"{chosen.workers}x{chosen.threads}: {ours:.0f} = {100 * ours / medians[best]:.0f}% "
          "of the best (target >= 90%)")  # fmt: skip


if __name__ == "__main__":
    main()
