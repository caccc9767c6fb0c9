"""The kinds of search-space parameter: float and integer ranges, and choices.

A plain value in a study file becomes a fixed parameter of the same kind (low == high, or one
choice), so a fixed value passes the same checks as a range, and the study file's model has no
scalar-or-range unions. `Bound` is what the engine accepts for a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from hpsearch.errors import shown


@dataclass(frozen=True)
class Bound:
    """The values the engine accepts for one number: both ends of a range, or a fixed value."""

    low: float
    high: float
    open_low: bool = False  # lr: above zero, never zero
    open_high: bool = False  # dropout, momentum, the betas: below one

    def holds(self, x: float) -> bool:
        above = x > self.low if self.open_low else x >= self.low
        below = x < self.high if self.open_high else x <= self.high
        return math.isfinite(x) and above and below

    def __str__(self) -> str:
        if isinstance(self.low, int) and isinstance(self.high, int):
            return f"{self.low}..{self.high}"
        left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
        return f"{left}{self.low}, {self.high}{right}"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Param(Strict):
    """A parameter of the space; `fixed` when the study file gave a plain value."""

    _fixed: bool = PrivateAttr(default=False)

    @classmethod
    def at(cls, value: Any) -> Any:
        """The fixed parameter of this kind that always takes `value` (checked by its field)."""
        param = cls.model_construct(**cls._fields_at(value))
        param._fixed = True
        return param

    @classmethod
    def _fields_at(cls, value: Any) -> dict[str, Any]:
        return {"low": value, "high": value}

    @property
    def fixed(self) -> bool:
        return self._fixed

    @property
    def value(self) -> Any:
        """The value of a fixed parameter."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BaseModel):
            return super().__eq__(other)
        return self._fixed and bool(self.value == other)  # a fixed parameter equals its value

    __hash__ = BaseModel.__hash__

    def describe(self) -> str:
        """The value, or what may be sampled: "0.001..0.3", "choices: relu, tanh"."""
        return shown(self.value) if self._fixed else self._span()

    def _span(self) -> str:
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        raise NotImplementedError


class FloatRange(Param):
    """A float searched in [low, high]; `log` for log-uniform; `zero` adds an explicit 0 option."""

    low: float
    high: float
    log: bool = False
    zero: bool = False

    @property
    def value(self) -> Any:
        return self.low

    def _span(self) -> str:
        return f"{self.low}..{self.high}"

    @model_validator(mode="after")
    def _check(self) -> FloatRange:
        if self.fixed:  # low == high; its field checks the value
            return self
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low >= self.high:
            raise ValueError(f"needs finite low < high, got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range must stay above zero, got low={self.low}")
        return self

    def contains(self, value: Any) -> bool:
        if self.zero and value == 0:
            return True
        return isinstance(value, int | float) and self.low <= value <= self.high


class IntRange(Param):
    """An integer searched in [low, high]; `log` for log-uniform."""

    low: int
    high: int
    log: bool = False

    @property
    def value(self) -> Any:
        return self.low

    def _span(self) -> str:
        return f"{self.low}..{self.high}"

    @model_validator(mode="after")
    def _check(self) -> IntRange:
        if self.fixed:
            return self
        if self.low >= self.high:
            raise ValueError(f"needs low < high, got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range must stay above zero, got low={self.low}")
        return self

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high


class Choice(Param):
    choices: list[Any] = Field(min_length=1)

    @classmethod
    def _fields_at(cls, value: Any) -> dict[str, Any]:
        return {"choices": [value]}

    @property
    def value(self) -> Any:
        return self.choices[0]

    def _span(self) -> str:
        return "choices: " + shown(", ".join(map(str, self.choices[:50])))

    def contains(self, value: Any) -> bool:
        return value in self.choices


def _plain(kind: type[Param], form: str, scalar: type) -> BeforeValidator:
    """Turn a plain value (pydantic's lax `scalar`: "1e-3" is a number) into a fixed `kind`;
    refuse, naming both forms, anything that is neither that nor a mapping."""
    adapter: TypeAdapter[Any] = TypeAdapter(scalar)
    keys = ", ".join(kind.model_fields)

    def normalise(value: Any) -> Any:
        if isinstance(value, dict | Param):
            return value
        try:
            return kind.at(adapter.validate_python(value))
        except ValidationError:
            raise ValueError(
                f"expected a mapping {{{keys}}} or {form}, got {shown(value)}"
            ) from None

    return BeforeValidator(normalise)


FloatParam = Annotated[FloatRange, _plain(FloatRange, "a number", float)]
IntParam = Annotated[IntRange, _plain(IntRange, "an integer", int)]
SizeChoice = Annotated[Choice, _plain(Choice, "an integer", int)]
NameChoice = Annotated[Choice, _plain(Choice, "a name", str)]
