"""The `hpsearch` command. Thin: parse, call one function, print. User errors exit 2 in one line.

Each command imports what it runs inside its own body: `hpsearch --help` and a mistyped flag
must not wait for NumPy, Optuna or MLflow to load.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from hpsearch import study
from hpsearch.cli_views import epoch_bar, live_status, status_table
from hpsearch.errors import UserError, error_line
from hpsearch.limits import MAX_SEED, MAX_TIMEOUT_SECONDS, MAX_TRIALS
from hpsearch.settings import Settings, get_settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Hyperparameter search for a from-scratch NumPy MLP: Optuna studies, MLflow runs.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database schemas of all three stores.")
app.add_typer(db_app, name="db")
console = Console()

Storage = Annotated[
    str | None, typer.Option("--storage", help="Optuna storage URL (default: SQLite in home).")
]
TrackingUri = Annotated[
    str | None, typer.Option("--tracking-uri", help="MLflow tracking URI (default: SQLite).")
]
Json = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")]
# Stated limits (hpsearch.limits), checked by the parser before anything runs or is written.
Seed = Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed of the weights and batches.")]
Timeout = Annotated[
    float | None, typer.Option(min=1, max=MAX_TIMEOUT_SECONDS, help="Seconds; no new trial after.")
]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Folder with the IDX files.")]


def _settings(storage: str | None = None, tracking_uri: str | None = None) -> Settings:
    return get_settings(storage_url=storage, tracking_uri=tracking_uri)


def _print_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, default=str) + "\n")


@app.command()
def train(
    dataset: Annotated[str, typer.Option(help="digits, mnist or fashion-mnist")],
    out: Annotated[Path, typer.Option(help="Folder for the model and its plot.")],
    hidden: Annotated[str, typer.Option(help="Widths of the hidden layers, e.g. 256,128")] = "256",
    activation: str = "relu",
    optimizer: str = "adam",
    lr: float = 1e-3,
    batch_size: int = 128,
    l2: float = 0.0,
    dropout: float = 0.0,
    epochs: int = 20,
    seed: Seed = 0,
    loss: str = "cross_entropy",
    lr_schedule: Annotated[str, typer.Option(help="constant or cosine")] = "constant",
    val_fraction: float = 0.1,
    train_subset: Annotated[int | None, typer.Option(min=10)] = None,
    split_seed: Annotated[
        int,
        typer.Option(
            min=0, max=MAX_SEED, help="Seed of the validation split (and subset); --seed leaves it."
        ),
    ] = 0,
    data_dir: DataDir = None,
    json_output: Json = False,
) -> None:
    """Train one MLP, save it, print validation and test accuracy."""
    from hpsearch.standalone import TrainRequest, train_and_save

    request = TrainRequest.from_cli(
        dataset=dataset,
        hidden=hidden,
        activation=activation,
        optimizer=optimizer,
        lr=lr,
        batch_size=batch_size,
        l2=l2,
        dropout=dropout,
        epochs=epochs,
        seed=seed,
        loss=loss,
        lr_schedule=lr_schedule,
        val_fraction=val_fraction,
        train_subset=train_subset,
        split_seed=split_seed,
    )
    with epoch_bar(request.config.epochs, shown=not json_output) as on_epoch:
        report = train_and_save(request, out, data_dir, on_epoch=on_epoch)
    if json_output:
        _print_json(report)
    else:
        console.print(
            f"val_accuracy {report['val_accuracy']:.4f}  "
            f"test_accuracy {report['test_accuracy']:.4f}"
            f"  ({report['epochs']} epochs, {report['seconds']:.1f} s) -> {out}"
        )


@app.command()
def predict(
    model: Annotated[
        str, typer.Argument(help="A model folder, models:/NAME@ALIAS or runs:/ID/model")
    ],
    files: Annotated[
        list[Path] | None, typer.Argument(help="With --images: image files (PNG, JPEG, IDX).")
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Evaluate on this dataset.")] = None,
    split: Annotated[str, typer.Option(help="test, val or train")] = "test",
    # a flag, and the files as arguments: `--images a.png b.png` (an option takes one value)
    images: Annotated[bool, typer.Option("--images", help="Predict the FILES given.")] = False,
    data_dir: DataDir = None,
    json_output: Json = False,
) -> None:
    """Accuracy on a dataset split, or one predicted digit per image (--images FILE...)."""
    from hpsearch.standalone import predict_command

    if bool(files) != images:
        raise UserError("image files go with --images: hpsearch predict MODEL --images FILE...")
    report = predict_command(model, dataset=dataset, split=split, images=files, data_dir=data_dir)
    if json_output:
        _print_json(report)
    elif "accuracy" in report:
        console.print(
            f"{report['split']} accuracy {report['accuracy']:.4f} ({report['n']} samples)"
        )
    else:
        for path, label in zip(report["images"], report["predictions"], strict=True):
            # one line per image, as written: no wrapping, no markup in file names
            console.print(f"{path}\t{label}", soft_wrap=True, markup=False, highlight=False)


@app.command()
def launch(
    study_file: Annotated[Path, typer.Argument(help="A study YAML file (see studies/).")],
    workers: Annotated[
        int, typer.Option(min=0, max=256, help="Worker processes here; 0 only queues the trials.")
    ] = 1,
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
            status = study.launch_study(request, _settings(storage, tracking_uri), console, show)
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
    settings = _settings(storage, tracking_uri)
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
    payload = study.study_status(study.open_study(study_name, _settings(storage).optuna_url))
    if json_output:
        _print_json(payload)
    else:
        console.print(status_table(payload))


@app.command()
def studies(json_output: Json = False) -> None:
    """The studies in the catalog, with their launches."""
    from hpsearch.catalog import open_catalog

    with open_catalog(_settings()) as catalog:
        records = [record.to_dict() for record in catalog.list_studies()]
    if json_output:
        _print_json({"studies": records})
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
    report = study.replay_trial(study_name, trial_number, _settings(storage).optuna_url, data_dir)
    if json_output:
        _print_json(report.as_dict())
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
        _settings(tracking_uri=tracking_uri),
        study_name=study,
        host=host,
        port=port,
        allow_remote=allow_remote,
    )


@app.command()
def best(
    study_name: str,
    out: Annotated[
        Path | None, typer.Option(help="Download the model into this new folder.")
    ] = None,
    no_register: Annotated[bool, typer.Option(help="Skip the Model Registry.")] = False,
    force: Annotated[
        bool, typer.Option(help="Move the champion alias even if not better.")
    ] = False,
    storage: Storage = None,
    tracking_uri: TrackingUri = None,
    json_output: Json = False,
) -> None:
    """Take the best trial: test it once, register it as NAME@champion, optionally download it."""
    from hpsearch.registry import best as take_best

    report = take_best(
        _settings(storage, tracking_uri), study_name, out=out, register=not no_register, force=force
    )
    if json_output:
        _print_json({key: value for key, value in report.items() if key != "message"})
        return
    console.print(
        f"trial {report['trial']}: val {report['val_accuracy']:.4f}, "
        f"test {report['test_accuracy']:.4f}, {report['model_uri']}"
    )
    console.print(report["message"])
    if report["path"]:
        console.print(f"model downloaded to {report['path']}")


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
    counts = study.reconcile_study(_settings(storage, tracking_uri), study_name, force=force)
    if json_output:
        _print_json(counts)
    else:
        console.print(", ".join(f"{key}: {value}" for key, value in counts.items()))


@db_app.command("upgrade")
def db_upgrade(
    database_url: Annotated[str | None, typer.Option(help="hpsearch catalog URL.")] = None,
    storage: Storage = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Bring hpsearch's, Optuna's and MLflow's schemas to head (idempotent, one migrator)."""
    from hpsearch.catalog import upgrade_all

    settings = get_settings(
        database_url=database_url, storage_url=storage, tracking_uri=tracking_uri
    )
    for schema, outcome in upgrade_all(settings).items():
        console.print(f"{schema}: {outcome}")


def main() -> None:
    """Console entry point: a UserError is one line on stderr and exit code 2."""
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
    if code == 130:
        print("interrupted", file=sys.stderr)
    if isinstance(code, int) and code:
        raise SystemExit(code)
