"""The script a user would write instead of hpsearch: plain Optuna with optuna-integration's
MLflowCallback, the same trainer, search space, sampler and pruner. Run by benchmarks/peers.py.

    python benchmarks/_plain_optuna.py STUDY.yaml HOME

Optuna and MLflow both on SQLite files under HOME. Prints one JSON line: the trials by state
and the seconds spent in the trainer.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import optuna
from optuna_integration.mlflow import MLflowCallback

from hpsearch.study.algorithms import make_pruner, make_sampler
from hpsearch.study.config import load_study_file
from hpsearch.study.objective import EarlyStop, PruningCallback, trial_seed
from hpsearch.study.space import resolve, suggest
from hpsearch.study.worker import sampler_seed
from hpsearch.train import train


def main(study_file: Path, home: Path) -> None:
    config, _ = load_study_file(study_file)
    splits = config.dataset.load_splits()
    tie_step = 0.5 / len(splits.y_val) if config.pruner.tie_break else 0.0
    trained = 0.0

    def objective(trial: optuna.Trial) -> float:
        nonlocal trained
        values = suggest(config.search_space, trial)
        seed = trial_seed(config.seed, trial.number)
        train_config = resolve(values, epochs=config.epochs, seed=seed)
        pruning = PruningCallback(trial, tie_step)
        callbacks = [pruning]
        if config.pruner.early_stop is not None:
            callbacks.append(EarlyStop(config.pruner.early_stop))
        started = time.perf_counter()
        result = train(train_config, splits, callbacks)
        trained += time.perf_counter() - started
        if pruning.pruned_at is not None or result.outcome == "diverged":
            raise optuna.TrialPruned()
        return result.best_val_accuracy

    # the seed hpsearch's one worker of a study's first launch samples with: the same points
    sampler = make_sampler(config.sampler, sampler_seed(config, 1, 0))
    study = optuna.create_study(
        study_name=config.name,
        storage=f"sqlite:///{home / 'optuna.db'}",
        direction="maximize",
        sampler=sampler,
        pruner=make_pruner(config.pruner, config.epochs, at_rungs=False),  # Optuna's, as shipped
    )
    mlflow_uri = f"sqlite:///{home / 'mlflow.db'}"
    tracking = MLflowCallback(tracking_uri=mlflow_uri, metric_name="val_accuracy")
    study.optimize(objective, n_trials=config.budget.n_trials, callbacks=[tracking])
    states: dict[str, int] = {}
    for trial in study.trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    print(json.dumps({"states": states, "train_seconds": trained}))


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
