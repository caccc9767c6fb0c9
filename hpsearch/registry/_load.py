"""`load_model(ref)`: an MLP from the registry, a run, or a folder on disk.

A folder loads without importing MLflow (a second or two saved on `hpsearch predict DIR`).
"""

from __future__ import annotations

from pathlib import Path

from hpsearch.errors import UserError
from hpsearch.nn import MLP, read_model_dir
from hpsearch.registry._refs import MLMODEL, MLP_SUBDIR, USAGE


def load_model(ref: str | Path, *, tracking_uri: str | None = None) -> MLP:
    """The trained MLP behind `ref`:

    - models:/NAME@ALIAS, models:/NAME/VERSION, models:/m-ID (a trial's logged model) or
      runs:/RUN_ID/model: downloaded to a temporary folder, weights verified against the
      SHA-256 logged at training;
    - a downloaded model folder (MLmodel + data/mlp/) or a folder of weights.npz and
      architecture.json (`hpsearch train --out`).

    `tracking_uri` defaults to the settings' (MLFLOW_TRACKING_URI or $HPSEARCH_HOME/mlflow.db).
    """
    text = str(ref)
    if text.startswith(("models:/", "runs:/")):
        from hpsearch.registry._fetch import load_registered  # MLflow: only for references

        return load_registered(text, tracking_uri)
    path = Path(ref)
    if (path / MLMODEL).is_file():
        return read_model_dir(path / MLP_SUBDIR)
    if (path / "weights.npz").exists():  # not is_file(): a FIFO there is refused by the loader
        return read_model_dir(path)
    raise UserError(f"no model at {text}: {USAGE}")
