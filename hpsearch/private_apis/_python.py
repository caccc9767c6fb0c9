"""CPython's own private API: an exit after what the interpreter's teardown runs first (joining
threads, the atexit handlers) without the rest of it (freeing every module object by object)."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_at_once(code: int) -> NoReturn:
    """Exit with `code` as Py_FinalizeEx begins: the non-daemon threads joined (and the thread
    pools' own exit hooks), then the atexit handlers, then stdout and stderr flushed; skipping
    the rest of the teardown (freeing every module object by object; see cli.main)."""
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
