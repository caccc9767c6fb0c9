"""A pydantic ValidationError of a study file as one line: the field's path and what is wrong.

The study models have no unions (a plain value becomes a fixed range before validation), so an
error's location is the field path itself; only two kinds of error get words of our own.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from hpsearch.errors import shown


def one_line(error: ValidationError, root: type[BaseModel]) -> str:
    """`path: message` of the error that explains most; unknown keys first (a misspelt `hihg`
    also explains the missing `high`)."""
    errors = error.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(first["loc"])
    if first["type"] == "extra_forbidden":
        message = _unknown_key(_model_at(root, loc[:-1]), str(loc[-1]))
    elif first["type"] == "model_type" and (model := _model_at(root, loc)) is not None:
        message = (
            f"expected a mapping {{{', '.join(model.model_fields)}}}, got {shown(first['input'])}"
        )
    else:
        message = str(first["msg"]).removeprefix("Value error, ")
    path = ".".join(_key(part) for part in loc)
    return f"{path}: {message}" if path else message


def _key(part: Any) -> str:
    """One key of a field path, as written; a very long key is cut like any echoed value."""
    text = str(part)
    return text if len(text) <= 60 else shown(text, 60)


def _unknown_key(model: type[BaseModel] | None, key: str) -> str:
    """'unknown key', the keys allowed at that level and the closest one to what was written."""
    if model is None:
        return "unknown key"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(key[:100], allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {hint}allowed: {', '.join(allowed)}"


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose keys are checked at `loc`, found by walking the fields from `root`."""
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    return model
