"""Run `hpsearch` on hostile input with its memory and time bounded, so a regression fails the
test (MemoryError, a timeout) instead of swapping the machine or hanging the suite."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# A launch with one worker and MLflow tracking peaks near 1 GB of address space here; an
# input that makes hpsearch allocate gigabytes hits this instead.
MEMORY_LIMIT = 1536 * 1024**2
TIME_LIMIT = 120.0


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    def one_line_error(self) -> str:
        """The single stderr line of a user error (exit 2, no traceback); fails otherwise."""
        assert self.returncode == 2, (self.returncode, self.stderr[-3000:])
        assert "Traceback" not in self.stderr, self.stderr[-3000:]
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), self.stderr[-3000:]
        assert len(lines[0]) < 1000, f"{len(lines[0])} characters: {lines[0][:300]}"
        return lines[0]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_bounded(
    args: list[str], home: Path, env: dict[str, str] | None = None, timeout: float = TIME_LIMIT
) -> Result:
    """`python -m hpsearch ARGS` with HPSEARCH_HOME=home, under MEMORY_LIMIT and `timeout`."""
    environment = {**os.environ, "HPSEARCH_HOME": str(home), **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "hpsearch", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        preexec_fn=_limit_memory,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def run_bounded_python(code: str, *args: str, timeout: float = TIME_LIMIT) -> Result:
    """`python -c CODE ARGS` under MEMORY_LIMIT and `timeout`: many cases in one process."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limit_memory,
    )
    return Result(done.returncode, done.stdout, done.stderr)


# Reads each study file given, prints one JSON line per file: the error message or "ok".
_STUDY_READER = """
import json, sys
from pathlib import Path
from hpsearch.errors import UserError
from hpsearch.study.config import load_study_file
for name in sys.argv[1:]:
    try:
        load_study_file(Path(name))
        print(json.dumps("ok"))
    except UserError as exc:
        print(json.dumps(str(exc)))
"""


def study_file_errors(paths: list[str]) -> list[str]:
    """What `load_study_file` says of each file ("ok" when it loads), read in one process
    under the memory and time limits (a regression fails, it cannot swap or hang)."""
    result = run_bounded_python(_STUDY_READER, *paths, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def files_under(directory: Path) -> list[str]:
    if not directory.exists():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))
