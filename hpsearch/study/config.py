"""Study files (`studies/*.yaml`) as pydantic models: one clear error for any mistake."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from hpsearch.data import DATASET_NAMES, Splits, dataset_dims, is_user_source, load_splits
from hpsearch.errors import UserError, shown
from hpsearch.limits import (
    MAX_EPOCHS,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_STUDY_FILE_BYTES,
    MAX_TIMEOUT_SECONDS,
    MAX_TRIALS,
    read_regular,
)
from hpsearch.study import attrs
from hpsearch.study.config_errors import one_line
from hpsearch.study.ranges import Strict
from hpsearch.study.safe_yaml import YamlRefused, load_yaml
from hpsearch.study.space import SearchSpace, check_enqueued
from hpsearch.train import LR_SCHEDULES

if TYPE_CHECKING:
    import optuna

# SearchSpace and LR_SCHEDULES are named here too: a study file's whole vocabulary in one place.
__all__ = ["LR_SCHEDULES", "DatasetConfig", "SearchSpace", "StudyConfig", "StudyConfigError"]


class StudyConfigError(UserError):
    """A study file that does not validate; the message names the file, the field path and
    the allowed keys, values or rule."""


class DatasetConfig(Strict):
    name: str  # one of hpsearch.data.DATASET_NAMES, or a path to an IDX folder or an .npz
    val_fraction: float = Field(default=0.1, gt=0.0, lt=0.5)
    train_subset: int | None = Field(default=None, ge=10, le=MAX_SAMPLES)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)

    @field_validator("name")
    @classmethod
    def _known_dataset(cls, name: str) -> str:
        if name not in DATASET_NAMES and not is_user_source(name):
            raise ValueError(
                f"unknown dataset {shown(name)}; allowed: {', '.join(DATASET_NAMES)}, or a path "
                "(with a '/') to a folder of IDX files or to an .npz file"
            )
        return name

    def load_splits(self, data_dir: Path | None = None) -> Splits:
        """The study's train/validation/test splits (remembered in-process by hpsearch.data)."""
        return load_splits(
            self.name,
            data_dir=data_dir,
            val_fraction=self.val_fraction,
            train_subset=self.train_subset,
            seed=self.seed,
        )


class ObjectiveConfig(Strict):
    metric: Literal["val_accuracy"] = "val_accuracy"
    direction: Literal["maximize"] = "maximize"


class SamplerConfig(Strict):
    type: Literal["tpe", "random", "cmaes", "gp", "qmc"] = "tpe"
    n_startup_trials: int = Field(default=10, ge=0, le=MAX_TRIALS)
    # tpe: the finished trials it reads per sample (its 25 best and the most recent), so a
    # sample's cost stops growing with the study (study/history.py); null reads them all
    history: int | None = Field(default=1000, ge=50, le=MAX_TRIALS)


class PrunerConfig(Strict):
    type: Literal[
        "hyperband", "successive-halving", "median", "percentile", "threshold", "none"
    ] = "successive-halving"  # ASHA from epoch 1, factor 3: README, "Search" (issue 10)
    min_resource: int = Field(default=1, ge=1, le=MAX_EPOCHS)  # hyperband, successive-halving
    reduction_factor: int = Field(default=3, ge=2, le=MAX_EPOCHS)
    # successive-halving: each rung prunes the first N trials to reach it (Optuna), so with
    # trials run one after another a rung may never fill: README, "Search"
    bootstrap_count: int = Field(default=0, ge=0, le=MAX_TRIALS)
    n_startup_trials: int = Field(default=5, ge=0, le=MAX_TRIALS)  # median, percentile
    n_warmup_steps: int = Field(
        default=1, ge=0, le=MAX_EPOCHS
    )  # median, percentile, threshold: epochs never judged
    percentile: float = Field(default=25.0, gt=0.0, lt=100.0)
    lower: float | None = Field(default=None, ge=0.0, le=1.0)  # threshold: minimum val accuracy
    patience: int | None = Field(default=None, ge=1, le=MAX_EPOCHS)  # wrap in PatientPruner
    # epochs without a new best val accuracy after which a trial ends early, COMPLETE with
    # its best epoch (not pruned: its value stands); any type, `none` included
    early_stop: int | None = Field(default=None, ge=1, le=MAX_EPOCHS)
    # equal best val accuracies so far rank by that epoch's val loss (a small validation set
    # gives many ties, and successive halving promotes every tied trial)
    tie_break: bool = False

    @model_validator(mode="after")
    def _check(self) -> PrunerConfig:
        if self.type == "threshold" and self.lower is None:
            raise ValueError("the threshold pruner needs `lower` (a minimum val_accuracy)")
        return self


class BudgetConfig(Strict):
    n_trials: int = Field(ge=1, le=MAX_TRIALS)
    # seconds; no trial starts after it, nor one expected to end after it, and one still
    # running then stops with its best epoch so far (study/stopping.py)
    timeout: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT_SECONDS)
    target: float | None = Field(default=None, gt=0.0, le=1.0)  # stop at this val accuracy
    # stop after K finished trials without a new best
    patience: int | None = Field(default=None, ge=1, le=MAX_TRIALS)


class WarmStartConfig(Strict):
    """Run the best `top_k` configurations of an earlier study first (study/warm_start.py)."""

    study: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    top_k: int = Field(ge=1, le=MAX_TRIALS)
    storage: str | None = None  # its Optuna storage URL; default: this study's own


class ArtifactsConfig(Strict):
    # model artifacts are kept for the K best complete trials (and any registered version);
    # metrics, params and figures of every trial stay (see hpsearch/study/retention.py)
    keep_models: int = Field(default=10, ge=0, le=1_000_000)


class StudyConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    dataset: DatasetConfig
    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    objective: ObjectiveConfig = ObjectiveConfig()
    search_space: SearchSpace = SearchSpace()
    sampler: SamplerConfig = SamplerConfig()
    pruner: PrunerConfig = PrunerConfig()
    budget: BudgetConfig
    artifacts: ArtifactsConfig = ArtifactsConfig()
    enqueue: list[dict[str, Any]] = Field(default_factory=list)
    warm_start: list[WarmStartConfig] = Field(default_factory=list)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    system_metrics: bool = False  # CPU, memory, disk, network per trial run (MLflow's monitor)

    @model_validator(mode="after")
    def _check_enqueue(self) -> StudyConfig:
        for index, values in enumerate(self.enqueue):
            check_enqueued(self.search_space, values, f"enqueue.{index}")
        return self


def parse_study(text: str, source: str = "<string>") -> StudyConfig:
    """Validate study YAML; a problem raises StudyConfigError naming `source` and the field."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise StudyConfigError(f"{source}: not valid YAML{where}") from None
    except YamlRefused as exc:
        raise StudyConfigError(f"{source}: {exc}") from None
    if not isinstance(raw, dict):
        raise StudyConfigError(f"{source}: expected a mapping of study fields at the top level")
    try:
        return StudyConfig.model_validate(raw)
    except ValidationError as exc:
        raise StudyConfigError(f"{source}: {one_line(exc, StudyConfig)}") from None


def load_study_file(path: Path) -> tuple[StudyConfig, str]:
    """Read and validate a study file. Returns the config and its exact text (kept in stores).

    Only a regular file of at most MAX_STUDY_FILE_BYTES is read (a FIFO, a device or a huge
    file is refused in one line), and only as UTF-8.
    """
    data = read_regular(path, "study file", MAX_STUDY_FILE_BYTES, StudyConfigError)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise StudyConfigError(f"{path}: cannot read study file: {reason}") from None
    return parse_study(text, str(path)), text


def load_study_config(study: optuna.Study) -> StudyConfig:
    """The study file stored with an Optuna study (its exact text, validated again)."""
    return parse_study(study.user_attrs[attrs.CONFIG], f"study {study.study_name!r}")


def study_dims(study: optuna.Study) -> tuple[int, int] | None:
    """(input_dim, n_classes) of the study's dataset, without loading it; None without a file
    or for the user's own data (known only by reading it; trials record their size anyway)."""
    if attrs.CONFIG not in study.user_attrs:
        return None
    name = load_study_config(study).dataset.name
    return None if is_user_source(name) else dataset_dims(name)
