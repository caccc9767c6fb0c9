"""Best trial -> registered model -> download -> load. (Loading for now; registering follows.)"""

from __future__ import annotations

from pathlib import Path

from hpsearch.errors import UserError
from hpsearch.nn import MLP
from hpsearch.nn import load_model as load_model_dir


def load_model(ref: str | Path) -> MLP:
    """A trained MLP from a local folder (weights.npz + architecture.json)."""
    path = Path(ref)
    if not path.is_dir():
        raise UserError(f"no model folder at {ref}")
    return load_model_dir(path)
