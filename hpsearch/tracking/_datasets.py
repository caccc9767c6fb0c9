"""A trial's data as MLflow dataset inputs (the runs table's Dataset column).

Each part a run uses is one input: the dataset's name, a digest, its source, and the context
`training`, `validation` or `test`. MLflow keys a dataset by (name, digest) and keeps one context
per pair, so each part has its own digest: the first 36 hex digits (MLflow's limit) of the
SHA-256 over that part's arrays. The profile carries the whole split's fingerprint (the run's
`hpsearch.dataset_fingerprint` tag), the row count and the image size.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING

import numpy as np
from mlflow.entities import Dataset as MlflowDataset
from mlflow.entities import DatasetInput, InputTag
from mlflow.exceptions import MlflowException

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from hpsearch.data import Splits

CONTEXT_TAG = "mlflow.data.context"
_DIGEST_LENGTH = 36  # MLflow's column width for a dataset digest
PARTS = {"training": ("x_train", "y_train"), "validation": ("x_val", "y_val"),
         "test": ("x_test", "y_test")}  # fmt: skip


def part_digest(x: np.ndarray, y: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in (x, y):
        digest.update(f"{array.dtype.str}:{array.shape};".encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()[:_DIGEST_LENGTH]


def dataset_inputs(splits: Splits, contexts: tuple[str, ...]) -> list[DatasetInput]:
    """One input per context (training, validation, test) of `splits`."""
    return [_input(splits, context) for context in contexts]


def _input(splits: Splits, context: str) -> DatasetInput:
    x, y = (getattr(splits, name) for name in PARTS[context])
    # the JSON of MLflow's LocalArtifactDatasetSource ({"uri"}) or CodeDatasetSource ({"tags"})
    local = "://" in splits.source
    source = {"uri": splits.source} if local else {"tags": {"loader": splits.source}}
    profile = {"fingerprint": splits.fingerprint(), "rows": len(y),
               "image_shape": list(splits.image_shape), "n_classes": splits.n_classes}  # fmt: skip
    dataset = MlflowDataset(
        name=splits.name,
        digest=part_digest(x, y),
        source_type="local" if local else "code",
        source=json.dumps(source),
        profile=json.dumps(profile),
    )
    return DatasetInput(dataset, tags=[InputTag(CONTEXT_TAG, context)])


def log_dataset_inputs(
    client: MlflowClient, run_id: str, splits: Splits, contexts: tuple[str, ...]
) -> None:
    """Link `splits`' parts to the run; retried once, because workers racing to insert the
    same dataset row make all but one fail (a unique violation on PostgreSQL)."""
    inputs = dataset_inputs(splits, contexts)
    try:
        client.log_inputs(run_id, inputs)
    except MlflowException:
        time.sleep(0.1)  # the winner's row is committed by now: the retry only links it
        client.log_inputs(run_id, inputs)
