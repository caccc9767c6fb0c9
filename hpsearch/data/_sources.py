"""Finding a dataset's IDX files: --data-dir, $HPSEARCH_DATA_DIR, user cache, system dirs, mirrors.

Downloads are checked against SHA-256 digests and land in the user cache atomically (a temporary
file in the same directory, then `os.replace`), so a failed or forged download leaves nothing.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from hpsearch.data._errors import DatasetError
from hpsearch.data._registry import IDX_FILES, IdxSpec
from hpsearch.places import cache_root
from hpsearch.settings import get_settings

# Downloads a URL into a file; raises OSError (or ValueError for a bad URL) when it cannot.
Fetch = Callable[[str, Path], None]

MAX_DOWNLOAD_BYTES = 64 * 1024**2  # the largest file, Fashion-MNIST's training images, is 26 MB
_TIMEOUT_S = 30


def dataset_cache_dir(name: str) -> Path:
    return cache_root() / "datasets" / name


def fetch_url(url: str, destination: Path) -> None:
    """Stream `url` (http, https or file) into `destination`, refusing more than the size cap."""
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response, destination.open("wb") as out:
        copied = 0
        while chunk := response.read(1024**2):
            copied += len(chunk)
            if copied > MAX_DOWNLOAD_BYTES:
                raise OSError(f"more than {MAX_DOWNLOAD_BYTES} bytes")
            out.write(chunk)


def locate(
    spec: IdxSpec, data_dir: Path | None, *, allow_download: bool, fetch: Fetch = fetch_url
) -> dict[str, Path]:
    """The four files of `spec`, keyed like `IDX_FILES`, from the first source that has them all.

    An explicit `data_dir` must hold them (in `data_dir/NAME` or `data_dir` itself); the other
    places are searched in order and the mirrors are the last resort.
    """
    if data_dir is not None:
        directory = _dataset_dir(Path(data_dir), spec.name)
        found, missing = find_files(directory)
        if missing:
            raise DatasetError(
                f"{spec.name}: {directory} lacks {', '.join(missing)} (each raw or .gz)"
            )
        return found
    searched = _search_dirs(spec)
    for directory in searched:
        found, missing = find_files(directory)
        if not missing:
            return found
    if not allow_download:
        raise _not_found(spec, searched, "downloading is disabled")
    return download(spec, dataset_cache_dir(spec.name), fetch, searched)


def find_files(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """(files found, stems missing) in `directory`; a `.gz` copy wins over a raw one."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for key, stem in IDX_FILES.items():
        path = _present(directory, stem)
        if path is None:
            missing.append(stem)
        else:
            found[key] = path
    return found, missing


def _present(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def _dataset_dir(root: Path, name: str) -> Path:
    # One root may hold several datasets (mnist and fashion-mnist share file names): ROOT/NAME.
    return root / name if (root / name).is_dir() else root


def _search_dirs(spec: IdxSpec) -> list[Path]:
    env_dir = get_settings().data_dir
    dirs = [] if env_dir is None else [_dataset_dir(env_dir, spec.name)]
    return [*dirs, dataset_cache_dir(spec.name), *spec.system_dirs]


def download(
    spec: IdxSpec, target: Path, fetch: Fetch, searched: list[Path] | None = None
) -> dict[str, Path]:
    """Download the files missing from `target` from the mirrors, verifying each SHA-256."""
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{spec.name}: cannot create the cache {target}: {exc}") from exc
    found: dict[str, Path] = {}
    for key, stem in IDX_FILES.items():
        found[key] = _present(target, stem) or _download_one(
            spec, f"{stem}.gz", target, fetch, searched or [target]
        )
    return found


def _download_one(
    spec: IdxSpec, filename: str, target: Path, fetch: Fetch, searched: list[Path]
) -> Path:
    expected = spec.sha256[filename]
    failures: list[str] = []
    for base in spec.mirrors:
        url = base + filename
        partial = target / f".{filename}.{uuid.uuid4().hex}.part"
        try:
            fetch(url, partial)
            digest = sha256_file(partial)
            if digest != expected:
                failures.append(f"{url}: SHA-256 {digest} is not the expected {expected}")
                continue
            final = target / filename
            os.replace(partial, final)
            return final
        except (OSError, ValueError, http.client.HTTPException) as exc:
            failures.append(f"{url}: {exc}")
        finally:
            partial.unlink(missing_ok=True)
    raise _not_found(spec, searched, "download failed: " + "; ".join(failures))


def sha256_file(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _not_found(spec: IdxSpec, searched: list[Path], reason: str) -> DatasetError:
    names = ", ".join(f"{stem}[.gz]" for stem in IDX_FILES.values())
    places = ", ".join(str(path) for path in searched)
    return DatasetError(
        f"{spec.name}: dataset files not found ({reason}). Expected {names} in one of: {places}. "
        f"Put the four files in {dataset_cache_dir(spec.name)} or pass --data-dir DIR "
        f"(or set HPSEARCH_DATA_DIR)"
    )
