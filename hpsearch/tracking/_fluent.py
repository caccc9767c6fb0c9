"""MLflow's fluent API, for the one call that exists only there: `mlflow.pyfunc.log_model`.

The fluent API keeps one active run per thread and one tracking URI per process; the rest of
hpsearch uses MlflowClient with explicit run ids and URIs. `trial_run` makes a trial's run the
active one on the tracker's store for the length of a block, and puts the process-wide URI (and
MLFLOW_TRACKING_URI, which `mlflow.set_tracking_uri` also writes) back as they were afterwards.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import mlflow

from hpsearch import private_apis

_URI_VARIABLE = "MLFLOW_TRACKING_URI"


@contextlib.contextmanager
def tracking_uri(uri: str) -> Iterator[None]:
    """The process-wide tracking URI is `uri` inside the block.

    MLflow's own record of an explicitly set URI (None when only the environment or the default
    applies) is private: the public getter cannot tell those apart.
    """
    previous = private_apis.mlflow_explicit_tracking_uri()
    variable = os.environ.get(_URI_VARIABLE)
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None: back to the default
        if variable is None:
            os.environ.pop(_URI_VARIABLE, None)
        else:
            os.environ[_URI_VARIABLE] = variable


@contextlib.contextmanager
def trial_run(uri: str, run_id: str) -> Iterator[None]:
    """`run_id` (RUNNING) as the active run; it ends FINISHED with the block, FAILED on an error.

    Ending it is MLflow's start_run context: that is how a fluent run ends, and a trial's run
    with its model is complete, so FINISHED is right.
    """
    with tracking_uri(uri), mlflow.start_run(run_id=run_id):
        yield
