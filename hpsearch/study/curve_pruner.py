"""A learning-curve pruner: stop a trial that, extrapolated optimistically to its last epoch,
still cannot beat the best finished trial (after Domhan et al. 2015, with one saturating family).

A trial reports the best val accuracy so far after each epoch, so its curve never falls. For
each exponent c of a small grid the curve is fit by least squares with the power law

    y(t) = a - b * t**-c        (b >= 0: rising towards the asymptote a)

and predicted at the study's last epoch. The trial is pruned when the most optimistic of those
predictions (and its best so far) stays below the best COMPLETE value. Small exponents saturate
slowly, so the grid's smallest one is the optimist that protects slow starters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

EXPONENTS = (0.5, 1.0, 2.0)
MIN_POINTS = 3  # a two-parameter fit needs more points than parameters to mean anything


def extrapolate(curve: Sequence[float], horizon: int) -> float:
    """The most optimistic prediction of `curve` (epochs 1..n) at epoch `horizon`, at most 1."""
    y = np.asarray(curve, dtype=float)
    t = np.arange(1, len(y) + 1, dtype=float)
    predictions = [float(y.max())]
    for c in EXPONENTS:
        x = t**-c
        design = np.stack([np.ones_like(x), -x], axis=1)
        (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
        if b >= 0:  # a flat or rising fit; a falling one has nothing to extrapolate
            predictions.append(float(a - b * horizon**-c))
    return min(1.0, max(predictions))


class LearningCurvePruner(optuna.pruners.BasePruner):
    """Prunes after `min_epochs` once `n_startup_trials` trials are COMPLETE (see the module)."""

    def __init__(self, horizon: int, min_epochs: int, n_startup_trials: int) -> None:
        self.horizon = horizon
        self.min_epochs = max(min_epochs, MIN_POINTS)
        self.n_startup_trials = n_startup_trials

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.min_epochs or step >= self.horizon:
            return False
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        values = [t.value for t in complete if t.value is not None]
        if len(values) < max(self.n_startup_trials, 1):
            return False
        curve = [trial.intermediate_values[s] for s in sorted(trial.intermediate_values)]
        return extrapolate(curve, self.horizon) < max(values)
