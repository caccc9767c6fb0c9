"""The catalog's study row tells the truth: its status follows the launches, and it records the
fingerprint of the splits the trials train on (both used to be written once and never again)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hpsearch.catalog import open_catalog
from hpsearch.settings import get_settings
from hpsearch.study.config import load_study_file
from study.tiny import run_launch


def _row(name: str) -> tuple[str, str | None]:
    with open_catalog(get_settings()) as catalog:
        record = catalog.get_study(name)
    assert record is not None
    return record.status, record.dataset_fingerprint


def test_status_and_fingerprint_follow_the_launches(study_file: Callable[..., Path]) -> None:
    path = study_file(epochs=2, budget={"n_trials": 2})
    run_launch(path, workers=0, tracking=False)
    assert _row("tiny") == ("queued", None)  # queue only: no dataset was looked at here
    run_launch(path, workers=1, tracking=False)
    config, _ = load_study_file(path)
    assert _row("tiny") == ("finished", config.dataset.load_splits().fingerprint())
