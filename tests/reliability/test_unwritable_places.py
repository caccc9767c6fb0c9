"""A HPSEARCH_HOME or --out that cannot be written: one line naming it and what is wrong, exit 2,
and nothing written (issue 11 item 24). Read-only and full file systems are real tmpfs mounts
(skipped where this process may not mount)."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from study.tiny import TINY_STUDY

from reliability.hostile import files_under, run_bounded

COMMANDS = {"status": ["status", "tiny"], "studies": ["studies"],
            "launch": ["launch", "{study}", "--workers", "0"]}  # fmt: skip


def _run(command: str, home: Path, study: Path) -> str:
    args = [arg.format(study=study) for arg in COMMANDS[command]]
    return run_bounded(args, home, timeout=60).one_line_error()


@pytest.fixture
def study(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_STUDY))
    return path


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """mount(size, read_only) -> a fresh tmpfs folder, unmounted at the end."""
    mounted: list[Path] = []

    def mount(size: str, read_only: bool = False) -> Path:
        point = tmp_path / f"mount-{len(mounted)}"
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)  # lazy: even if still open


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_home_that_is_a_file_or_too_long(tmp_path: Path, study: Path, command: str) -> None:
    regular = tmp_path / "regular"
    regular.write_text("not a folder")
    assert "HPSEARCH_HOME" in _run(command, regular, study)
    assert "not a folder" in _run(command, regular, study)
    too_long = tmp_path / ("a" * 300)
    assert "path too long" in _run(command, too_long, study)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["regular", "tiny.yaml"]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_read_only_home(tmpfs: Callable[..., Path], study: Path, command: str) -> None:
    home = tmpfs("1m", read_only=True)
    assert "read-only" in _run(command, home, study)


def test_a_home_on_a_full_disk(tmpfs: Callable[..., Path], study: Path) -> None:
    full = tmpfs("256k")
    for command in COMMANDS:
        assert "the disk is full" in _run(command, full, study)
    assert files_under(full) == []
    # room to start, not to finish: the write that fails is reported, the databases stay
    # (a full disk is not retried as if the database were restarting: the launch ends at once)
    nearly = tmpfs("1600k")
    result = run_bounded(["launch", str(study), "--workers", "1"], nearly, timeout=120)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2 and last.startswith("error: ") and "disk is full" in last, last
    for name in ("optuna.db", "mlflow.db", "hpsearch.db"):
        with contextlib.closing(sqlite3.connect(nearly / name)) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",), name


def test_train_out_that_cannot_be_written_is_refused_before_training(
    tmp_path: Path, tmpfs: Callable[..., Path]
) -> None:
    regular = tmp_path / "regular"
    regular.write_text("x")
    for out, problem in ((regular / "model", "not a folder"), (regular, "not a folder"),
                         (tmpfs("1m", read_only=True) / "model", "not writable")):  # fmt: skip
        args = ["train", "--dataset", "digits", "--epochs", "1", "--out", str(out)]
        line = run_bounded(args, tmp_path / "home", timeout=60).one_line_error()
        assert "--out" in line and problem in line, line
    assert not (tmp_path / "home").exists()
