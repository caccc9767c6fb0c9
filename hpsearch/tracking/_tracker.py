"""StudyTracker: every Optuna trial an MLflow child run under one parent run per study.

Only MlflowClient with explicit run ids: the fluent API keeps one process-global active run,
which would force workers (and threads) to take turns. Each call below is one request to the
store, so many workers log to one store in parallel without a lock of ours.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow.entities import Metric
from optuna.trial import TrialState

from hpsearch import stores
from hpsearch.private_apis import link_model_metrics
from hpsearch.ranking import best_trial
from hpsearch.tracking import _tags as T
from hpsearch.tracking._datasets import log_dataset_inputs
from hpsearch.tracking._entities import final_metrics, now_ms, run_tags, trial_params
from hpsearch.tracking._epochs import EpochLog
from hpsearch.tracking._provenance import provenance_tags
from hpsearch.tracking._readable import NOTE, champion_line, study_description, trial_run_name
from hpsearch.tracking._store import (
    experiment_artifact_location,
    get_or_create_experiment,
    get_or_create_parent_run,
    open_client,
)
from hpsearch.tracking._summary import state_counts, write_summary_files
from hpsearch.tracking._system import SystemWatch
from hpsearch.tracking.flavor import log_trial_model

if TYPE_CHECKING:
    import optuna

    from hpsearch.data import Splits
    from hpsearch.nn import MLP
    from hpsearch.train import EpochMetrics, TrainResult

_INPUT_EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class _Started:
    """What a trial's run was started with: the model logged at its end repeats it."""

    trial_number: str  # as the run's tag has it
    params: dict[str, str]


class StudyTracker:
    """Logs one Optuna study to MLflow: experiment = study, parent run = study, child run = trial.

    Args:
        study_name: also the experiment's name.
        tracking_uri: sqlite:///..., postgresql://... or http(s)://... (a tracking server).
        artifact_location: artifact root for a new experiment on a database store (a folder per
            study is made under it); a tracking server chooses its own, so it is ignored there.
    """

    def __init__(
        self, study_name: str, tracking_uri: str, artifact_location: str | None = None
    ) -> None:
        self.study_name = study_name
        self.tracking_uri = tracking_uri
        self.client = open_client(tracking_uri)
        location = None
        if artifact_location is not None and not stores.is_tracking_server(tracking_uri):
            location = experiment_artifact_location(artifact_location, study_name)
        experiment = get_or_create_experiment(self.client, study_name, location)
        self.experiment_id: str = experiment.experiment_id
        self.parent_run_id: str = get_or_create_parent_run(
            self.client, self.experiment_id, study_name
        )
        self._undescribed: dict[int, str] = {}  # trial number -> run created, not yet described
        self._started: dict[str, _Started] = {}  # run id -> what started it, runs started here
        self._epochs: dict[str, EpochLog] = {}  # run id -> its epochs, those not sent yet
        self._system = SystemWatch(tracking_uri)

    # -- a trial starts -------------------------------------------------------------------

    def start_trial(
        self,
        trial_number: int,
        params: Mapping[str, Any],
        resolved: Mapping[str, Any],
        *,
        seed: int,
        dataset_fingerprint: str,
        trial_id: int | None = None,
        splits: Splits | None = None,
        warm_start: str | None = None,
    ) -> str:
        """Create the trial's child run (RUNNING, visible at once); return its run id.

        With `splits`, its training and validation parts are logged as the run's dataset inputs;
        `warm_start`: the earlier study's trial this one repeats, as a tag.
        """
        # a retry after the description below failed reuses the run the first attempt made,
        # instead of leaving that one RUNNING with no trial to end it
        run_id = self._undescribed.get(trial_number) or self._create_trial_run(
            trial_number, resolved
        )
        self._undescribed[trial_number] = run_id
        tags = provenance_tags() | {
            T.STUDY_NAME: self.study_name,
            T.TRIAL_NUMBER: trial_number,
            T.DATASET_FINGERPRINT: dataset_fingerprint,
            T.SEED: seed,
        }
        if trial_id is not None:
            tags[T.TRIAL_ID] = trial_id
        if warm_start is not None:
            tags[T.WARM_START] = warm_start
        run_params = trial_params(params, resolved)
        self.client.log_batch(run_id, params=run_params, tags=run_tags(tags))
        if splits is not None:
            log_dataset_inputs(self.client, run_id, splits, ("training", "validation"))
        del self._undescribed[trial_number]
        self._started[run_id] = _Started(str(trial_number), {p.key: p.value for p in run_params})
        return run_id

    def _create_trial_run(self, trial_number: int, resolved: Mapping[str, Any]) -> str:
        # the link to the parent goes in with the run itself, so the UI never shows an orphan
        run = self.client.create_run(
            self.experiment_id,
            run_name=trial_run_name(trial_number, resolved),
            tags={T.PARENT_RUN_ID: self.parent_run_id, T.ROLE: T.ROLE_TRIAL},
        )
        return str(run.info.run_id)

    def watch_system(self, run_id: str) -> None:
        """Log the machine's CPU, memory, disk and network use until the trial's run ends."""
        self._system.start(run_id)

    def epoch_callback(self, run_id: str) -> Callable[[EpochMetrics, MLP], None]:
        """A trainer callback logging one epoch's five metrics, step = epoch: sent with the
        epochs waiting at most a second (`_epochs`), and whatever still waits with the run's end.
        """
        epochs = self._epoch_log(run_id)

        def log_epoch(metrics: EpochMetrics, model: MLP) -> None:
            now = now_ms()  # the rows of a retried epoch are those of its first call
            rows = [
                Metric(key, value, now, metrics.epoch) for key, value in metrics.as_dict().items()
            ]
            epochs.add(metrics.epoch, rows)

        return log_epoch

    # -- a trial ends: exactly one of these ----------------------------------------------

    def finish_complete(self, run_id: str, result: TrainResult, splits: Splits) -> None:
        """Validation confusion matrix, the model as the run's logged model, best_val_accuracy
        and the best epoch's metrics linked to it; FINISHED last, so a FINISHED run always has
        its model. No learning-curve PNG: the MLflow UI draws the per-epoch metrics logged
        already."""
        self._system.stop(run_id)
        self._log_confusion_matrix(run_id, result, splits)
        started = self._started.get(run_id) or self._ask_store(run_id)
        model_tags = {T.STUDY_NAME: self.study_name, T.TRIAL_NUMBER: started.trial_number}
        logged = log_trial_model(
            self.client,
            run_id,
            result.model,
            splits.x_val[:_INPUT_EXAMPLE_ROWS],
            experiment_id=self.experiment_id,
            step=result.best_epoch,
            params=started.params,
            tags=model_tags,
        )
        tags = {
            T.STATE: "complete",
            T.OUTCOME: result.outcome,
            T.WEIGHTS_SHA256: logged.weights_sha256,
            T.MODEL_ID: logged.model_id,
        }
        # the best epoch's rows, linked to the model: sent with it if they still wait, else
        # linked in place (the run's history gains no second row either way)
        epochs, best = self._epoch_log(run_id), result.best_epoch
        held, waiting = epochs.at(best)
        rows = [(m.key, m.value, m.timestamp) for m in held] or self._stored_rows(run_id, result)
        now = epochs.final_stamp()
        linked, metrics = final_metrics(run_id, result, logged.model_id, rows, now)
        if waiting or not link_model_metrics(self.client, run_id, self.experiment_id, linked):
            metrics = [*linked, *metrics]
        batch = [*epochs.waiting(except_step=best), *metrics]
        self.client.log_batch(run_id, metrics=batch, tags=run_tags(tags))
        epochs.stored()
        self._terminate(run_id, "FINISHED")

    def _log_confusion_matrix(self, run_id: str, result: TrainResult, splits: Splits) -> None:
        # Pillow: only for a finished trial
        from hpsearch.tracking.confusion import plot_validation

        with tempfile.TemporaryDirectory(prefix="hpsearch-run-") as scratch:
            predicted = result.model.predict(splits.x_val)
            path = Path(scratch, T.CONFUSION_MATRIX)
            plot_validation(predicted, splits.y_val, splits.n_classes, path)
            self.client.log_artifacts(run_id, scratch)

    def _stored_rows(self, run_id: str, result: TrainResult) -> list[tuple[str, float, int]]:
        """(key, value, timestamp) of the best epoch's metrics as the store has them (another
        worker's tracker logged them: a run this worker resumed)."""
        best = result.best_epoch
        history = (self.client.get_metric_history(run_id, k) for k in result.history[0].as_dict())
        return [(m.key, m.value, m.timestamp) for ms in history for m in ms if m.step == best]

    def _ask_store(self, run_id: str) -> _Started:
        """What started a run that another tracker started (a worker that resumed it)."""
        data = self.client.get_run(run_id).data
        return _Started(data.tags.get(T.TRIAL_NUMBER, ""), dict(data.params))

    def finish_pruned(self, run_id: str, step: int, reason: str) -> None:
        """Pruned by the pruner or stopped for divergence: KILLED, with the step and reason."""
        tags = {T.STATE: "pruned", T.PRUNED_STEP: step, T.PRUNED_REASON: reason}
        self._end(run_id, "KILLED", tags)

    def finish_failed(self, run_id: str, traceback_text: str) -> None:
        """The trial raised: its traceback as error.txt, FAILED (even if the upload fails too)."""
        try:
            self.client.log_text(run_id, traceback_text, T.ERROR_FILE)
        finally:
            self._end(run_id, "FAILED", {T.STATE: "failed"})

    def finish_killed(self, run_id: str, reason: str) -> None:
        """The worker was stopped (SIGINT/SIGTERM): KILLED, never left RUNNING."""
        self._end(run_id, "KILLED", {T.STATE: "killed", T.KILLED_REASON: reason})

    def _end(self, run_id: str, status: str, tags: Mapping[str, Any]) -> None:
        self._system.stop(run_id)
        epochs = self._epoch_log(run_id)
        self.client.log_batch(run_id, metrics=epochs.waiting(), tags=run_tags(tags))
        epochs.stored()
        self._terminate(run_id, status)

    def _epoch_log(self, run_id: str) -> EpochLog:
        return self._epochs.setdefault(run_id, EpochLog(self.client, run_id))

    def _terminate(self, run_id: str, status: str) -> None:
        self.client.set_terminated(run_id, status)
        self._forget(run_id)

    def _forget(self, run_id: str) -> None:
        self._started.pop(run_id, None)
        self._epochs.pop(run_id, None)

    # -- the study ------------------------------------------------------------------------

    def write_summary(self, study: optuna.Study, dims: tuple[int, int] | None = None) -> None:
        """Refresh the parent run: best value and trial, counts by state, plots, trials.csv.

        The best trial by hpsearch.ranking's rule; `dims` (input_dim, n_classes) sizes trials
        that recorded only their widths."""
        counts = state_counts(study)
        step = int(counts["n_complete"] + counts["n_pruned"] + counts["n_fail"])
        now = now_ms()
        metrics = [Metric(key, value, now, step) for key, value in counts.items()]
        tags: dict[str, Any] = {T.STUDY_NAME: study.study_name}
        best = best_trial(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), dims)
        tags[NOTE] = self._description(study, counts, best)
        if best is not None and best.value is not None:
            metrics.append(Metric("best_val_accuracy", best.value, now, step))
            metrics.append(Metric("best_trial_number", best.number, now, step))
            best_run = self.trial_run_id(best.number)
            if best_run is not None:
                tags[T.BEST_RUN_ID] = best_run
        with tempfile.TemporaryDirectory(prefix="hpsearch-summary-") as scratch:
            write_summary_files(study, Path(scratch))
            self.client.log_artifacts(self.parent_run_id, scratch)
        self.client.log_batch(self.parent_run_id, metrics=metrics, tags=run_tags(tags))
        self.client.set_terminated(self.parent_run_id, "FINISHED")

    def describe(self, study: optuna.Study, dims: tuple[int, int] | None = None) -> None:
        """Refresh only the parent run's markdown description (after `hpsearch best`)."""
        best = best_trial(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), dims)
        self.client.set_tag(self.parent_run_id, NOTE, self._description(study, None, best))

    def _description(self, study: optuna.Study, counts: Any, best: Any) -> str:
        counts = counts or state_counts(study)
        return study_description(study, counts, best, champion_line(self.client, self.study_name))

    def parent_status(self) -> str:
        """RUNNING until a summary ends it FINISHED (MLflow's run status)."""
        return str(self.client.get_run(self.parent_run_id).info.status)

    def trial_run_id(self, trial_number: int) -> str | None:
        """The child run of trial `trial_number` (a FINISHED one first), or None."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=(
                f"tags.`{T.PARENT_RUN_ID}` = '{self.parent_run_id}' "
                f"and tags.`{T.TRIAL_NUMBER}` = '{trial_number}'"
            ),
            max_results=10,
        )
        runs.sort(key=lambda run: (run.info.status != "FINISHED", run.info.start_time))
        return runs[0].info.run_id if runs else None
