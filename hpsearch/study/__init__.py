"""Studies: a study file -> an Optuna study whose workers train trials -> its status.

    launch_study(LaunchRequest(path, workers=2), settings, console)   # hpsearch launch
    run_worker(WorkerOptions(name, storage_url, tracking_uri))       # hpsearch worker
    study_status(open_study(name, storage_url))                      # hpsearch status
    replay_trial(name, number, storage_url)                          # hpsearch replay
    reconcile_study(settings, name)                                  # hpsearch reconcile

The names load on first use: importing `hpsearch.study.config` (as the registry does) must
not pull in the launcher and its worker processes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> (module, its name there)
_EXPORTS = {
    "LaunchRequest": ("launch", "LaunchRequest"),
    "WorkersFailed": ("launch", "WorkersFailed"),
    "launch_study": ("launch", "launch"),
    "WorkerOptions": ("worker", "WorkerOptions"),
    "run_worker": ("worker", "run_worker"),
    "open_study": ("storage", "open_study"),
    "study_status": ("progress", "study_status"),
    "replay_trial": ("replay", "replay"),
    "reconcile_study": ("reconcile", "reconcile"),
    "parent_run_state": ("reconcile", "parent_run_state"),
    "StudyConfig": ("config", "StudyConfig"),
    "StudyConfigError": ("config", "StudyConfigError"),
    "load_study_file": ("config", "load_study_file"),
}
__all__ = [
    "LaunchRequest",
    "StudyConfig",
    "StudyConfigError",
    "WorkerOptions",
    "WorkersFailed",
    "launch_study",
    "load_study_file",
    "open_study",
    "parent_run_state",
    "reconcile_study",
    "replay_trial",
    "run_worker",
    "study_status",
]

if TYPE_CHECKING:
    from hpsearch.study.config import StudyConfig, StudyConfigError, load_study_file
    from hpsearch.study.launch import LaunchRequest, WorkersFailed
    from hpsearch.study.launch import launch as launch_study
    from hpsearch.study.progress import study_status
    from hpsearch.study.reconcile import parent_run_state
    from hpsearch.study.reconcile import reconcile as reconcile_study
    from hpsearch.study.replay import replay as replay_trial
    from hpsearch.study.storage import open_study
    from hpsearch.study.worker import WorkerOptions, run_worker


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hpsearch.study' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    return getattr(importlib.import_module(f"hpsearch.study.{module}"), attribute)
