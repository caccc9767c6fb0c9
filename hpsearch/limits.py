"""Stated limits on what hpsearch accepts from users, and the one reader of small input files.

Every limit a hostile or mistaken input can hit is here, so that the README can state them and
the readers (study files, images, IDX files, model folders) refuse in one line instead of
allocating without bound, recursing until the stack overflows, or blocking on a FIFO forever.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hpsearch.errors import UserError

MAX_STUDY_FILE_BYTES = 1024**2  # a study file is a few hundred bytes
MAX_YAML_DEPTH = 32  # nesting of mappings and lists in a study file
MAX_YAML_NODES = 100_000  # values once aliases are expanded: an alias bomb stops here
MAX_SEED = 2**32 - 1  # NumPy's and Optuna's samplers take 32-bit seeds
MAX_TRIALS = 100_000  # one study's budget
MAX_SAMPLES = 10**8  # rows of a training subset
MAX_EPOCHS = 1000
# Data and models: what one file may declare or decompress to, refused before allocating it.
MAX_IDX_BYTES = 256 * 1024**2  # one IDX payload, decompressed; MNIST's largest is 47 MB
MAX_IMAGE_FILE_BYTES = 64 * 1024**2  # one PNG/JPEG file
MAX_IMAGE_PIXELS = 16 * 1024**2  # one picture (4096 x 4096), checked before decoding
MAX_PREDICT_PIXELS = 64 * 1024**2  # all images of one `predict --images` (256 MB as float32)
MAX_MODEL_PARAMS = 1 << 25  # 33.5 M weights: 134 MB float32, 268 MB float64
MAX_TIMEOUT_SECONDS = 10**9  # about 31 years: `timeout` is a deadline, never a huge sleep


def open_regular(path: Path, what: str, max_bytes: int, error: type[UserError] = UserError) -> int:
    """A read-only descriptor of `path`, which must be a regular file of at most `max_bytes`.

    Opened without blocking, so a FIFO is refused instead of waiting for a writer; a device
    (/dev/urandom, /dev/zero) is refused instead of being read for ever.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = f"not a regular file ({_kind(info.st_mode)})"
    elif info.st_size > max_bytes:
        problem = f"{info.st_size} bytes, over the {max_bytes}-byte limit"
    if problem is not None:
        os.close(fd)
        raise error(f"{path}: cannot read {what}: {problem}")
    os.set_blocking(fd, True)
    return fd


def read_regular(
    path: Path, what: str, max_bytes: int, error: type[UserError] = UserError
) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (checked again while reading: the file
    may grow after it was measured)."""
    with os.fdopen(open_regular(path, what, max_bytes, error), "rb") as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"{path}: cannot read {what}: over the {max_bytes}-byte limit")
    return data


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return name
    return "not a plain file"
