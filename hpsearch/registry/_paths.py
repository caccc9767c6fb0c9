"""Where a downloaded artifact may land: inside the destination folder, and nowhere else.

An artifact listing comes from a store we do not control (a tracking server, a shared bucket).
A path such as `../../.bashrc`, `/etc/cron.d/x`, `%2e%2e/x` (decoded by some layer on the way)
or one that runs through a symlink already under the destination must never be written.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from hpsearch.errors import UserError

_MAX_UNQUOTE_ROUNDS = 4  # %252e%252e -> %2e%2e -> ..: decode until stable, a few times at most


def _decodings(artifact_path: str) -> list[str]:
    """The path as given and every percent-decoding of it, until decoding changes nothing."""
    forms = [artifact_path]
    for _ in range(_MAX_UNQUOTE_ROUNDS):
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            return forms
        forms.append(decoded)
    raise UserError(f"refusing artifact path {artifact_path!r}: percent-encoded too many times")


def check_artifact_path(artifact_path: str) -> None:
    """A relative POSIX path with no `..` part, in any decoding; else UserError naming it."""
    for form in _decodings(artifact_path):
        problem = _problem(form)
        if problem:
            raise UserError(f"refusing artifact path {artifact_path!r}: {problem}")


def _problem(path: str) -> str | None:
    if not path or "\x00" in path:
        return "empty or contains a NUL byte"
    if "\\" in path:
        return "contains a backslash"
    if PurePosixPath(path).is_absolute() or (len(path) > 1 and path[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(path).parts:
        return "contains '..'"
    return None


def safe_destination(root: Path, artifact_path: str) -> Path:
    """`root/artifact_path` with symlinks resolved, guaranteed to lie strictly inside `root`.

    Raises UserError for `..`, absolute or percent-encoded escapes, and for a path that a
    symlink under `root` would redirect elsewhere.
    """
    check_artifact_path(artifact_path)
    base = root.resolve()
    target = (base / artifact_path).resolve()  # follows symlinks that already exist
    if target == base or not target.is_relative_to(base):
        raise UserError(f"refusing artifact path {artifact_path!r}: it would land outside {root}")
    return target


def check_out(out: Path) -> Path:
    """The absolute download folder: it may not exist yet, or be empty; files and full folders
    are refused. Nothing is created here, so a later error leaves no empty folder behind."""
    if out.is_symlink() and not out.exists():
        raise UserError(f"--out {out}: a dangling symlink")
    if out.exists():
        if not out.is_dir():
            raise UserError(f"--out {out}: exists and is not a folder")
        if any(out.iterdir()):
            raise UserError(f"--out {out}: the folder is not empty; give a new or empty folder")
    return out.resolve()
