"""A stop signal handled inside a finalizer is not lost (seen in CI: SIGTERM to a launch landed
in a weakref callback, Python printed "Exception ignored ... KeyboardInterrupt" and went on)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from hpsearch.signals import stop_signals_interrupt


class _SignalledWhileFinalized:
    """Sends SIGTERM from its finalizer and keeps running Python there, so the handler runs
    inside the finalizer (where an exception cannot propagate)."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        total = 0
        for step in range(100_000):
            total += step


def test_an_interrupt_swallowed_by_a_finalizer_is_delivered_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt, match="signal 15"), stop_signals_interrupt():
        victim = _SignalledWhileFinalized()
        del victim  # the finalizer runs here and swallows the first KeyboardInterrupt
        time.sleep(5)  # the redelivered one ends this well before
    assert time.monotonic() - started < 2
    assert "Exception ignored" not in capsys.readouterr().err


def test_other_unraisable_exceptions_still_reach_the_previous_hook() -> None:
    seen = []

    class _Broken:
        def __del__(self) -> None:
            raise ValueError("from a finalizer")

    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: seen.append(unraisable.exc_value)
    try:
        with stop_signals_interrupt():
            broken = _Broken()
            del broken
    finally:
        sys.unraisablehook = previous
    assert [str(exc) for exc in seen] == ["from a finalizer"]
