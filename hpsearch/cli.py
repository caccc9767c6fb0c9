"""The `hpsearch` command. Thin: parse, call one function, print. User errors exit 2 in one line.

Each command imports what it runs inside its own body: `hpsearch --help` and a mistyped flag
must not wait for NumPy, Optuna or MLflow to load.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from hpsearch import cli_models, study
from hpsearch.cli_app import (
    DataDir,
    Json,
    Storage,
    Timeout,
    TrackingUri,
    app,
    checked,
    console,
    db_app,
    print_json,
    settings_for,
)
from hpsearch.cli_views import live_status, status_table
from hpsearch.errors import UserError, error_line
from hpsearch.limits import MAX_TRIALS
from hpsearch.places import write_failure
from hpsearch.private_apis import exit_at_once
from hpsearch.settings import get_settings

__all__ = ["app", "cli_models", "main"]  # cli_models: imported to register its commands


@app.command()
def launch(
    study_file: Annotated[Path, typer.Argument(help="A study YAML file (see studies/).")],
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=256,
            help="Worker processes here; 0 only queues the trials. Default: workers x BLAS "
            "threads measured best on this machine (cached).",
        ),
    ] = None,
    n_trials: Annotated[int | None, typer.Option(min=1, max=MAX_TRIALS)] = None,
    timeout: Timeout = None,
    storage: Storage = None,
    tracking_uri: TrackingUri = None,
    allow_changed_config: bool = False,
    no_tracking: Annotated[bool, typer.Option(help="Skip MLflow (engine-only runs).")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create or resume a study and run it with W worker processes to N finished trials."""
    request = study.LaunchRequest(
        study_file, workers, n_trials, timeout, allow_changed_config, data_dir, not no_tracking
    )
    try:
        with live_status(console) as show:
            status = study.launch_study(request, settings_for(storage, tracking_uri), console, show)
    except study.WorkersFailed as exc:  # 2 when the workers hit a user error, else 1
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None
    best = status["best"]
    if best is not None:
        console.print(f"best val_accuracy {best['val_accuracy']:.4f} (trial {best['trial']})")


@app.command()
def worker(
    study_name: str,
    storage: Storage = None,
    tracking_uri: TrackingUri = None,
    timeout: Timeout = None,
    data_dir: DataDir = None,
) -> None:
    """Join a running study from any machine and run its trials until the budget is spent."""
    settings = settings_for(storage, tracking_uri)
    options = study.WorkerOptions(
        study_name,
        settings.optuna_url,
        settings.mlflow_uri,
        settings.artifact_root,
        timeout=timeout,
        data_dir=data_dir or settings.data_dir,
    )
    done = study.run_worker(options)
    console.print(f"worker finished: {done} trial(s) run here")


@app.command()
def status(study_name: str, storage: Storage = None, json_output: Json = False) -> None:
    """Counts by state, the budget and the best trial of one study."""
    settings = settings_for(storage)
    payload = study.study_status(study.open_study(study_name, settings.optuna_url))
    # the parent run: RUNNING while workers run, FINISHED with the summary once they are done
    payload["parent_run"] = study.parent_run_state(settings, study_name)
    if json_output:
        print_json(payload)
    else:
        console.print(status_table(payload))


@app.command()
def studies(json_output: Json = False) -> None:
    """The studies in the catalog, with their launches."""
    from hpsearch.catalog import open_catalog

    with open_catalog(settings_for()) as catalog:
        records = [record.to_dict() for record in catalog.list_studies()]
    if json_output:
        print_json({"studies": records})
        return
    if not records:
        console.print("no studies yet: hpsearch launch studies/quickstart.yaml")
    for record in records:
        console.print(
            f"{record['name']}\t{record['status']}\tlaunches={record['n_launches']}\t"
            f"updated {record['updated_at']}"
        )


@app.command()
def replay(
    study_name: str,
    trial_number: int,
    storage: Storage = None,
    data_dir: DataDir = None,
    json_output: Json = False,
) -> None:
    """Retrain one trial from its stored parameters and seed; compare every epoch's metrics."""
    report = study.replay_trial(
        study_name, trial_number, settings_for(storage).optuna_url, data_dir
    )
    if json_output:
        print_json(report.as_dict())
    else:
        verdict = "reproduced exactly" if report.matches else "DIFFERS from the stored run"
        console.print(f"trial {report.trial}: {report.epochs} epoch(s) {verdict}")
    if not report.matches:
        raise typer.Exit(1)


@app.command()
def ui(
    study: Annotated[str | None, typer.Option(help="Print the URL of this study.")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535)] = None,
    host: str = "127.0.0.1",
    allow_remote: Annotated[
        bool, typer.Option(help="Allow a non-loopback --host (MLflow has no auth by default).")
    ] = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Start the MLflow UI on the study stores; Ctrl-C stops it."""
    from hpsearch.tracking import serve_ui

    serve_ui(
        settings_for(tracking_uri=tracking_uri),
        study_name=study,
        host=host,
        port=port,
        allow_remote=allow_remote,
    )


@app.command()
def dashboard(
    study: Annotated[str | None, typer.Option(help="Open this study's page.")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535)] = None,
) -> None:
    """optuna-dashboard on the study storage (HPSEARCH_STORAGE_URL), on 127.0.0.1 (Ctrl-C)."""
    from hpsearch.study.dashboard import serve_dashboard

    serve_dashboard(settings_for(), study_name=study, port=port, announce=_announce)


def _announce(line: str) -> None:
    print(line, flush=True)  # at once: a test or a script reads the URL from a pipe


@app.command()
def reconcile(
    study_name: str,
    storage: Storage = None,
    tracking_uri: TrackingUri = None,
    force: Annotated[
        bool, typer.Option(help="Fail every RUNNING trial, not only those with a stale heartbeat.")
    ] = False,
    json_output: Json = False,
) -> None:
    """After crashes: fail stale trials (one retry each) and end their MLflow runs KILLED."""
    counts = study.reconcile_study(settings_for(storage, tracking_uri), study_name, force=force)
    if json_output:
        print_json(counts)
    else:
        console.print(", ".join(f"{key}: {value}" for key, value in counts.items()))


@app.command()
def gc(
    study_name: str,
    keep: Annotated[
        int | None,
        typer.Option(min=0, help="Models to keep (the K best); default: the study's keep_models."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only say what would be freed.")] = False,
    storage: Storage = None,
    tracking_uri: TrackingUri = None,
    json_output: Json = False,
) -> None:
    """Free the model artifacts of trials outside the K best; registered models always stay."""
    from hpsearch.study.retention import gc as run_gc

    report = run_gc(settings_for(storage, tracking_uri), study_name, keep, dry_run)
    if json_output:
        print_json(report)
        return
    verb = "would free" if dry_run else "freed"
    console.print(
        f"{study_name}: {verb} {report['models_freed']} model(s), "
        f"{report['bytes_freed'] / 2**20:.1f} MiB; {report['models_kept']} kept "
        f"(the {report['keep']} best, ties included; {report['registered_kept']} registered)"
    )


@db_app.command("upgrade")
def db_upgrade(
    database_url: Annotated[str | None, typer.Option(help="hpsearch catalog URL.")] = None,
    storage: Storage = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Bring hpsearch's, Optuna's and MLflow's schemas to head (idempotent, one migrator)."""
    from hpsearch.catalog import upgrade_all

    settings = checked(
        get_settings(database_url=database_url, storage_url=storage, tracking_uri=tracking_uri)
    )
    for schema, outcome in upgrade_all(settings).items():
        console.print(f"{schema}: {outcome}")


def main() -> NoReturn:
    """The `hpsearch` command: `command()`, then an exit without the interpreter's teardown.

    Freeing the modules of MLflow, pandas, SQLAlchemy and matplotlib object by object took
    about 1.6 s after a 40-trial digits launch had finished (timestamps around main() and the
    process's exit, one run). The atexit handlers
    still run first (logging, multiprocessing's children, MLflow's own); every store hpsearch
    writes is committed and every file closed before a command returns.
    """
    try:
        command()
        code = 0
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    exit_at_once(code)


def command() -> None:
    """The command line, in this process: a UserError is one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False)  # returns 130 when a command was interrupted
    except UserError as exc:
        print(f"error: {error_line(str(exc))}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        code = 130
    except KeyboardInterrupt:
        code = 130
    except typer.exceptions.TyperException as exc:  # usage errors: bad flag, bad value
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if message:
            print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:  # a place that cannot be written (full disk, read-only): one line
        failure = write_failure(exc)
        if failure is None:
            raise
        print(f"error: {error_line(failure)}", file=sys.stderr)
        raise SystemExit(2) from None
    if code == 130:
        print("interrupted", file=sys.stderr)
    if isinstance(code, int) and code:
        raise SystemExit(code)
