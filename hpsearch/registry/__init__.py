"""Best trial -> registered model -> download -> load.

    report = best(settings, "fashion-mnist", out=Path("model"))   # hpsearch best
    model = load_model("models:/fashion-mnist@champion")           # an hpsearch.nn.MLP

Optuna and MLflow are imported on first use, so loading a model folder stays quick.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpsearch.registry._load import load_model
from hpsearch.registry._paths import check_artifact_path, check_out, safe_destination
from hpsearch.registry._tags import ALIAS

if TYPE_CHECKING:
    from hpsearch.settings import Settings

__all__ = ["ALIAS", "best", "check_artifact_path", "check_out", "load_model", "safe_destination"]


def best(
    settings: Settings,
    study_name: str,
    *,
    out: Path | None,
    register: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Register (and with `out`, download) the best trial of a study; return the JSON report.

    See hpsearch.registry._best.best.
    """
    from hpsearch.registry._best import best as run_best  # Optuna and MLflow: only for `best`

    return run_best(settings, study_name, out=out, register=register, force=force)
