"""CPython's own private API: running the atexit handlers without the interpreter's teardown."""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn


def exit_at_once(code: int) -> NoReturn:
    """Exit with `code` after the atexit handlers and flushing stdout and stderr, skipping the
    rest of the teardown (freeing every module object by object; see cli.main)."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
