"""hpsearch: hyperparameter search for a from-scratch NumPy MLP.

    import hpsearch
    model = hpsearch.load_model("models:/fashion-mnist@champion")   # or runs:/ID/model, a folder

`load_model` is hpsearch.registry.load_model, loaded on first use: `import hpsearch` (and the
CLI's start-up) must not import MLflow.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import TYPE_CHECKING, Any

__version__ = metadata.version("hpsearch")  # pyproject.toml's, as installed
__all__ = ["__version__", "load_model"]

if TYPE_CHECKING:
    from hpsearch.registry import load_model


def __getattr__(name: str) -> Any:
    if name == "load_model":
        return importlib.import_module("hpsearch.registry").load_model
    raise AttributeError(f"module 'hpsearch' has no attribute {name!r}")
