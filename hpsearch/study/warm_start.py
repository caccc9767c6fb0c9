"""Warm starts: `warm_start: [{study: NAME, top_k: K, storage: URL?}]` in a study file.

A new study first runs the best K configurations of earlier studies (after its own fixed
trials), read from the same storage or from `storage`. The earlier study may have searched
another dataset or another space: each of its trials is rebuilt from that study's own file
(hpsearch keeps it on the study) and checked against this study's space; a configuration
outside it, or one already queued or tried here, is skipped for the next best. Each trial
enqueued is tagged with where it came from (user attribute WARM_START_ATTR, and the MLflow tag
of the same name).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FixedTrial, FrozenTrial, TrialState

from hpsearch.errors import UserError
from hpsearch.settings import mask_password
from hpsearch.study import attrs as A
from hpsearch.study.config import StudyConfig, WarmStartConfig, parse_study
from hpsearch.study.space import enqueue_params, project, suggest
from hpsearch.study.storage import open_existing_storage

WARM_START_ATTR = A.WARM_START  # "STUDY#TRIAL" (on STORAGE, when not this one)


@dataclass(frozen=True)
class WarmPoint:
    params: dict[str, Any]  # Optuna parameters in this study's space
    origin: str  # what WARM_START_ATTR says


def warm_points(config: StudyConfig, storage_url: str) -> list[WarmPoint]:
    """Every warm start's best configurations, in order, translated to this study's space.

    Raises UserError (one line) when a source study or its storage cannot be read. Reads
    only: `launch` calls it before it writes anything.
    """
    points: list[WarmPoint] = []
    fixed = [enqueue_params(config.search_space, values) for values in config.enqueue]
    for index, source in enumerate(config.warm_start):
        where = f"warm_start.{index}"
        trials, source_config = _read_source(source, storage_url, where)
        taken = fixed + [point.params for point in points]
        points += _best(trials, source_config, config, source, taken)
    return points


def _read_source(
    source: WarmStartConfig, storage_url: str, where: str
) -> tuple[list[FrozenTrial], StudyConfig]:
    url = source.storage or storage_url
    storage = open_existing_storage(url)
    try:
        study = optuna.load_study(study_name=source.study, storage=storage)
    except KeyError:
        raise UserError(f"{where}: no study {source.study!r} in {mask_password(url)}") from None
    text = study.user_attrs.get(A.CONFIG)
    if text is None:
        raise UserError(f"{where}: study {source.study!r} was not made by hpsearch launch")
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return trials, parse_study(text, f"study {source.study!r}")


def _best(
    trials: list[FrozenTrial],
    source_config: StudyConfig,
    config: StudyConfig,
    source: WarmStartConfig,
    taken: list[dict[str, Any]],
) -> list[WarmPoint]:
    """The top_k best trials that fit this study's space and are not `taken` (this study's
    fixed points, earlier warm starts' points)."""
    ranked = sorted(trials, key=lambda t: (-(t.value or 0.0), t.number))
    chosen: list[WarmPoint] = []
    for trial in ranked:
        if len(chosen) == source.top_k:
            break
        params = _translate(trial, source_config, config)
        if params is None or params in taken:
            continue
        taken.append(params)
        where = f" on {mask_password(source.storage)}" if source.storage else ""
        chosen.append(WarmPoint(params, f"{source.study}#{trial.number}{where}"))
    return chosen


def _translate(
    trial: FrozenTrial, source_config: StudyConfig, config: StudyConfig
) -> dict[str, Any] | None:
    """The trial's configuration as this study's Optuna parameters; None if outside its space."""
    values = suggest(source_config.search_space, FixedTrial(trial.params, trial.number))
    return project(config.search_space, values)


def unseen(points: Sequence[WarmPoint], study: optuna.Study) -> list[WarmPoint]:
    """The points no trial of `study` (fixed, queued, run) already has: none runs twice."""
    # a queued trial's values are its fixed_params until a worker runs it
    tried = [t.params or t.system_attrs.get("fixed_params") for t in study.get_trials()]
    return [point for point in points if point.params not in tried]
