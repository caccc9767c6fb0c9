"""MLflow's fluent API, for the calls that read only the process-wide tracking URI.

The fluent API keeps one active run per thread and one tracking URI per process; the rest of
hpsearch uses MlflowClient with explicit run ids and URIs. `tracking_uri` sets the process-wide
URI for the length of a block, and puts it (and MLFLOW_TRACKING_URI, which
`mlflow.set_tracking_uri` also writes) back as they were afterwards.
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
