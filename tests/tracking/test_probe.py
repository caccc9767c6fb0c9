"""The tracking URI check that `launch` makes before any write, without importing MLflow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hpsearch.errors import UserError
from hpsearch.tracking.probe import probe_tracking_uri

_CHECK = """
import sys
from hpsearch.tracking.probe import probe_tracking_uri
probe_tracking_uri(sys.argv[1])
print(sorted(m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")))
"""


def test_a_sqlite_uri_is_checked_without_importing_mlflow(tmp_path: Path) -> None:
    # launch starts its workers after the checks: MLflow's import then overlaps their start
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = subprocess.run(
        [sys.executable, "-c", _CHECK, uri], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
    assert not (tmp_path / "mlflow.db").exists()  # checked, nothing created


def test_a_uri_that_is_no_store_is_a_one_line_error() -> None:
    with pytest.raises(UserError, match="not a tracking URI"):
        probe_tracking_uri("ftp://example/mlflow")
