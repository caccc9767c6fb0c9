"""Study files (`studies/*.yaml`) as pydantic models: one clear error for any mistake."""

from __future__ import annotations

import difflib
import hashlib
import math
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hpsearch.data import DATASET_NAMES
from hpsearch.errors import UserError
from hpsearch.nn import ACTIVATIONS, LOSSES, MAX_DEPTH, OPTIMIZERS
from hpsearch.train import LR_SCHEDULES

# The search-space fields that name things, and the names each allows: the engine's and the
# trainer's own registries, so a name added there is accepted in study files at once.
CHOICES: dict[str, tuple[str, ...]] = {
    "activation": tuple(ACTIVATIONS),
    "optimizer": tuple(OPTIMIZERS),
    "loss": tuple(LOSSES),
    "lr_schedule": tuple(LR_SCHEDULES),
}


class StudyConfigError(UserError):
    """A study file that does not validate; the message names the file, the field path and
    the allowed keys, values or rule."""


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
            raise ValueError(f"needs finite low < high, got low={self.low}, high={self.high}")
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


def _check_choices(value: Any, allowed: tuple[str, ...]) -> None:
    values = value.choices if isinstance(value, Choice) else [value]
    for item in values:
        if item not in allowed:
            raise ValueError(f"unknown choice {item!r}; allowed: {', '.join(allowed)}")


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
    momentum: FloatRange | float = FloatRange(low=0.5, high=0.99)  # momentum, nesterov, rmsprop
    rho: FloatRange | float = FloatRange(low=0.8, high=0.99)  # rmsprop's decay
    beta1: FloatRange | float = 0.9  # adam, adamw
    beta2: FloatRange | float = 0.999  # adam, adamw
    weight_decay: FloatRange | float = 1e-2  # adamw
    dropout: FloatRange | float = 0.0
    loss: Choice | str = "cross_entropy"
    lr_schedule: Choice | str = "constant"  # or cosine: annealed over the study's epochs

    # A field validator, not the model's: the error's path then ends at the field itself.
    @field_validator(*CHOICES)
    @classmethod
    def _known_choices(cls, value: Any, info: ValidationInfo) -> Any:
        _check_choices(value, CHOICES[str(info.field_name)])
        return value

    @model_validator(mode="after")
    def _check(self) -> SearchSpace:
        depth = self.depth
        low, high = (depth.low, depth.high) if isinstance(depth, IntRange) else (depth, depth)
        if low < 1 or high > MAX_DEPTH:
            raise ValueError(f"depth must stay within 1..{MAX_DEPTH}, got {low}..{high}")
        sizes = (
            self.batch_size.choices if isinstance(self.batch_size, Choice) else [self.batch_size]
        )
        if any(not isinstance(size, int) or size < 1 for size in sizes):
            raise ValueError(f"batch_size must be positive integers, got {sizes}")
        return self


class DatasetConfig(Strict):
    name: str  # one of hpsearch.data.DATASET_NAMES
    val_fraction: float = Field(default=0.1, gt=0.0, lt=0.5)
    train_subset: int | None = Field(default=None, ge=10)
    seed: int = 0

    @field_validator("name")
    @classmethod
    def _known_dataset(cls, name: str) -> str:
        if name not in DATASET_NAMES:
            raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(DATASET_NAMES)}")
        return name


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
    n_warmup_steps: int = Field(default=1, ge=0)  # median, percentile: epochs never judged
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
# Union branches as pydantic names them in an error's location; they are not part of the path.
_BRANCH_MODELS: dict[str, type[BaseModel]] = {m.__name__: m for m in (FloatRange, IntRange, Choice)}
_SCALARS = {"float": "a number", "int": "an integer", "str": "a name", "bool": "true or false"}


def _branch(part: Any) -> str | None:
    """The union branch a location part names: 'Choice' or 'function-after[_check(), IntRange]'."""
    name = part.rsplit(", ", 1)[-1].rstrip("]") if isinstance(part, str) else None
    return name if name in _BRANCH_MODELS or name in _SCALARS else None


def _path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if _branch(part) is None)


def _format(error: ValidationError) -> str:
    errors = error.errors()
    # An unknown key first: a misspelt `hihg` also explains the missing `high`.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), None) or next(
        (e for e in errors if e["type"] not in _BRANCH_MISMATCH), errors[0]
    )
    path = _path(first["loc"])
    if first["type"] == "extra_forbidden":
        message = _unknown_key(first["loc"])
    elif first["type"] in _BRANCH_MISMATCH:
        message = _expected_forms([e for e in errors if _path(e["loc"]) == path], first)
    else:
        message = first["msg"].removeprefix("Value error, ")
    return f"{path}: {message}" if path else message


def _unknown_key(loc: tuple[Any, ...]) -> str:
    """'unknown key', the keys allowed at that level and the closest one to what was written."""
    model = _model_at(loc[:-1])
    if model is None:
        return "unknown key"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {hint}allowed: {', '.join(allowed)}"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose keys are checked at `loc`, found by walking StudyConfig's fields."""
    model: type[BaseModel] | None = StudyConfig
    for part in loc:
        branch = _branch(part)
        if branch is not None:
            model = _BRANCH_MODELS.get(branch)
        elif model is not None and part in model.model_fields:
            model = _single_model(model.model_fields[part].annotation)
        else:
            return None
    return model


def _single_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a field typed `Model` or `Model | scalar`; None for anything else."""
    options = get_args(annotation) or (annotation,)
    models = [t for t in options if isinstance(t, type) and issubclass(t, BaseModel)]
    return models[0] if len(models) == 1 else None


def _expected_forms(errors: list[Any], first: Any) -> str:
    """A value of the wrong type: name every form its field takes (a union has several)."""
    forms = dict.fromkeys(filter(None, (_form(e["loc"]) for e in errors)))
    if not forms:
        return str(first["msg"])
    return f"expected {' or '.join(forms)}, got {first['input']!r}"


def _form(loc: tuple[Any, ...]) -> str | None:
    """'a number', or 'a mapping {low, high, log, zero}' for a model; None if neither."""
    branch = _branch(loc[-1])
    if branch in _SCALARS:
        return _SCALARS[branch]
    model = _model_at(loc)
    return "a mapping {" + ", ".join(model.model_fields) + "}" if model else None


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
