"""`hpsearch replay`: retrain one stored trial and compare its per-epoch metrics exactly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from optuna.trial import FixedTrial, FrozenTrial
from threadpoolctl import threadpool_limits

from hpsearch.errors import UserError
from hpsearch.study import attrs as A
from hpsearch.study.config import load_study_config
from hpsearch.study.objective import REPRODUCED_METRICS, history_attr
from hpsearch.study.space import resolve, suggest
from hpsearch.study.storage import load_existing_study, open_existing_storage
from hpsearch.train import Callback, TrainConfig, train


@dataclass(frozen=True)
class ReplayReport:
    trial: int
    epochs: int
    matches: bool
    stored: list[dict[str, float]]
    replayed: list[dict[str, float]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "trial": self.trial,
            "epochs": self.epochs,
            "reproduced": self.matches,
            "stored": self.stored,
            "replayed": self.replayed,
        }


def _stop_after(epochs: int) -> Callback:
    return lambda metrics, model: metrics.epoch >= epochs


def replay(
    study_name: str, trial_number: int, storage_url: str, data_dir: Path | None = None
) -> ReplayReport:
    study = load_existing_study(study_name, open_existing_storage(storage_url))
    trials = [t for t in study.get_trials(deepcopy=False) if t.number == trial_number]
    if not trials or A.HISTORY not in trials[0].user_attrs:
        raise UserError(f"study {study_name!r} has no finished trial number {trial_number}")
    frozen: FrozenTrial = trials[0]
    config = load_study_config(study)
    seed = int(frozen.user_attrs[A.SEED])
    values = suggest(config.search_space, FixedTrial(frozen.params, frozen.number))
    train_config: TrainConfig = resolve(values, epochs=config.epochs, seed=seed)
    stored = frozen.user_attrs[A.HISTORY]
    splits = config.dataset.load_splits(data_dir)
    threads = frozen.user_attrs.get(A.BLAS_THREADS) or None  # same BLAS split, same sums
    with threadpool_limits(limits=threads):
        result = train(train_config, splits, [_stop_after(len(stored))])
    replayed = history_attr(result)
    return ReplayReport(frozen.number, len(replayed), _same(stored, replayed), stored, replayed)


def _same(stored: list[dict[str, float]], replayed: list[dict[str, float]]) -> bool:
    """Every epoch's metrics equal. A history recorded before the losses were data losses (it
    has no l2_penalty) and train_* were measured in eval mode compares on val_accuracy alone."""
    names = REPRODUCED_METRICS if stored and "l2_penalty" in stored[0] else ("val_accuracy",)
    return len(stored) == len(replayed) and all(
        np.array_equal(a[name], b[name], equal_nan=True)  # a diverged epoch's NaN matches NaN
        for a, b in zip(stored, replayed, strict=True)
        for name in names
    )
