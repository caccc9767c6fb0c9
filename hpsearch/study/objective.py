"""One trial: sample -> train with pruning on val_accuracy -> the best epoch's val_accuracy."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from hpsearch.data import Splits
from hpsearch.nn import MLP
from hpsearch.study.config import StudyConfig
from hpsearch.study.space import resolve, suggest
from hpsearch.train import EpochMetrics, TrainResult, train

if TYPE_CHECKING:
    from hpsearch.tracking import StudyTracker

REPRODUCED_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


def trial_seed(study_seed: int, trial_number: int) -> int:
    """Independent, reproducible seed per trial (SeedSequence mixes both numbers)."""
    return int(np.random.SeedSequence([study_seed, trial_number]).generate_state(1)[0])


def seed_of(trial: optuna.Trial, study_seed: int) -> int:
    """A retry inherits the user attributes, hence the seed, of the trial it retries."""
    return int(trial.user_attrs.get("seed", trial_seed(study_seed, trial.number)))


@dataclass
class PruningCallback:
    """Reports val_accuracy after each epoch; asks the trainer to stop when the pruner says so."""

    trial: optuna.Trial
    pruned_at: int | None = None

    def __call__(self, metrics: EpochMetrics, model: MLP) -> bool:
        self.trial.report(metrics.val_accuracy, step=metrics.epoch)
        if self.trial.should_prune():
            self.pruned_at = metrics.epoch
            return True
        return False


def history_attr(result: TrainResult) -> list[dict[str, float]]:
    """The per-epoch metrics kept on the Optuna trial, so `replay` can compare them exactly."""
    return [{name: m.as_dict()[name] for name in REPRODUCED_METRICS} for m in result.history]


class Objective:
    """Callable by Optuna. With a tracker, every trial is also an MLflow run."""

    def __init__(
        self, config: StudyConfig, splits: Splits, tracker: StudyTracker | None = None
    ) -> None:
        self.config, self.splits, self.tracker = config, splits, tracker

    def __call__(self, trial: optuna.Trial) -> float:
        seed = seed_of(trial, self.config.seed)
        values = suggest(self.config.search_space, trial)
        train_config = resolve(values, epochs=self.config.epochs, seed=seed)
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("hidden", list(train_config.hidden))
        run_id = self._start_run(trial, values, train_config.as_dict(), seed)
        pruning = PruningCallback(trial)
        callbacks: list[Any] = [pruning]
        if self.tracker is not None and run_id is not None:
            callbacks.insert(0, self.tracker.epoch_callback(run_id))
        try:
            result = train(train_config, self.splits, callbacks)
            trial.set_user_attr("history", history_attr(result))
            return self._finish(trial, run_id, result, pruning)
        except optuna.TrialPruned:
            raise
        except (KeyboardInterrupt, SystemExit):
            self._end_run(run_id, "killed", "worker stopped by a signal")
            raise
        except Exception:
            self._end_run(run_id, "failed", traceback.format_exc())
            raise

    def _start_run(
        self, trial: optuna.Trial, values: dict[str, Any], resolved: dict[str, Any], seed: int
    ) -> str | None:
        if self.tracker is None:
            return None
        run_id = self.tracker.start_trial(
            trial.number,
            dict(trial.params),
            resolved,
            seed=seed,
            dataset_fingerprint=self.splits.fingerprint(),
            trial_id=trial._trial_id,
        )
        trial.set_user_attr("mlflow_run_id", run_id)
        return run_id

    def _finish(
        self, trial: optuna.Trial, run_id: str | None, result: TrainResult, pruning: PruningCallback
    ) -> float:
        if result.outcome == "diverged":
            self._prune(trial, run_id, len(result.history), "diverged")
        if pruning.pruned_at is not None:
            self._prune(trial, run_id, pruning.pruned_at, "pruner")
        if self.tracker is not None and run_id is not None:
            self.tracker.finish_complete(run_id, result, self.splits)
        return result.best_val_accuracy

    def _prune(self, trial: optuna.Trial, run_id: str | None, step: int, reason: str) -> None:
        trial.set_user_attr("pruned_reason", reason)
        trial.set_user_attr("pruned_step", step)
        if self.tracker is not None and run_id is not None:
            self.tracker.finish_pruned(run_id, step, reason)
        raise optuna.TrialPruned(f"{reason} at epoch {step}")

    def _end_run(self, run_id: str | None, how: str, detail: str) -> None:
        if self.tracker is None or run_id is None:
            return
        if how == "killed":
            self.tracker.finish_killed(run_id, detail)
        else:
            self.tracker.finish_failed(run_id, detail)
