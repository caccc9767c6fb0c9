"""Study files (`studies/*.yaml`) as pydantic models: one clear error for any mistake."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hpsearch.errors import UserError

ACTIVATIONS = ("relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
DATASETS = ("digits", "mnist", "fashion-mnist")
LOSSES = ("cross_entropy", "mse")
LR_SCHEDULES = ("constant", "cosine")  # hpsearch.train.LR_SCHEDULES (a test keeps them equal)


class StudyConfigError(UserError):
    """A study file that does not validate; the message names the file and the field path."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FloatRange(Strict):
    """A float searched in [low, high]; `log` for log-uniform; `zero` adds an explicit 0 option."""

    low: float
    high: float
    log: bool = False
    zero: bool = False

    @model_validator(mode="after")
    def _check(self) -> FloatRange:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low >= self.high:
            raise ValueError(f"needs low < high, got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range must stay above zero, got low={self.low}")
        return self

    def contains(self, value: Any) -> bool:
        if self.zero and value == 0:
            return True
        return isinstance(value, int | float) and self.low <= value <= self.high


class IntRange(Strict):
    """An integer searched in [low, high]; `log` for log-uniform."""

    low: int
    high: int
    log: bool = False

    @model_validator(mode="after")
    def _check(self) -> IntRange:
        if self.low >= self.high:
            raise ValueError(f"needs low < high, got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range must stay above zero, got low={self.low}")
        return self

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high


class Choice(Strict):
    choices: list[Any] = Field(min_length=1)

    def contains(self, value: Any) -> bool:
        return value in self.choices


def _check_choices(field: str, value: Any, allowed: tuple[str, ...]) -> None:
    values = value.choices if isinstance(value, Choice) else [value]
    for item in values:
        if item not in allowed:
            raise ValueError(f"{field}: unknown choice {item!r}; allowed: {', '.join(allowed)}")


class SearchSpace(Strict):
    """What each trial samples. Any parameter may be a fixed value instead of a range/choice."""

    lr: FloatRange | float = FloatRange(low=1e-4, high=0.5, log=True)
    batch_size: Choice | int = Choice(choices=[32, 64, 128, 256])
    depth: IntRange | int = IntRange(low=1, high=3)
    width: IntRange | int = IntRange(low=32, high=512, log=True)
    per_layer_width: bool = False  # True: one width per layer (width_1..width_depth)
    activation: Choice | str = Choice(choices=["relu", "tanh", "gelu"])
    l2: FloatRange | float = FloatRange(low=1e-6, high=1e-2, log=True, zero=True)
    optimizer: Choice | str = Choice(choices=["sgd", "momentum", "adam"])
    momentum: FloatRange | float = FloatRange(low=0.5, high=0.99)  # momentum, nesterov
    rho: FloatRange | float = FloatRange(low=0.8, high=0.99)  # rmsprop's decay
    beta1: FloatRange | float = 0.9  # adam, adamw
    beta2: FloatRange | float = 0.999  # adam, adamw
    weight_decay: FloatRange | float = 1e-2  # adamw
    dropout: FloatRange | float = 0.0
    loss: Choice | str = "cross_entropy"
    lr_schedule: Choice | str = "constant"  # or cosine: annealed over the study's epochs

    @model_validator(mode="after")
    def _check(self) -> SearchSpace:
        _check_choices("activation", self.activation, ACTIVATIONS)
        _check_choices("optimizer", self.optimizer, OPTIMIZERS)
        _check_choices("loss", self.loss, LOSSES)
        _check_choices("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        depth = self.depth
        low, high = (depth.low, depth.high) if isinstance(depth, IntRange) else (depth, depth)
        if low < 1 or high > 4:
            raise ValueError(f"depth must stay within 1..4, got {low}..{high}")
        sizes = (
            self.batch_size.choices if isinstance(self.batch_size, Choice) else [self.batch_size]
        )
        if any(not isinstance(size, int) or size < 1 for size in sizes):
            raise ValueError(f"batch_size must be positive integers, got {sizes}")
        return self


class DatasetConfig(Strict):
    name: Literal["digits", "mnist", "fashion-mnist"]
    val_fraction: float = Field(default=0.1, gt=0.0, lt=0.5)
    train_subset: int | None = Field(default=None, ge=10)
    seed: int = 0


class ObjectiveConfig(Strict):
    metric: Literal["val_accuracy"] = "val_accuracy"
    direction: Literal["maximize"] = "maximize"


class SamplerConfig(Strict):
    type: Literal["tpe", "random", "cmaes", "gp", "qmc"] = "tpe"
    n_startup_trials: int = Field(default=10, ge=0)


class PrunerConfig(Strict):
    type: Literal[
        "hyperband", "successive-halving", "median", "percentile", "threshold", "none"
    ] = "hyperband"
    min_resource: int = Field(default=1, ge=1)  # hyperband, successive-halving
    reduction_factor: int = Field(default=3, ge=2)
    n_startup_trials: int = Field(default=5, ge=0)  # median, percentile
    n_warmup_steps: int = Field(default=1, ge=0)
    percentile: float = Field(default=25.0, gt=0.0, lt=100.0)
    lower: float | None = Field(default=None, ge=0.0, le=1.0)  # threshold: minimum val accuracy
    patience: int | None = Field(default=None, ge=1)  # wrap in PatientPruner

    @model_validator(mode="after")
    def _check(self) -> PrunerConfig:
        if self.type == "threshold" and self.lower is None:
            raise ValueError("the threshold pruner needs `lower` (a minimum val_accuracy)")
        return self


class BudgetConfig(Strict):
    n_trials: int = Field(ge=1, le=100_000)
    timeout: float | None = Field(default=None, gt=0)


class StudyConfig(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    dataset: DatasetConfig
    epochs: int = Field(ge=1, le=1000)
    objective: ObjectiveConfig = ObjectiveConfig()
    search_space: SearchSpace = SearchSpace()
    sampler: SamplerConfig = SamplerConfig()
    pruner: PrunerConfig = PrunerConfig()
    budget: BudgetConfig
    enqueue: list[dict[str, Any]] = Field(default_factory=list)
    seed: int = 0

    @model_validator(mode="after")
    def _check_enqueue(self) -> StudyConfig:
        from hpsearch.study.space import check_enqueued  # the space knows its parameter names

        for index, values in enumerate(self.enqueue):
            check_enqueued(self.search_space, values, f"enqueue.{index}")
        return self


# Errors that only say "this branch of a union did not match": reported only when alone.
_BRANCH_MISMATCH = {
    "float_type",
    "float_parsing",
    "int_type",
    "int_parsing",
    "string_type",
    "bool_type",
    "bool_parsing",
    "model_type",
    "model_attributes_type",
    "int_from_float",
}
_UNION_TAGS = {"FloatRange", "IntRange", "Choice", "float", "int", "str", "bool"}


def _format(error: ValidationError) -> str:
    errors = error.errors()
    first = next((e for e in errors if e["type"] not in _BRANCH_MISMATCH), errors[0])
    parts = [str(part) for part in first["loc"] if part not in _UNION_TAGS]
    path = ".".join(parts)
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "literal_error":
        message = first["msg"]
    return f"{path}: {message}" if path else message


def parse_study(text: str, source: str = "<string>") -> StudyConfig:
    """Validate study YAML; a problem raises StudyConfigError naming `source` and the field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise StudyConfigError(f"{source}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise StudyConfigError(f"{source}: expected a mapping of study fields at the top level")
    try:
        return StudyConfig.model_validate(raw)
    except ValidationError as exc:
        raise StudyConfigError(f"{source}: {_format(exc)}") from None


def load_study_file(path: Path) -> tuple[StudyConfig, str]:
    """Read and validate a study file. Returns the config and its exact text (kept in stores)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StudyConfigError(f"{path}: cannot read study file: {reason}") from None
    return parse_study(text, str(path)), text


def config_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
