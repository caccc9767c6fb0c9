"""The study summary on the parent run: best value, counts by state, Optuna's plots, trials.csv."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpsearch.tracking._tags import TRIALS_CSV
from hpsearch.trial_counts import count

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)


def state_counts(study: optuna.Study) -> dict[str, float]:
    """{"n_complete": 3.0, "n_pruned": 1.0, ...}: every state (n_fail: every FAIL row)."""
    c = count(study.get_trials(deepcopy=False))
    fail_rows = c.failed + c.retried + c.cancelled
    return {"n_complete": float(c.complete), "n_pruned": float(c.pruned),
            "n_fail": float(fail_rows), "n_running": float(c.running),
            "n_waiting": float(c.waiting)}  # fmt: skip


def plots() -> dict[str, Callable[..., Any]]:
    """The two figures the MLflow UI cannot draw from what the trials logged: the best value so
    far by trial, and the parameters' importances. (Its chart view already draws parallel
    coordinates of params and metrics, and every run's val_accuracy by epoch; drawing those
    here took about a second per study.) PED-ANOVA, not Optuna's default fANOVA: it needs no
    scikit-learn forest (importing and fitting one cost seconds per summary) and it measures
    what a search wants, which parameters separate the best trials from the rest."""
    from optuna.importance import PedAnovaImportanceEvaluator  # optional parts: summary only
    from optuna.visualization import matplotlib as vis

    def importances(study: optuna.Study) -> Any:
        return vis.plot_param_importances(study, evaluator=PedAnovaImportanceEvaluator())

    return {
        "optimization_history.png": vis.plot_optimization_history,
        "param_importances.png": importances,
    }


def write_summary_files(study: optuna.Study, folder: Path) -> list[str]:
    """Write trials.csv and the PNGs that can be drawn; return the names written."""

    from hpsearch.tracking.plots import save_figure  # matplotlib: only for the summary

    written = []
    study.trials_dataframe().to_csv(folder / TRIALS_CSV, index=False)
    written.append(TRIALS_CSV)
    n_complete = state_counts(study)["n_complete"]
    for name, plot in plots().items():
        if name == "param_importances.png" and n_complete < 2:
            continue  # importances need at least two finished trials to compare
        try:
            with warnings.catch_warnings():
                # "experimental backend", "singular ylim": noise about plots of tiny studies
                warnings.simplefilter("ignore")
                save_figure(plot(study), folder / name)
            written.append(name)
        except Exception as exc:  # a plot is a nicety: never fail a launch over one
            log.warning("skipped %s: %s: %s", name, type(exc).__name__, exc)
    return written
