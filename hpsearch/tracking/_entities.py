"""A trial's values as MLflow's entities: parameters, tags, and the metrics its model links.

MLflow refuses parameter values over 6,000 characters and stores everything as text; a model
logged at a run's step is linked to the run's metrics at that step (rows with its model id).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlflow.entities import Metric, Param, RunTag

from hpsearch.tracking import _tags as T

if TYPE_CHECKING:
    from hpsearch.train import TrainResult

_MAX_PARAM_LENGTH = 6000  # MLflow refuses longer parameter values


def now_ms() -> int:
    return int(time.time() * 1000)


def _param_text(value: Any) -> str:
    """Lists and dicts as JSON ("[256, 128]"), everything else as str()."""
    text = json.dumps(value) if isinstance(value, list | tuple | dict) else str(value)
    return text[:_MAX_PARAM_LENGTH]


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"optimizer_params": {"lr": 0.1}} -> {"optimizer_params.lr": 0.1}."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def trial_params(params: Mapping[str, Any], resolved: Mapping[str, Any]) -> list[Param]:
    """Sampled parameters under their own names, resolved ones under `resolved.<name>`."""
    flat = _flatten(params) | _flatten(resolved, T.RESOLVED_PREFIX)
    return [Param(key, _param_text(value)) for key, value in flat.items()]


def run_tags(values: Mapping[str, Any]) -> list[RunTag]:
    return [RunTag(key, str(value)) for key, value in values.items()]


def final_metrics(
    run_id: str,
    result: TrainResult,
    model_id: str,
    logged: list[tuple[str, float, int]],
    now: int,
) -> tuple[list[Metric], list[Metric]]:
    """(the best epoch's metrics again, linked to the model, and the run's new final metrics).

    The linked ones are `logged`, the very (key, value, timestamp) rows the run has at that
    epoch, so the run's history gains no second row. The new ones are best_val_accuracy (also
    linked to the model) and best_epoch, stamped `now`."""
    best = result.best_epoch
    linked = [
        Metric(key, value, stamp, best, model_id=model_id, run_id=run_id)
        for key, value, stamp in logged
    ]
    new = [
        Metric("best_val_accuracy", result.best_val_accuracy, now, best, model_id=model_id),
        Metric("best_epoch", best, now, 0),
    ]
    return linked, new
