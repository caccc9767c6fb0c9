"""`hpsearch train` and `hpsearch predict`: one model, outside any study."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.data import DATASET_NAMES, is_user_source, load_image_files, load_splits
from hpsearch.errors import UserError
from hpsearch.limits import MAX_EPOCHS, MAX_SEED
from hpsearch.nn import ACTIVATIONS, LOSSES, MAX_DEPTH, MAX_WIDTH, MLP, OPTIMIZERS, save_model
from hpsearch.train import (
    LR_SCHEDULES,
    EpochMetrics,
    TrainConfig,
    train,
)


def _allowed(name: str, value: str, allowed: Any) -> str:
    if value not in allowed:
        raise UserError(f"--{name}: unknown value {value!r}; allowed: {', '.join(sorted(allowed))}")
    return value


def _known_dataset(dataset: str) -> None:
    """A built-in name, or a path to the user's IDX folder or .npz (checked when loaded)."""
    if not is_user_source(dataset):
        _allowed("dataset", dataset, DATASET_NAMES)


def _hidden(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        widths = ()
    if not 1 <= len(widths) <= MAX_DEPTH or any(not 1 <= w <= MAX_WIDTH for w in widths):
        raise UserError(
            f"--hidden: expected 1 to {MAX_DEPTH} comma-separated widths in 1..{MAX_WIDTH}, "
            f"got {text!r}"
        )
    return widths


def _in_range(name: str, value: float, low: float, high: float, *, closed_low: bool) -> None:
    ok = math.isfinite(value) and (value >= low if closed_low else value > low) and value <= high
    if not ok:
        bracket = "[" if closed_low else "("
        raise UserError(f"--{name}: {value} is outside {bracket}{low}, {high}]")


@dataclass(frozen=True)
class TrainRequest:
    dataset: str
    config: TrainConfig
    val_fraction: float
    train_subset: int | None
    split_seed: int = 0  # the validation split's own seed: --seed moves only the training

    @classmethod
    def from_cli(cls, *, dataset: str, hidden: str, activation: str, optimizer: str, lr: float,
                 batch_size: int, l2: float, dropout: float, epochs: int, seed: int, loss: str,
                 lr_schedule: str, val_fraction: float, train_subset: int | None,
                 split_seed: int = 0) -> TrainRequest:  # fmt: skip
        _known_dataset(dataset)
        _allowed("activation", activation, ACTIVATIONS)
        _allowed("optimizer", optimizer, OPTIMIZERS)
        _allowed("loss", loss, LOSSES)
        _allowed("lr-schedule", lr_schedule, LR_SCHEDULES)
        _in_range("lr", lr, 0.0, 10.0, closed_low=False)
        _in_range("batch-size", batch_size, 1, 65536, closed_low=True)
        _in_range("l2", l2, 0.0, 1.0, closed_low=True)
        _in_range("dropout", dropout, 0.0, 0.95, closed_low=True)
        _in_range("epochs", epochs, 1, MAX_EPOCHS, closed_low=True)
        _in_range("seed", seed, 0, MAX_SEED, closed_low=True)
        _in_range("val-fraction", val_fraction, 0.0, 0.5, closed_low=False)
        config = TrainConfig(
            hidden=_hidden(hidden),
            activation=activation,
            optimizer=optimizer,
            optimizer_params={"lr": lr},
            batch_size=batch_size,
            l2=l2,
            dropout=dropout,
            epochs=epochs,
            seed=seed,
            loss=loss,
            lr_schedule=lr_schedule,
        )
        return cls(dataset, config, val_fraction, train_subset, split_seed)


def train_and_save(
    request: TrainRequest,
    out: Path,
    data_dir: Path | None,
    *,
    on_epoch: Callable[[EpochMetrics], None] | None = None,
) -> dict[str, Any]:
    """Train, save the best-epoch model with its learning curves, report val and test accuracy.

    `on_epoch` sees each epoch's metrics (the CLI's progress bar)."""
    splits = load_splits(
        request.dataset,
        data_dir=data_dir,
        val_fraction=request.val_fraction,
        train_subset=request.train_subset,
        seed=request.split_seed,
    )
    started = time.perf_counter()
    callbacks = [] if on_epoch is None else [lambda metrics, model: on_epoch(metrics)]
    result = train(request.config, splits, callbacks)
    seconds = time.perf_counter() - started
    if result.outcome == "diverged":
        raise UserError(f"training diverged at epoch {len(result.history)}: lower --lr")
    out.mkdir(parents=True, exist_ok=True)
    sha256 = save_model(result.model, out)
    from hpsearch.tracking.plots import plot_learning_curves  # matplotlib: `predict` needs none

    plot_learning_curves(result.history, out / "learning_curves.png")
    test_accuracy = float((result.model.predict(splits.x_test) == splits.y_test).mean())
    report = {
        "val_accuracy": result.best_val_accuracy,
        "test_accuracy": test_accuracy,
        "best_epoch": result.best_epoch,
        "epochs": len(result.history),
        "seconds": seconds,
        "samples_per_second": result.samples_per_second,
        "model_sha256": sha256,  # architecture.json + weights.npz
        "dataset_fingerprint": splits.fingerprint(),
        "config": request.config.as_dict(),
        "dataset": request.dataset,
    }
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    split = {"dataset": request.dataset, "val_fraction": request.val_fraction,
             "train_subset": request.train_subset, "seed": request.split_seed,
             "fingerprint": splits.fingerprint()}  # fmt: skip
    (out / SPLIT_FILE).write_text(json.dumps(split, indent=2))
    return report


SPLIT_FILE = "split.json"  # beside the weights: how the validation split was carved
_MAX_SPLIT_BYTES = 4096


def _splits_for(model_ref: str, dataset: str, split: str, data_dir: Path | None) -> Any:
    """The splits to score on: any for `test`; for `val` and `train`, the model's own."""
    if split == "test":
        return load_splits(dataset, data_dir=data_dir)
    stored = _read_split(Path(model_ref) / SPLIT_FILE)
    if stored is None:
        raise UserError(
            f"{model_ref}: no {SPLIT_FILE} (the split it was trained with), so --split {split} "
            "could score rows it trained on; use --split test"
        )
    if stored["dataset"] != dataset:
        raise UserError(f"{model_ref} was trained on {stored['dataset']}, not {dataset}")
    splits = load_splits(dataset, data_dir=data_dir, val_fraction=stored["val_fraction"],
                         train_subset=stored["train_subset"], seed=stored["seed"])  # fmt: skip
    if splits.fingerprint() != stored["fingerprint"]:
        raise UserError(f"{dataset} here differs from the data {model_ref} was trained on")
    return splits


def _read_split(path: Path) -> dict[str, Any] | None:
    """split.json as written by `train_and_save`, checked; None when there is none."""
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        raw = f.read(_MAX_SPLIT_BYTES + 1)
    try:
        d = json.loads(raw) if len(raw) <= _MAX_SPLIT_BYTES else None
    except ValueError:
        d = None
    types: dict[str, Any] = {"dataset": str, "val_fraction": float,
                             "train_subset": (int, type(None)), "seed": int,
                             "fingerprint": str}  # fmt: skip
    if (
        not isinstance(d, dict)
        or set(d) != set(types)
        or not all(isinstance(d[k], t) and not isinstance(d[k], bool) for k, t in types.items())
    ):
        raise UserError(f"{path}: not a split description written by hpsearch train")
    return d


def image_shape(model: MLP) -> tuple[int, int]:
    if model.arch.image_shape is not None:  # trained on h x w images that are not square
        return model.arch.image_shape
    side = math.isqrt(model.arch.input_dim)
    if side * side != model.arch.input_dim:
        raise UserError(f"model input of {model.arch.input_dim} pixels is not a square image")
    return side, side


def predict_command(
    model_ref: str,
    *,
    dataset: str | None,
    split: str,
    images: list[Path] | None,
    data_dir: Path | None,
) -> dict[str, Any]:
    """Accuracy of a model on a dataset split, or its digit for each image."""
    from hpsearch.registry import load_model  # MLflow only for models:/ and runs:/

    if bool(dataset) == bool(images):
        raise UserError("give either --dataset NAME (with --split) or --images FILE...")
    model = load_model(model_ref)
    if images:
        names, blocks = load_image_files(list(images), image_shape(model))
        predictions = model.predict(np.concatenate(blocks)).tolist()
        return {"images": names, "predictions": predictions}  # FILE[i]: image i of an IDX file
    assert dataset is not None
    _known_dataset(dataset)
    _allowed("split", split, ("test", "val", "train"))
    splits = _splits_for(model_ref, dataset, split, data_dir)
    x, y = {"test": (splits.x_test, splits.y_test), "val": (splits.x_val, splits.y_val),
            "train": (splits.x_train, splits.y_train)}[split]  # fmt: skip
    if x.shape[1] != model.arch.input_dim:
        raise UserError(
            f"{dataset} has {x.shape[1]} pixels per image; the model expects {model.arch.input_dim}"
        )
    accuracy = float((model.predict(x) == y).mean())
    return {"dataset": dataset, "split": split, "accuracy": accuracy, "n": len(y)}
