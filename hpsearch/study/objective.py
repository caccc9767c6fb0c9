"""One trial: sample -> train with pruning on the best val_accuracy so far -> the best epoch's
val_accuracy."""

from __future__ import annotations

import logging
import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from hpsearch import private_apis
from hpsearch.data import Splits
from hpsearch.nn import MLP
from hpsearch.study.config import StudyConfig
from hpsearch.study.space import resolve, suggest
from hpsearch.study.stopping import FINISHED, WouldOverrun, expected_seconds
from hpsearch.study.storage import with_retries
from hpsearch.train import EpochMetrics, TrainConfig, TrainResult, train

if TYPE_CHECKING:
    from hpsearch.tracking import StudyTracker

log = logging.getLogger("hpsearch.objective")
REPRODUCED_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "l2_penalty")


def trial_seed(study_seed: int, trial_number: int) -> int:
    """Independent, reproducible seed per trial (SeedSequence mixes both numbers)."""
    return int(np.random.SeedSequence([study_seed, trial_number]).generate_state(1)[0])


def seed_of(trial: optuna.Trial, study_seed: int) -> int:
    """A retry inherits the user attributes, hence the seed, of the trial it retries."""
    return int(trial.user_attrs.get("seed", trial_seed(study_seed, trial.number)))


@dataclass
class PruningCallback:
    """Reports the best val_accuracy so far after each epoch; asks the trainer to stop when the
    pruner says so.

    The best so far, not the epoch's own value: a trial's value is its best epoch (whose weights
    are the model kept), so the pruner judges the same thing the objective values, and a trial
    that peaked early is not judged on its decline. Steps are epochs, 1-based.
    """

    trial: optuna.Trial
    pruned_at: int | None = None
    best: float = 0.0

    def __call__(self, metrics: EpochMetrics, model: MLP) -> bool:
        if math.isfinite(metrics.val_accuracy):
            self.best = max(self.best, metrics.val_accuracy)
        best = self.best
        with_retries(lambda: self.trial.report(best, step=metrics.epoch), "reporting")
        if with_retries(self.trial.should_prune, "asking the pruner"):
            self.pruned_at = metrics.epoch
            return True
        return False


def history_attr(result: TrainResult) -> list[dict[str, float]]:
    """The per-epoch metrics kept on the Optuna trial, so `replay` can compare them exactly."""
    return [{name: m.as_dict()[name] for name in REPRODUCED_METRICS} for m in result.history]


class Objective:
    """Callable by Optuna. With a tracker, every trial is also an MLflow run."""

    def __init__(
        self,
        config: StudyConfig,
        splits: Splits,
        tracker: StudyTracker | None = None,
        deadline: float | None = None,  # time.monotonic() no trial may end after
    ) -> None:
        self.config, self.splits, self.tracker = config, splits, tracker
        self.deadline = deadline

    def __call__(self, trial: optuna.Trial) -> float:
        seed = seed_of(trial, self.config.seed)
        values = with_retries(lambda: suggest(self.config.search_space, trial), "sampling")
        train_config = resolve(values, epochs=self.config.epochs, seed=seed)
        self._refuse_overrun(trial, train_config)
        attrs = {"seed": seed, "hidden": list(train_config.hidden)}
        with_retries(lambda: _set_user_attrs(trial, attrs), "starting the trial")
        run_id = self._start_run(trial, values, train_config.as_dict(), seed)
        pruning = PruningCallback(trial)
        callbacks: list[Any] = [pruning]
        if self.tracker is not None and run_id is not None:
            callbacks.insert(0, _retrying(self.tracker.epoch_callback(run_id)))
        try:
            timed = _Timed(callbacks)
            started = time.perf_counter()
            result = train(train_config, self.splits, [timed])
            # the trainer's own share of the trial; the rest (reporting, MLflow, claiming) is
            # orchestration, which benchmarks/scale.py follows as a study grows
            train_seconds = round(time.perf_counter() - started - timed.seconds, 4)
            history = {"history": history_attr(result), "train_seconds": train_seconds}
            with_retries(lambda: _set_user_attrs(trial, history), "recording the history")
            return self._finish(trial, run_id, result, pruning)
        except optuna.TrialPruned:
            raise
        except (KeyboardInterrupt, SystemExit):
            self._end_run(run_id, "killed", "worker stopped by a signal")
            raise
        except optuna.exceptions.UpdateFinishedTrialError:
            # another worker took our heartbeat for a crash's, failed the trial and retried it
            self._end_run(run_id, "killed", "failed as stale by another worker; retried")
            raise
        except Exception as exc:
            self._end_run(run_id, "failed", _failure_text(exc))
            raise

    def _refuse_overrun(self, trial: optuna.Trial, config: TrainConfig) -> None:
        """WouldOverrun if this trial is expected to end past the deadline (nothing started)."""
        if self.deadline is None:
            return
        finished = with_retries(
            lambda: trial.study.get_trials(deepcopy=False, states=FINISHED), "reading the study"
        )
        dims = (self.splits.input_dim, self.splits.n_classes)
        seconds = expected_seconds(finished, config.hidden, config.epochs, dims)
        if seconds is not None and time.monotonic() + seconds > self.deadline:
            raise WouldOverrun(seconds)

    def _start_run(
        self, trial: optuna.Trial, values: dict[str, Any], resolved: dict[str, Any], seed: int
    ) -> str | None:
        if self.tracker is None:
            return None
        tracker = self.tracker
        run_id = with_retries(
            lambda: tracker.start_trial(
                trial.number,
                dict(trial.params),
                resolved,
                seed=seed,
                dataset_fingerprint=self.splits.fingerprint(),
                trial_id=private_apis.trial_id(trial),
            ),
            "starting the MLflow run",
        )
        with_retries(lambda: trial.set_user_attr("mlflow_run_id", run_id), "linking the run")
        return run_id

    def _finish(
        self, trial: optuna.Trial, run_id: str | None, result: TrainResult, pruning: PruningCallback
    ) -> float:
        if result.outcome == "diverged":
            self._prune(trial, run_id, len(result.history), "diverged")
        if pruning.pruned_at is not None:
            self._prune(trial, run_id, pruning.pruned_at, "pruner")
        tracker = self.tracker
        if tracker is not None and run_id is not None:
            with_retries(
                lambda: tracker.finish_complete(run_id, result, self.splits), "saving the model"
            )
        return result.best_val_accuracy

    def _prune(self, trial: optuna.Trial, run_id: str | None, step: int, reason: str) -> None:
        attrs = {"pruned_reason": reason, "pruned_step": step}
        with_retries(lambda: _set_user_attrs(trial, attrs), "recording the pruning")
        tracker = self.tracker
        if tracker is not None and run_id is not None:
            with_retries(lambda: tracker.finish_pruned(run_id, step, reason), "ending the run")
        raise optuna.TrialPruned(f"{reason} at epoch {step}")

    def _end_run(self, run_id: str | None, how: str, detail: str) -> None:
        """End the run FAILED or KILLED; if even that fails, `reconcile` ends it later."""
        tracker = self.tracker
        if tracker is None or run_id is None:
            return
        end = tracker.finish_killed if how == "killed" else tracker.finish_failed
        try:
            with_retries(lambda: end(run_id, detail), "ending the run")
        except Exception as exc:  # must not hide the error that ended the trial
            log.warning("could not end MLflow run %s: %s", run_id, exc)


class _Timed:
    """The epoch callbacks as one, adding up the time they take (reports, MLflow logging)."""

    def __init__(self, callbacks: list[Any]) -> None:
        self.callbacks, self.seconds = callbacks, 0.0

    def __call__(self, metrics: EpochMetrics, model: MLP) -> bool:
        started = time.perf_counter()
        try:
            return any([bool(callback(metrics, model)) for callback in self.callbacks])
        finally:
            self.seconds += time.perf_counter() - started


def _set_user_attrs(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def _retrying(callback: Callable[[EpochMetrics, MLP], None]) -> Callable[[EpochMetrics, MLP], None]:
    """An epoch-logging callback that rides out a brief database outage."""

    def call(metrics: EpochMetrics, model: MLP) -> None:
        with_retries(lambda: callback(metrics, model), f"logging epoch {metrics.epoch}")

    return call


def _failure_text(exc: BaseException) -> str:
    """The traceback, led by one line that says what went wrong (an OSError names its path)."""
    return f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}"
