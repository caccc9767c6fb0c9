"""What a person reads in the MLflow UI: trial run names and the study's markdown description."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlflow.exceptions import MlflowException

from hpsearch.tracking._tags import CHAMPION_ALIAS

if TYPE_CHECKING:
    import optuna
    from mlflow.tracking import MlflowClient

NOTE = "mlflow.note.content"  # the tag the UI shows (and edits) as a run's description
_STATES = ("complete", "pruned", "fail", "running", "waiting")


def trial_run_name(trial_number: int, resolved: Mapping[str, Any]) -> str:
    """trial 7, two layers of 512, relu, adam -> "t0007 512x2 relu adam" (sorts by trial)."""
    hidden = [int(w) for w in resolved.get("hidden") or []]
    if hidden and len(set(hidden)) == 1:
        widths = f"{hidden[0]}x{len(hidden)}"
    else:
        widths = "-".join(map(str, hidden))
    parts = [f"t{trial_number:04d}", widths, resolved.get("activation"), resolved.get("optimizer")]
    return " ".join(str(part) for part in parts if part)


def study_description(
    study: optuna.Study,
    counts: Mapping[str, float],
    best: optuna.trial.FrozenTrial | None,
    champion: str | None,
) -> str:
    """The parent run's description: best trial and its parameters, counts, the champion."""
    lines = [f"**hpsearch study `{study.study_name}`**, maximizing val_accuracy.", ""]
    lines += ["| " + " | ".join(_STATES) + " |", "|" + "---|" * len(_STATES)]
    lines += ["| " + " | ".join(str(int(counts.get(f"n_{s}", 0))) for s in _STATES) + " |", ""]
    if best is None or best.value is None:
        lines.append("No trial has completed yet.")
    else:
        hidden = best.user_attrs.get("hidden")
        lines.append(f"**Best trial: {best.number}**, val_accuracy **{best.value:.4f}**"
                     + (f", hidden layers {hidden}" if hidden else "") + ".")  # fmt: skip
        lines += ["", "| parameter | value |", "|---|---|"]
        lines += [f"| {name} | {_shown(value)} |" for name, value in sorted(best.params.items())]
    lines.append("")
    lines.append(champion or "No champion registered yet (`hpsearch best` registers one).")
    return "\n".join(lines) + "\n"


def champion_line(client: MlflowClient, study_name: str) -> str | None:
    """One line naming the registered champion of the study (its registered model), or None."""
    try:
        version = client.get_model_version_by_alias(study_name, CHAMPION_ALIAS)
    except MlflowException:  # no registered model, or no alias yet
        return None
    trial = version.tags.get("hpsearch.trial_number", "?")
    return (
        f"**Champion:** `models:/{study_name}@{CHAMPION_ALIAS}` is version {version.version} "
        f"(trial {trial})."
    )


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
