"""The CLI's shared parts: the Typer app, the console, the options several commands take."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from hpsearch.limits import MAX_SEED, MAX_TIMEOUT_SECONDS
from hpsearch.places import check_writable_folder, uses_home
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


def settings_for(storage: str | None = None, tracking_uri: str | None = None) -> Settings:
    return checked(get_settings(storage_url=storage, tracking_uri=tracking_uri))


def checked(settings: Settings) -> Settings:
    """HPSEARCH_HOME must be a writable folder (or creatable) when a store lives there."""
    if uses_home(settings):
        check_writable_folder(settings.home, "HPSEARCH_HOME")
    from hpsearch import stores  # SQLAlchemy's URL parser: only for commands that open stores

    stores.check_url(settings.optuna_url, "the Optuna storage")
    stores.check_url(settings.catalog_url, "the catalog database")
    stores.check_url(settings.mlflow_uri, "the MLflow tracking URI")
    for url, what in ((settings.optuna_url, "the Optuna storage"),
                      (settings.catalog_url, "the catalog database"),
                      (settings.mlflow_uri, "the MLflow store")):  # fmt: skip
        stores.check_sqlite_file(url, what)
    return settings


def print_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, default=str) + "\n")
