"""One trial: sample -> train with pruning on the best val_accuracy so far -> the best epoch's
val_accuracy."""

from __future__ import annotations

import logging
import math
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from hpsearch import private_apis
from hpsearch.data import Splits
from hpsearch.nn import MLP
from hpsearch.signals import signals_held
from hpsearch.study import attrs as A
from hpsearch.study.config import StudyConfig
from hpsearch.study.space import resolve, suggest
from hpsearch.study.stopping import FINISHED, DeadlineStop, WouldOverrun, expected_seconds
from hpsearch.study.storage import retrying, with_retries
from hpsearch.study.warm_start import WARM_START_ATTR
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
    return int(trial.user_attrs.get(A.SEED, trial_seed(study_seed, trial.number)))


@dataclass
class PruningCallback:
    """Reports the best val_accuracy so far after each epoch; asks the trainer to stop when the
    pruner says so.

    The best so far, not the epoch's own value: a trial's value is its best epoch (whose weights
    are the model kept), so the pruner judges the same thing the objective values, and a trial
    that peaked early is not judged on its decline. Steps are epochs, 1-based.
    """

    trial: optuna.Trial
    # pruner.tie_break: half a validation image, so equal accuracies rank by val loss
    tie_step: float = 0.0
    pruned_at: int | None = None
    best: float = 0.0

    def __call__(self, metrics: EpochMetrics, model: MLP) -> bool:
        if math.isfinite(metrics.val_accuracy):
            self.best = max(self.best, metrics.val_accuracy - self.tie_step * _squash(metrics))
        self.trial.report(self.best, step=metrics.epoch)  # the trial retries (see Objective)
        if self.trial.should_prune():
            self.pruned_at = metrics.epoch
            return True
        return False


def _squash(metrics: EpochMetrics) -> float:
    """The val loss mapped into [0, 1), monotone; 1 when it is not finite."""
    loss = metrics.val_loss
    return loss / (1.0 + loss) if math.isfinite(loss) and loss >= 0 else 1.0


@dataclass
class EarlyStop:
    """Ends a trial once `patience` epochs pass without a new best val_accuracy.

    The trial completes with its best epoch: that is its value and its model either way, so
    the epochs after a plateau only cost time.
    """

    patience: int
    stopped_at: int | None = None
    best: float = -1.0
    best_epoch: int = 0

    def __call__(self, metrics: EpochMetrics, model: MLP) -> bool:
        if math.isfinite(metrics.val_accuracy) and metrics.val_accuracy > self.best:
            self.best, self.best_epoch = metrics.val_accuracy, metrics.epoch
        if metrics.epoch - self.best_epoch >= self.patience:
            self.stopped_at = metrics.epoch
            return True
        return False


def history_attr(result: TrainResult) -> list[dict[str, float]]:
    """The per-epoch metrics kept on the Optuna trial, so `replay` can compare them exactly."""
    return [{name: m.as_dict()[name] for name in REPRODUCED_METRICS} for m in result.history]


class Objective:
    """Callable by Optuna. With a tracker, every trial is also an MLflow run.

    Every call to the storage or the tracker rides out a brief database outage (`retrying`).
    """

    def __init__(
        self,
        config: StudyConfig,
        splits: Splits,
        tracker: StudyTracker | None = None,
        deadline: float | None = None,  # time.monotonic() no trial may end after
        trial_tags: dict[str, Any] | None = None,  # what every trial of this worker records
    ) -> None:
        self.config, self.splits = config, splits
        self.tracker = retrying(tracker, "tracking") if tracker is not None else None
        self.deadline = deadline
        self.trial_tags = trial_tags or {}

    def __call__(self, trial: optuna.Trial) -> float:
        sampled, trial = trial, retrying(trial, "trial")
        seed = seed_of(trial, self.config.seed)
        with private_apis.held_trial_params(sampled) as held:  # one transaction, not eight
            values = suggest(self.config.search_space, trial)
        with_retries(lambda: private_apis.write_trial_params(sampled, held), "trial parameters")
        train_config = resolve(values, epochs=self.config.epochs, seed=seed)
        self._refuse_overrun(trial, train_config)
        pruning = PruningCallback(trial, self._tie_step())
        completing = self._completing_stops()
        callbacks: list[Any] = [pruning, *completing.values()]
        run_id = None
        try:
            with signals_held():  # the run is ended below however the trial ends
                run_id = self._start_run(trial, train_config.as_dict(), seed)
            # one transaction for what the trial records before it trains, its run id included
            described = {A.SEED: seed, A.HIDDEN: list(train_config.hidden)}
            if run_id is not None:
                described[A.MLFLOW_RUN_ID] = run_id
            set_user_attrs(trial, self.trial_tags | described)
            if self.tracker is not None and run_id is not None:
                log_epoch = self.tracker.epoch_callback(run_id)
                callbacks.insert(0, retrying(log_epoch, f"logging the epochs of run {run_id}"))
            result, outcome = self._train(train_config, callbacks)
            return self._finish(trial, run_id, result, outcome, pruning, completing)
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

    def _completing_stops(self) -> dict[str, EarlyStop | DeadlineStop]:
        """The callbacks that end a trial COMPLETE, by the attribute that records their epoch."""
        stops: dict[str, EarlyStop | DeadlineStop] = {}
        if self.config.pruner.early_stop is not None:
            stops[A.STOPPED_EARLY] = EarlyStop(self.config.pruner.early_stop)
        if self.deadline is not None:
            stops[A.STOPPED_AT_DEADLINE] = DeadlineStop(self.deadline)
        return stops

    def _tie_step(self) -> float:
        """Below one validation image: a tie-break never reorders different accuracies."""
        if not self.config.pruner.tie_break:
            return 0.0
        return 0.5 / len(self.splits.y_val)

    def _refuse_overrun(self, trial: optuna.Trial, config: TrainConfig) -> None:
        """WouldOverrun if this trial is expected to end past the deadline (nothing started)."""
        if self.deadline is None:
            return
        study = retrying(trial.study, "reading the study")
        finished = study.get_trials(deepcopy=False, states=FINISHED)
        dims = (self.splits.input_dim, self.splits.n_classes)
        seconds = expected_seconds(finished, config.hidden, config.epochs, dims)
        if seconds is not None and time.monotonic() + seconds > self.deadline:
            raise WouldOverrun(seconds)

    def _train(
        self, config: TrainConfig, callbacks: list[Any]
    ) -> tuple[TrainResult, dict[str, Any]]:
        """Train; return the result and what the trial keeps for replay, the best-trial rule and
        benchmarks (written with the trial's end, in one transaction)."""
        timed = _Timed(callbacks)
        started = time.perf_counter()
        result = train(config, self.splits, [timed])
        # the trainer's own share of the trial; the rest (reporting, MLflow, claiming) is
        # orchestration, which benchmarks/scale.py follows as a study grows
        train_seconds = round(time.perf_counter() - started - timed.seconds, 4)
        outcome = {
            A.HISTORY: history_attr(result),
            A.TRAIN_SECONDS: train_seconds,
            A.N_PARAMS: result.model.arch.n_params,  # breaks ties between best trials
        }
        return result, outcome

    def _start_run(self, trial: optuna.Trial, resolved: dict[str, Any], seed: int) -> str | None:
        """The trial's MLflow run; its id becomes a trial attribute with the trial's first ones,
        so the two are linked both ways (run tags <-> trial attribute)."""
        if self.tracker is None:
            return None
        run_id = self.tracker.start_trial(
            trial.number,
            dict(trial.params),
            resolved,
            seed=seed,
            dataset_fingerprint=self.splits.fingerprint(),
            trial_id=private_apis.trial_id(trial),
            splits=self.splits,
            warm_start=trial.user_attrs.get(WARM_START_ATTR),
        )
        if self.config.system_metrics:
            self.tracker.watch_system(run_id)
        return run_id

    def _finish(
        self,
        trial: optuna.Trial,
        run_id: str | None,
        result: TrainResult,
        outcome: dict[str, Any],
        pruning: PruningCallback,
        completing: dict[str, EarlyStop | DeadlineStop],
    ) -> float:
        if result.outcome == "diverged":
            self._prune(trial, run_id, outcome, len(result.history), "diverged")
        if pruning.pruned_at is not None:
            self._prune(trial, run_id, outcome, pruning.pruned_at, "pruner")
        stops = {attr: s.stopped_at for attr, s in completing.items() if s.stopped_at is not None}
        set_user_attrs(trial, outcome | stops)
        if self.tracker is not None and run_id is not None:
            self.tracker.finish_complete(run_id, result, self.splits)
        return result.best_val_accuracy

    def _prune(
        self,
        trial: optuna.Trial,
        run_id: str | None,
        outcome: dict[str, Any],
        step: int,
        reason: str,
    ) -> None:
        set_user_attrs(trial, outcome | {A.PRUNED_REASON: reason, A.PRUNED_STEP: step})
        if self.tracker is not None and run_id is not None:
            self.tracker.finish_pruned(run_id, step, reason)
        raise optuna.TrialPruned(f"{reason} at epoch {step}")

    def _end_run(self, run_id: str | None, how: str, detail: str) -> None:
        """End the run FAILED or KILLED; if even that fails, `reconcile` ends it later."""
        if self.tracker is None or run_id is None:
            return
        end = self.tracker.finish_killed if how == "killed" else self.tracker.finish_failed
        try:
            end(run_id, detail)
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


def set_user_attrs(trial: optuna.Trial, values: dict[str, Any]) -> None:
    """All of `values` on the trial in one transaction, retried while the database is away."""
    with_retries(lambda: private_apis.set_trial_user_attrs(trial, values), "trial attributes")


def _failure_text(exc: BaseException) -> str:
    """The traceback, led by one line that says what went wrong (an OSError names its path)."""
    return f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}"
