"""What one TPE sample costs as a study grows, with and without `sampler.history` (issue 13).

    .venv/bin/python benchmarks/sampler_history.py --tag T [--sizes 1000 5000 9000] [--repeats 5]

Reads the finished trials of benchmarks/scale.py's study (run it first: `scale.py run --tag T`),
copies the first N of them into an in-memory study, and times the sampler's work for one new
trial there (hpsearch's TPE, the scale study's search space): unbounded (`history: null`) and
bounded (`history: 1000`, the default), alternating, `--repeats` times each. Prints the median
CPU milliseconds per sample and the ratio. The database is read once; the timed part never
touches it.
"""

from __future__ import annotations

import argparse
import statistics
import time

import optuna
from _study import machine_line
from scale import NAME, urls

from hpsearch.study.algorithms import make_sampler
from hpsearch.study.config import SamplerConfig, load_study_config
from hpsearch.study.space import suggest
from hpsearch.study.storage import open_storage


def sample_cpu_ms(trials: list, space: object, history: int | None, seed: int) -> float:
    study = optuna.create_study(direction="maximize")
    study.add_trials(trials)
    study.sampler = make_sampler(SamplerConfig(type="tpe", history=history), seed)
    started = time.process_time()
    trial = study.ask()
    suggest(space, trial)  # type: ignore[arg-type]
    return (time.process_time() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 9000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(machine_line())
    stored = optuna.load_study(study_name=NAME, storage=open_storage(urls(args.tag)["optuna"]))
    space = load_study_config(stored).search_space
    finished = [t for t in stored.get_trials(deepcopy=False) if t.state.is_finished()]
    print(f"{len(finished)} finished trials read from the scale study {args.tag!r}")
    for size in args.sizes:
        trials = finished[:size]
        found: dict[str, list[float]] = {"all": [], "history 1000": []}
        for repeat in range(args.repeats):
            for name, history in (("all", None), ("history 1000", 1000)):
                found[name].append(sample_cpu_ms(trials, space, history, seed=repeat))
        medians = {name: statistics.median(times) for name, times in found.items()}
        print(
            f"{len(trials):6d} trials: one sample {medians['all']:7.1f} ms reading all, "
            f"{medians['history 1000']:7.1f} ms with history 1000 "
            f"({medians['all'] / medians['history 1000']:.1f}x)",
            flush=True,
        )


if __name__ == "__main__":
    main()
