"""`hpsearch launch`: create or resume a study, run W worker processes, show live progress."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hpsearch.catalog import refuse_shared_databases, store_urls
from hpsearch.settings import Settings, mask_password
from hpsearch.signals import stop_signals_interrupt
from hpsearch.study.config import StudyConfig, load_study_file, study_dims
from hpsearch.study.pool import check_budget, create_or_resume
from hpsearch.study.processes import (
    WorkersFailed,
    check_exit_codes,
    start_workers,
    stop_workers,
    watch_workers,
)
from hpsearch.study.progress import study_status
from hpsearch.study.reconcile import kill_orphaned_runs
from hpsearch.study.space_changes import check_resumed_space
from hpsearch.study.storage import open_storage, probe_storage
from hpsearch.study.threads import ThreadChoice, usable_cores
from hpsearch.study.threads import choose as choose_threads
from hpsearch.study.warm_start import WarmPoint, warm_points
from hpsearch.study.worker import WorkerOptions, preflight

if TYPE_CHECKING:
    from hpsearch.tracking import StudyTracker  # MLflow: only when tracking

OnStatus = Callable[[dict[str, Any]], None]


class Printer(Protocol):
    """Where the launch's messages go (a rich Console in the CLI)."""

    def print(self, *objects: Any) -> None: ...


@dataclass(frozen=True)
class LaunchRequest:
    study_file: Path
    workers: int | None = 1  # None: workers x threads chosen by measurement (threads.py)
    n_trials: int | None = None
    timeout: float | None = None
    allow_changed_config: bool = False
    data_dir: Path | None = None
    tracking: bool = True
    threads: int | None = None  # BLAS threads per worker; None: from the measurement


def _data_dir(request: LaunchRequest, settings: Settings) -> Path | None:
    return request.data_dir or settings.data_dir  # the flag, else $HPSEARCH_DATA_DIR


def _worker_options(
    request: LaunchRequest, choice: ThreadChoice, config: StudyConfig, settings: Settings
) -> list[WorkerOptions]:
    return [
        WorkerOptions(
            study_name=config.name,
            storage_url=settings.optuna_url,
            tracking_uri=settings.mlflow_uri if request.tracking else None,
            artifact_root=settings.artifact_root,
            blas_threads=choice.threads,
            threads_choice=choice.describe(),
            worker_index=index,
            timeout=request.timeout or config.budget.timeout,  # the flag, else the study file
            data_dir=_data_dir(request, settings),
            summarise=False,  # launch summarises once its workers are gone
        )
        for index in range(choice.workers)
    ]


def launch(
    request: LaunchRequest,
    settings: Settings,
    console: Printer,
    on_status: OnStatus | None = None,
) -> dict[str, Any]:
    """Run the study to its budget. Returns the final status.

    `console` gets the launch's messages; `on_status`, the study's status every second while
    the workers run (the CLI's live table).

    Raises KeyboardInterrupt on Ctrl-C or SIGTERM (after stopping the workers and ending the
    launch in the catalog), WorkersFailed when a worker process ended with an error.
    """
    with stop_signals_interrupt():  # `kill` or `docker stop` must clean up as Ctrl-C does
        return _launch(request, settings, console, on_status)


def _launch(
    request: LaunchRequest, settings: Settings, console: Printer, on_status: OnStatus | None
) -> dict[str, Any]:
    config, text = load_study_file(request.study_file)  # a bad file stops here: nothing written
    n_trials = request.n_trials or config.budget.n_trials
    probe_storage(settings.optuna_url)  # a bad or unreachable URL: refused before any write
    refuse_shared_databases(store_urls(settings))  # two schemas in one database clash
    if request.tracking:
        from hpsearch.tracking.probe import probe_tracking_uri  # without MLflow

        probe_tracking_uri(settings.mlflow_uri)
    check_resumed_space(config, settings.optuna_url)  # --allow-changed-config has its limits
    fingerprint = None
    if request.workers != 0:  # what our workers need; queue-only leaves that to workers elsewhere
        fingerprint = preflight(config, _data_dir(request, settings))
    check_budget(settings.optuna_url, config.name, n_trials)  # a lower budget than already run
    warm = warm_points(config, settings.optuna_url)  # an unknown source study: before any write
    settings.ensure_home()
    choice = _choose_threads(request.workers, request.threads)
    request = replace(request, workers=choice.workers)
    catalog, launch_id = _record_launch(config, text, request, settings, n_trials, fingerprint)
    exit_status = 1
    try:
        status = _run(request, choice, settings, console, on_status, config, text, (n_trials, warm))
        exit_status = 0
    except KeyboardInterrupt:
        exit_status = 130
        raise
    except WorkersFailed as exc:
        exit_status = exc.exit_code
        raise
    finally:
        catalog.end_launch(launch_id, exit_status)
        catalog.set_status(config.name, _study_status(exit_status, choice.workers))
        catalog.close()
    return status


def _study_status(exit_status: int, workers: int) -> str:
    """What the catalog shows for a study once its launch ended."""
    if exit_status == 0:
        return "finished" if workers else "queued"
    return "stopped" if exit_status == 130 else "failed"


def _choose_threads(workers: int | None, threads: int | None) -> ThreadChoice:
    """Workers x BLAS threads from this machine's measurement (none for a queue-only launch)."""
    if workers == 0:
        return ThreadChoice(0, 0, None)
    if threads is not None:  # set by the caller (benchmarks sweep them): nothing measured
        return ThreadChoice(workers or max(1, usable_cores() // threads), threads, None, "given")
    return choose_threads(workers)


def _run(
    request: LaunchRequest,
    choice: ThreadChoice,
    settings: Settings,
    console: Printer,
    on_status: OnStatus | None,
    config: StudyConfig,
    text: str,
    budget: tuple[int, list[WarmPoint]],
) -> dict[str, Any]:
    n_trials, warm = budget
    storage = open_storage(settings.optuna_url)
    study, added = create_or_resume(config, text, storage, n_trials, warm)
    change = f"{added} trial(s) added" if added >= 0 else f"{-added} queued trial(s) cancelled"
    console.print(
        f"study {config.name}: {change} to reach {n_trials}; "
        f"{choice.workers} worker(s) x {choice.threads} BLAS thread(s) on "
        f"{mask_password(settings.optuna_url)}"
    )
    if request.workers == 0:  # queue only: workers elsewhere (`hpsearch worker`) run the trials
        console.print(f"queued; run trials with: hpsearch worker {config.name} --storage URL")
        return study_status(study)
    tracker: StudyTracker | None = None
    imports: threading.Thread | None = None
    processes: list[Any] = []
    try:
        ready = start_workers(_worker_options(request, choice, config, settings), processes)
        # the experiment and the parent run, while the workers start: they only find them
        tracker = _tracker(config.name, settings) if request.tracking else None
        ready.set()
        if tracker is not None:
            imports = threading.Thread(target=_summary_imports, name="summary-imports", daemon=True)
            imports.start()
        watch_workers(processes, partial(_report, on_status, study))
    finally:
        stop_workers(processes)
        if imports is not None:  # the summary must not import half-imported modules
            imports.join()
        if tracker is not None:
            _summarise(tracker, study, settings, console)
    check_exit_codes(processes)
    return study_status(study)


def _report(on_status: OnStatus | None, study: Any) -> None:
    if on_status is not None:
        on_status(study_status(study))


def _record_launch(
    config: StudyConfig,
    text: str,
    request: LaunchRequest,
    settings: Settings,
    n_trials: int,
    fingerprint: str | None,
) -> tuple[Any, int]:
    """The catalog refuses a changed config (unless allowed) before any other store is touched."""
    from hpsearch.catalog import open_catalog  # SQLAlchemy models: after the checks

    catalog = open_catalog(settings)
    try:
        catalog.register_study(
            config.name,
            text,
            dataset_fingerprint=fingerprint,
            storage_url=settings.optuna_url,
            allow_changed=request.allow_changed_config,
        )
        workers = request.workers or 0
        launch_id = catalog.start_launch(config.name, workers=workers, n_trials=n_trials)
        catalog.set_status(config.name, "running")
        return catalog, launch_id
    except BaseException:
        catalog.close()
        raise


def _tracker(name: str, settings: Settings) -> StudyTracker:
    from hpsearch.tracking import StudyTracker  # MLflow: only when tracking

    return StudyTracker(name, settings.mlflow_uri, settings.artifact_root)


def _summary_imports() -> None:
    """Import what the summary draws with (matplotlib, Optuna's plots: about a second) while
    the workers run, on a core the waiting launcher leaves idle, not after the last trial."""
    from hpsearch.tracking import _summary  # matplotlib: only when tracking
    from hpsearch.tracking.plots import save_figure  # noqa: F401 - matplotlib set up our way first

    _summary.plots()


def _summarise(tracker: StudyTracker, study: Any, settings: Settings, console: Printer) -> None:
    """The study summary on the parent run; a failure here must not hide the study's outcome."""
    from hpsearch.catalog import open_catalog  # SQLAlchemy models: after the checks

    with open_catalog(settings) as catalog:
        catalog.set_experiment_id(study.study_name, tracker.experiment_id)
    try:
        kill_orphaned_runs(study, tracker)  # the workers are gone: launch is the last one out
        tracker.write_summary(study, study_dims(study))
    except Exception as exc:
        console.print(f"warning: the study summary was not written: {type(exc).__name__}: {exc}")
