"""hpsearch: hyperparameter search for a from-scratch NumPy MLP."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hpsearch.nn import MLP

__version__ = "0.1.0"


def load_model(ref: str, *, tracking_uri: str | None = None) -> MLP:
    """The trained MLP behind `models:/NAME@champion`, `runs:/ID/model` or a local folder."""
    from hpsearch.registry import load_model as _load

    return _load(ref, tracking_uri=tracking_uri)
