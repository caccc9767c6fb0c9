"""`hpsearch dashboard`: optuna-dashboard on the study storage, on 127.0.0.1 only.

The dashboard runs in this process on a storage object opened here from the settings
(HPSEARCH_STORAGE_URL or the embedded default), so the URL, password and all, is never on a
command line: not this one (the command has no --storage flag) and not a child's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hpsearch.errors import UserError
from hpsearch.settings import mask_password
from hpsearch.study.storage import load_existing_study, open_existing_storage
from hpsearch.tracking.ui import free_port

if TYPE_CHECKING:
    from collections.abc import Callable

    from hpsearch.settings import Settings

HOST = "127.0.0.1"  # the dashboard has no authentication: loopback only, like `hpsearch ui`


def dashboard_url(port: int, study_id: int | None) -> str:
    base = f"http://{HOST}:{port}/dashboard"
    return f"{base}/studies/{study_id}" if study_id is not None else base


def serve_dashboard(
    settings: Settings,
    *,
    study_name: str | None = None,
    port: int | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve until Ctrl-C; `announce` gets the URL (of the study's page with `study_name`)."""
    try:
        from optuna_dashboard import run_server  # an optional extra: hpsearch[dashboard]
    except ImportError:
        raise UserError(
            "optuna-dashboard is not installed: pip install 'hpsearch[dashboard]'"
        ) from None
    storage = open_existing_storage(settings.optuna_url)
    study_id = None
    if study_name is not None:
        study_id = load_existing_study(study_name, storage)._study_id
    port = port or free_port(HOST)
    announce(f"Optuna dashboard: {dashboard_url(port, study_id)}")
    announce(f"storage: {mask_password(settings.optuna_url)} (Ctrl-C stops it)")
    logging.getLogger("optuna_dashboard").setLevel(logging.WARNING)
    try:
        run_server(storage, host=HOST, port=port)
    except OSError as exc:  # the port is taken, most likely
        raise UserError(f"cannot serve on {HOST}:{port}: {exc.strerror or exc}") from None
