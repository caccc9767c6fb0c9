"""The training loop: epochs of shuffled mini-batches, per-epoch metrics, callbacks, divergence.

It knows nothing of Optuna or MLflow: pruning and logging plug in as callbacks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hpsearch.data import Splits
from hpsearch.nn import (
    LOSSES,
    MLP,
    Architecture,
    evaluate,
    l2_penalty,
    make_optimizer,
    train_step,
)

Outcome = Literal["completed", "stopped", "diverged"]
# Called after each epoch (a diverged one included) with the metrics and the model; returning
# True stops training.
Callback = Callable[["EpochMetrics", MLP], bool | None]

# Losses are data losses (the L2 penalty is l2_penalty, of the weights at the epoch's end), and
# train_* are measured like val_*: in eval mode after the epoch, on a fixed training subsample.
METRIC_NAMES = (
    "train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_seconds", "l2_penalty",
)  # fmt: skip
TRAIN_EVAL_ROWS = 5000  # rows of the training set evaluated after each epoch (all when fewer)
# constant: the optimizer's lr throughout; cosine: lr * (1 + cos(pi * (epoch-1) / epochs)) / 2,
# set at the start of each epoch (anneals to near zero by the last of `epochs`)
LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 1-based
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    epoch_seconds: float
    l2_penalty: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in METRIC_NAMES}

    @property
    def finite(self) -> bool:
        losses = (self.train_loss, self.val_loss, self.l2_penalty)
        return all(math.isfinite(value) for value in losses)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines one training run; a trial's parameters resolve to one of these."""

    hidden: tuple[int, ...] = (256,)
    activation: str = "relu"
    optimizer: str = "adam"
    optimizer_params: dict[str, float] = field(default_factory=lambda: {"lr": 1e-3})
    batch_size: int = 128
    l2: float = 0.0
    dropout: float = 0.0
    epochs: int = 20
    seed: int = 0
    loss: str = "cross_entropy"
    init: str = "auto"
    dtype: str = "float32"
    lr_schedule: str = "constant"

    @property
    def lr(self) -> float:
        return float(self.optimizer_params["lr"])

    def lr_at(self, epoch: int) -> float:
        """The learning rate of 1-based `epoch` under `lr_schedule`."""
        if self.lr_schedule == "cosine":
            return self.lr * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / self.epochs))
        return self.lr

    def architecture(self, splits: Splits) -> Architecture:
        return Architecture(
            input_dim=splits.input_dim,
            hidden=tuple(self.hidden),
            n_classes=splits.n_classes,
            activation=self.activation,
            dropout=self.dropout,
            init=self.init,
            dtype=self.dtype,
            image_shape=_image_shape(splits),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "hidden": list(self.hidden),
            "activation": self.activation,
            "optimizer": self.optimizer,
            "optimizer_params": dict(self.optimizer_params),
            "batch_size": self.batch_size,
            "l2": self.l2,
            "dropout": self.dropout,
            "epochs": self.epochs,
            "seed": self.seed,
            "loss": self.loss,
            "init": self.init,
            "dtype": self.dtype,
            "lr_schedule": self.lr_schedule,
        }


@dataclass
class TrainResult:
    model: MLP  # holds the weights of the best validation epoch
    history: list[EpochMetrics]
    best_epoch: int  # 0 when no epoch finished with finite metrics
    best_val_accuracy: float
    outcome: Outcome
    samples_per_second: float  # training samples per second of the fastest epoch


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Index arrays of one epoch: a fresh permutation, every sample exactly once."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def _run_epoch(
    model: MLP, optimizer: Any, loss: Any, splits: Splits, config: TrainConfig, rng: Any
) -> tuple[float, float]:
    """One pass over the training set. Returns (running mean data loss, seconds of training)."""
    total_loss, seen = 0.0, 0
    start = time.perf_counter()
    for idx in minibatches(len(splits.y_train), config.batch_size, rng):
        batch_loss, _ = train_step(
            model, optimizer, loss, splits.x_train[idx], splits.y_train[idx], l2=config.l2, rng=rng
        )
        total_loss += batch_loss * len(idx)
        seen += len(idx)
        if not math.isfinite(batch_loss):
            break  # diverged: no point finishing the epoch
    return total_loss / seen, time.perf_counter() - start


def train_eval_rows(splits: Splits, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The training rows train_loss and train_accuracy are measured on, fixed for a whole run.

    Drawn from their own generator, so the training stream is the same as without them.
    """
    n = len(splits.y_train)
    if n <= TRAIN_EVAL_ROWS:
        return splits.x_train, splits.y_train
    rows = np.sort(np.random.default_rng([seed, 1]).choice(n, TRAIN_EVAL_ROWS, replace=False))
    return splits.x_train[rows], splits.y_train[rows]


def _measure(
    model: MLP, loss: Any, splits: Splits, train_rows: tuple[np.ndarray, np.ndarray], l2: float
) -> tuple[float, float, float, float, float]:
    """(train loss, train accuracy, val loss, val accuracy, L2 penalty) of the model as it is."""
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected by the caller
        train_loss, train_acc = evaluate(model, loss, *train_rows)
        val_loss, val_acc = evaluate(model, loss, splits.x_val, splits.y_val)
        return train_loss, train_acc, val_loss, val_acc, l2_penalty(model, l2)


def train(config: TrainConfig, splits: Splits, callbacks: Sequence[Callback] = ()) -> TrainResult:
    """Train an MLP on `splits`, keeping the weights of the best validation epoch."""
    rng = np.random.default_rng(config.seed)
    model = MLP(config.architecture(splits), rng)
    loss = LOSSES[config.loss]()
    optimizer = make_optimizer(config.optimizer, model.parameters(), **config.optimizer_params)
    train_rows = train_eval_rows(splits, config.seed)
    history: list[EpochMetrics] = []
    best_state, best_epoch, best_acc = model.state_dict(), 0, -1.0
    fastest = 0.0
    outcome: Outcome = "completed"
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        optimizer.lr = config.lr_at(epoch)
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected below
            running_loss, train_seconds = _run_epoch(model, optimizer, loss, splits, config, rng)
        fastest = max(fastest, len(splits.y_train) / max(train_seconds, 1e-9))
        train_loss, train_acc, val_loss, val_acc, penalty = _measure(
            model, loss, splits, train_rows, config.l2
        )
        metrics = EpochMetrics(epoch, train_loss, train_acc, val_loss, val_acc,
                               time.perf_counter() - started, penalty)  # fmt: skip
        history.append(metrics)
        if not (metrics.finite and math.isfinite(running_loss)):
            outcome = "diverged"
            # callbacks see the diverged epoch too: the step a trial ends at has its metrics
            for callback in callbacks:
                callback(metrics, model)
            break
        if val_acc > best_acc:
            best_state, best_epoch, best_acc = model.state_dict(), epoch, val_acc
        if any([bool(callback(metrics, model)) for callback in callbacks]):
            outcome = "stopped"
            break
    model.load_state_dict(best_state)
    return TrainResult(model, history, best_epoch, max(best_acc, 0.0), outcome, fastest)


def _image_shape(splits: Splits) -> tuple[int, int] | None:
    """(h, w) for the model's file when the images are not square; None keeps it as before."""
    height, width = splits.image_shape
    if height == width or height * width != splits.input_dim:
        return None
    return (height, width)
