"""Hostile study files: each is one line on stderr and exit 2, in bounded memory and time, with
nothing written. (Issue 11 items 17, 18, 19: echoed inputs, parser limits, duplicate keys.)"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from study.tiny import TINY_STUDY

from hpsearch.limits import MAX_STUDY_FILE_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES
from reliability.hostile import files_under, run_bounded, study_file_errors

VALID = yaml.safe_dump(TINY_STUDY, sort_keys=False)


def _laughs(levels: int, key: str = "search_space") -> str:
    """A 'billion laughs' file: each anchor lists the previous one nine times."""
    lines = [VALID.replace("search_space:", "unused_search_space:")]
    lines.append('l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]')
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\n{key}: {{lr: *l{levels}}}\n"


def _merge_bomb(levels: int) -> str:
    """The same with merge keys: each mapping merges the previous one nine times."""
    lines = [VALID, "m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9}"]
    for level in range(1, levels + 1):
        merges = ", ".join(f"*m{level - 1}" for _ in range(9))
        lines.append(f"m{level}: &m{level} {{<<: [{merges}], k{level}: 0}}")
    return "\n".join(lines) + "\n"


def _write(text: str | bytes) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        path = directory / "study.yaml"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    return make


def _fifo(directory: Path) -> Path:
    path = directory / "study.yaml"
    os.mkfifo(path)
    return path


def _huge(directory: Path) -> Path:
    path = directory / "study.yaml"
    path.write_text(VALID + "#" * (MAX_STUDY_FILE_BYTES + 10) + "\n")
    return path


LONG = "x" * 500_000
# case -> (makes the study file in a folder, a word the error line must contain)
CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "alias-bomb": (_write(_laughs(9)), f"{MAX_YAML_NODES} values"),
    "alias-bomb-in-a-valid-field": (_write(_laughs(9).replace("unused_", "")), "values"),
    "merge-key-bomb": (_write(_merge_bomb(8)), f"{MAX_YAML_NODES} values"),
    "deep-flow-nesting": (_write(VALID + "x: " + "[" * 5000 + "]" * 5000 + "\n"),
                          f"deeper than {MAX_YAML_DEPTH}"),
    "deep-block-nesting": (_write(VALID + "".join(f"{' ' * i}k:\n" for i in range(600)) + "\n"),
                           f"deeper than {MAX_YAML_DEPTH}"),
    "dev-urandom": (lambda _: Path("/dev/urandom"), "not a regular file"),
    "dev-zero": (lambda _: Path("/dev/zero"), "not a regular file"),
    "a-folder": (lambda directory: directory, "not a regular file"),
    "fifo": (_fifo, "FIFO"),
    "over-the-size-limit": (_huge, f"{MAX_STUDY_FILE_BYTES}-byte limit"),
    "not-utf8": (_write(b"name: \xff\xfe\n"), "not UTF-8"),
    "long-unknown-key": (_write(VALID + f"? {LONG}\n: 1\n"), "unknown key"),
    "long-bad-value": (_write(VALID.replace("epochs: 4", f"epochs: {LONG}")), "epochs"),
    "long-choice": (_write(VALID.replace("- relu", f"- {LONG}")), "unknown choice"),
    "many-choices": (_write(VALID.replace("- relu", "\n    ".join(f"- bad{i}"
                                                                    for i in range(50_000)))),
                     "unknown choice"),
    "huge-integer": (_write(VALID.replace("epochs: 4", "epochs: " + "9" * 100_000)), "digits"),
    "duplicate-top-level-key": (_write(VALID + "epochs: 1000\n"), "duplicate key 'epochs'"),
    "duplicate-nested-key": (_write(VALID.replace("  seed: 0", "  seed: 0\n  seed: 1")),
                             "duplicate key 'seed'"),
}  # fmt: skip


# Through the whole command (exit code, one line, nothing written); the rest in one process.
CLI_CASES = ("alias-bomb", "dev-urandom", "fifo", "duplicate-top-level-key")


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """case -> what load_study_file raised, all cases read in one memory-bounded process."""
    folder = tmp_path_factory.mktemp("hostile-studies")
    paths = []
    for case, (make, _) in CASES.items():
        (folder / case).mkdir()
        paths.append(str(make(folder / case)))
    return dict(zip(CASES, study_file_errors(paths), strict=True))


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_study_file_is_refused_in_one_short_line(
    messages: dict[str, str], case: str
) -> None:
    message = messages[case]
    assert CASES[case][1] in message, message
    assert "\n" not in message and len(message) < 1000, message[:1000]


@pytest.mark.parametrize("case", CLI_CASES)
def test_launch_on_a_hostile_study_file_is_exit_2_and_writes_nothing(
    tmp_path: Path, case: str
) -> None:
    path = CASES[case][0](tmp_path)
    home = tmp_path / "home"
    line = run_bounded(["launch", str(path), "--workers", "0"], home, timeout=60).one_line_error()
    assert CASES[case][1] in line, line
    assert files_under(home) == []
