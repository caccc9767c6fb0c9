"""Stop signals at any moment (issue 11 item 22): SIGTERM in the first seconds of a launch ends
it without a traceback from a half-started worker; SIGTERM to `best` leaves no half-written
--out and no temporary folder, so the rerun works."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from study.tiny import TINY_STUDY

from hpsearch import load_model
from reliability.hostile import MEMORY_LIMIT, run_bounded

# A shell sees a process killed by SIGINT as $? = 130 too. CPython ends that way when it judges
# a KeyboardInterrupt unhandled (its _Py_UnhandledKeyboardInterrupt flag): seen once in CI, after
# our "interrupted" line and the clean-up; not reproduced in three local reruns.
INTERRUPTED = (130, -signal.SIGINT)


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _signalled(args: list[str], env: dict[str, str], delay: float) -> tuple[int, str]:
    """Start `hpsearch ARGS`, SIGTERM it after `delay` s; (exit code, stderr). 60 s at most."""
    process = subprocess.Popen([sys.executable, "-m", "hpsearch", *args], env=env, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               preexec_fn=_limits)  # fmt: skip
    time.sleep(delay)
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, stderr


@pytest.mark.parametrize("delay", [0.3, 1.0, 2.0, 3.0, 4.5])
def test_sigterm_early_in_a_launch_has_no_traceback(tmp_path: Path, delay: float) -> None:
    study = tmp_path / "tiny.yaml"
    study.write_text(yaml.safe_dump({**TINY_STUDY, "epochs": 50}))
    env = {**os.environ, "HPSEARCH_HOME": str(tmp_path / "home")}
    code, stderr = _signalled(["launch", str(study), "--workers", "2"], env, delay)
    assert "Traceback" not in stderr and "EOFError" not in stderr, stderr[-3000:]
    # -15: still importing, before any handler (or any write); 130: stopped cleanly
    assert code in (*INTERRUPTED, 0, -signal.SIGTERM), (code, stderr[-3000:])


def _assert_empty_or_whole(out: Path) -> None:
    """No half-written --out: nothing there, or (the signal came after the last file was copied)
    a whole model folder that loads."""
    if not out.exists() or list(out.iterdir()) == []:
        return
    assert load_model(out).arch is not None, sorted(out.rglob("*"))


def test_sigterm_to_best_leaves_no_half_written_out_and_no_temporary_folder(
    tmp_path: Path,
) -> None:
    study = tmp_path / "tiny.yaml"
    study.write_text(yaml.safe_dump({**TINY_STUDY, "budget": {"n_trials": 1}}))
    home = tmp_path / "home"
    assert run_bounded(["launch", str(study), "--workers", "1"], home).returncode == 0
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "HPSEARCH_HOME": str(home), "TMPDIR": str(scratch)}
    outcomes = set()
    for delay in (0.5, 1.5, 2.5, 3.5, 5.0, 8.0):
        out = tmp_path / f"out-{delay}"
        code, stderr = _signalled(["best", "tiny", "--no-register", "--out", str(out)], env, delay)
        assert "Traceback" not in stderr, stderr[-3000:]
        assert list(scratch.iterdir()) == [], list(scratch.iterdir())  # temp folders removed
        if code == 0:
            assert (out / "MLmodel").is_file()
        else:
            # -15: still importing
            assert code in (*INTERRUPTED, -signal.SIGTERM), (code, stderr[-2000:])
            _assert_empty_or_whole(out)
        outcomes.add(130 if code in INTERRUPTED else code)
    assert 130 in outcomes  # at least one signal arrived mid-command
