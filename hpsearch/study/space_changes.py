"""Which search-space changes an existing study can take (`launch --allow-changed-config`).

Optuna keeps, per parameter name, the kind of distribution the study's trials used, its log
flag, and for a choice its exact list: a new trial asking for `activation` among other choices,
or for `lr` on a log scale where it was linear, fails inside Optuna ("CategoricalDistribution
does not support dynamic value space"), every time. Such a change is refused before anything is
written; ranges may move, parameters may become fixed or searched.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import sqlalchemy as sa
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    IntDistribution,
    check_distribution_compatibility,
)

from hpsearch.errors import UserError, shown
from hpsearch.study.config import StudyConfig
from hpsearch.study.space import distributions


class UnhonourableChange(UserError):
    """A changed study file whose search space the existing study's trials cannot follow."""


def used_distributions(study: optuna.Study) -> dict[str, BaseDistribution]:
    """The distribution of each parameter name, as the study's trials recorded it."""
    used: dict[str, BaseDistribution] = {}
    for trial in study.get_trials(deepcopy=False):
        for name, distribution in trial.distributions.items():
            used.setdefault(name, distribution)
    return used


def refuse_unhonourable_changes(config: StudyConfig, study: optuna.Study) -> None:
    """UnhonourableChange naming the first parameter Optuna could not sample any more."""
    used = used_distributions(study)
    for name, new in distributions(config.search_space).items():
        old = used.get(name)
        if old is None:
            continue
        try:
            check_distribution_compatibility(old, new)
        except ValueError:
            raise UnhonourableChange(
                f"study {config.name!r}: search_space.{_field(name)} cannot change from "
                f"{_describe(old)} to {_describe(new)} in an existing study (Optuna keeps one "
                "distribution per parameter): keep it, or launch the new space under a new name"
            ) from None


def _field(name: str) -> str:
    """The study-file field behind an Optuna parameter name (width_2 -> width)."""
    base = name.removesuffix("_enabled")
    return "width" if base.startswith("width_") else base


def _describe(distribution: BaseDistribution) -> str:
    if isinstance(distribution, CategoricalDistribution):
        return f"choices {shown(list(distribution.choices), 120)}"
    kind = "integer" if isinstance(distribution, IntDistribution) else "float"
    scale = "log" if getattr(distribution, "log", False) else "linear"
    return f"a {scale} {kind} range"


def check_resumed_space(config: StudyConfig, storage_url: str) -> None:
    """For `launch`, before any write: the study named in `config`, if it exists already, must
    be able to sample the file's search space. Creates nothing (a missing SQLite file means a
    new study)."""
    from hpsearch.study.storage import open_storage  # the storage module imports the worker's

    parsed = sa.make_url(storage_url)  # launch's probe_storage has parsed it already
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return
    try:
        study = optuna.load_study(study_name=config.name, storage=open_storage(storage_url))
    except KeyError:  # a new study
        return
    refuse_unhonourable_changes(config, study)
