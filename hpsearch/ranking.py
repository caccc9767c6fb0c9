"""Which trial is best: one rule for `hpsearch status`, the parent run's summary and `best`.

The highest value wins. Ties are common (a digits validation set of 216 images scores in steps
of 1/216): they go to the smaller model, then to the earlier trial.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from hpsearch.nn import Architecture

# trial user attributes the rule reads (written by the study's objective)
N_PARAMS = "n_params"  # weights and biases of the trial's model
HIDDEN = "hidden"  # its hidden widths: trials older than N_PARAMS have only these


def model_size(trial: Any, dims: tuple[int, int] | None = None) -> float:
    """The trial's parameter count; from its widths and `dims` (input_dim, n_classes) for a
    trial that did not record it; infinite when neither is known."""
    recorded = trial.user_attrs.get(N_PARAMS)
    if recorded is not None:
        return float(recorded)
    hidden = trial.user_attrs.get(HIDDEN)
    if not hidden or dims is None:
        return math.inf
    input_dim, n_classes = dims
    return float(Architecture(input_dim, tuple(hidden), n_classes).n_params)


def best_trial(complete: Iterable[Any], dims: tuple[int, int] | None = None) -> Any | None:
    """The best of COMPLETE trials (Optuna FrozenTrials), or None when there is none."""
    scored = [t for t in complete if t.value is not None and not math.isnan(t.value)]
    return min(scored, key=lambda t: (-t.value, model_size(t, dims), t.number), default=None)
