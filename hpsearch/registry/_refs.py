"""What a model reference may be and what a model folder holds: shared by _load and _fetch."""

from __future__ import annotations

from hpsearch.tracking.flavor import MLP_SUBDIR

MLMODEL = "MLmodel"  # MLflow's description of a model folder
USAGE = (
    "expected models:/NAME@ALIAS, models:/NAME/VERSION, models:/m-ID (a logged model), "
    "runs:/RUN_ID/model or a folder"
)

__all__ = ["MLMODEL", "MLP_SUBDIR", "USAGE"]
