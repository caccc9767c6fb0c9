"""Worker entry points that fail for real, for tests that swap them into `launch`.

`launch` starts its workers with the spawn method, which pickles the target by module and name:
these live in an importable module, not in a test file, so the child processes can find them.
"""

from __future__ import annotations

import dataclasses
import os
import signal

from hpsearch.study.worker import WorkerOptions, worker_process


def first_loses_its_study(options: WorkerOptions) -> None:
    """Worker 0 looks for a study that is not there (a user error only it sees); others work."""
    if options.worker_index == 0:
        options = dataclasses.replace(options, study_name="gone")
    worker_process(options)


def loses_its_study(options: WorkerOptions) -> None:
    worker_process(dataclasses.replace(options, study_name="gone"))


def killed(options: WorkerOptions) -> None:
    """What the out-of-memory killer does: SIGKILL, no chance to say anything."""
    os.kill(os.getpid(), signal.SIGKILL)
