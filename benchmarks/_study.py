"""Shared by the study benchmarks: run a study file in a throw-away home, return its trials."""

from __future__ import annotations

import io
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial
from rich.console import Console
from threadpoolctl import threadpool_info

from hpsearch.settings import get_settings
from hpsearch.study.launch import LaunchRequest, launch
from hpsearch.study.storage import open_storage


def run_study(
    study: dict[str, Any], *, workers: int, threads: int | None = None
) -> tuple[list[FrozenTrial], float]:
    """Launch `study` (a study-file mapping) with W workers, no MLflow: (trials, seconds)."""
    with tempfile.TemporaryDirectory() as home:
        os.environ["HPSEARCH_HOME"] = home
        path = Path(home) / "study.yaml"
        path.write_text(yaml.safe_dump(study))
        started = time.perf_counter()
        request = LaunchRequest(path, workers=workers, tracking=False, threads=threads)
        launch(request, get_settings(), Console(file=io.StringIO()))
        seconds = time.perf_counter() - started
        storage = open_storage(get_settings().optuna_url)
        trials = optuna.load_study(study_name=study["name"], storage=storage).get_trials()
    return trials, seconds


def machine_line() -> str:
    """The host, its load and the BLAS kernel: figures from different machines differ."""
    blas = "; ".join(
        f"{i['internal_api']} {i.get('version')} {i.get('architecture')}" for i in threadpool_info()
    )
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"host {platform.node()} ({os.cpu_count()} cores, load {load}); BLAS {blas or 'none'}"
