"""The champion through MLflow's own tools: pyfunc in a fresh process, `mlflow models serve`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from hpsearch.data import Splits
from hpsearch.registry import best, load_model
from hpsearch.settings import Settings

from .conftest import STUDY_NAME

CHAMPION = f"models:/{STUDY_NAME}@champion"
SERVE_START_SECONDS = 60


def _env(settings: Settings) -> dict[str, str]:
    """A clean environment: the test store, the venv's executables, nothing else inherited."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        "MLFLOW_TRACKING_URI": settings.mlflow_uri,
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
    }


@pytest.mark.slow
def test_pyfunc_in_a_fresh_process_takes_arrays_and_frames(
    settings: Settings, splits: Splits, tmp_path: Path
) -> None:
    best(settings, STUDY_NAME, out=None)
    x = splits.x_test[:50]
    np.save(tmp_path / "x.npy", x)
    code = f"""
import sys, numpy as np, pandas as pd, mlflow.pyfunc
model = mlflow.pyfunc.load_model({CHAMPION!r})
x = np.load(sys.argv[1])
frame = pd.DataFrame(x, columns=[f"pixel_{{i}}" for i in range(x.shape[1])])
np.save(sys.argv[2], np.stack([np.asarray(model.predict(x)), np.asarray(model.predict(frame))]))
"""
    out = tmp_path / "y.npy"
    subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "x.npy"), str(out)],
        check=True, env=_env(settings), timeout=120, cwd=tmp_path,
    )  # fmt: skip
    from_array, from_frame = np.load(out)
    expected = load_model(CHAMPION).predict(x)
    assert from_array.dtype == np.int64
    np.testing.assert_array_equal(from_array, expected)
    np.testing.assert_array_equal(from_frame, expected)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_ping(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVE_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mlflow models serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise AssertionError(f"mlflow models serve did not answer /ping within {SERVE_START_SECONDS}s")


def _post(url: str, payload: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


@pytest.mark.slow
def test_mlflow_models_serve_answers_invocations(
    settings: Settings, splits: Splits, tmp_path: Path
) -> None:
    best(settings, STUDY_NAME, out=None)
    port = _free_port()
    command = [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", CHAMPION,
        "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port),
    ]  # fmt: skip
    log = (tmp_path / "serve.log").open("wb")
    # its own session, so the server and any worker it forks are stopped together
    process = subprocess.Popen(
        command, env=_env(settings), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_ping(url, process)
        x = splits.x_test[:8]
        columns = [f"pixel_{i}" for i in range(x.shape[1])]
        expected = load_model(CHAMPION).predict(x).tolist()
        split = _post(url, {"dataframe_split": {"columns": columns, "data": x.tolist()}})
        assert split == {"predictions": expected}
        assert _post(url, {"inputs": x.tolist()}) == {"predictions": expected}
    except AssertionError:
        log.flush()
        print((tmp_path / "serve.log").read_text(errors="replace")[-3000:])
        raise
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
