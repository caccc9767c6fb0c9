"""Tiny studies on `digits`: a few trials of a few epochs on a training subset."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from hpsearch.settings import get_settings
from hpsearch.study.launch import LaunchRequest, launch

TINY_STUDY: dict[str, Any] = {
    "name": "tiny",
    "dataset": {"name": "digits", "val_fraction": 0.2, "train_subset": 300, "seed": 0},
    "epochs": 4,
    "seed": 7,
    "search_space": {
        "lr": {"low": 1e-3, "high": 0.3, "log": True},
        "batch_size": {"choices": [32, 64]},
        "depth": {"low": 1, "high": 2},
        "width": {"low": 8, "high": 32, "log": True},
        "activation": {"choices": ["relu", "tanh"]},
        "optimizer": {"choices": ["sgd", "adam"]},
    },
    "sampler": {"type": "random"},
    "pruner": {"type": "none"},
    "budget": {"n_trials": 4},
}


def write_study(directory: Path, base: dict[str, Any] | None = None, **changes: Any) -> Path:
    """A study file: `base` (TINY_STUDY) with top-level keys replaced by `changes`."""
    study = {**(base or TINY_STUDY), **changes}
    path = directory / f"{study['name']}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def run_launch(path: Path, **options: Any) -> dict[str, Any]:
    """`hpsearch launch` in-process (its workers are real processes)."""
    request = LaunchRequest(path, **options)
    return launch(request, get_settings(), Console(file=io.StringIO()))
