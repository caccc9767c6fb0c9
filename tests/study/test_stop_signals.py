"""Stop signals in workers and the launcher: when the KeyboardInterrupt they become may land."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from hpsearch.study.worker import stop_signals_interrupt


def _rows(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(sa.text("SELECT x FROM t")))


def test_a_stop_signal_waits_until_the_database_call_has_returned(tmp_path: Path) -> None:
    # before: the interrupt landed inside SQLAlchemy; a write transaction could stay open and
    # the worker's own clean-up writes then waited 20 s on it, until the launcher killed it
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))

    def signal_mid_call(*args: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while SQLAlchemy runs the statement

    sa.event.listen(engine, "before_cursor_execute", signal_mid_call)
    with stop_signals_interrupt(), pytest.raises(KeyboardInterrupt):
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        time.sleep(5)  # the interrupt lands here, once the transaction has committed
    sa.event.remove(engine, "before_cursor_execute", signal_mid_call)
    assert _rows(engine) == [1]
    engine.dispose()


def test_only_the_first_stop_signal_interrupts_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with stop_signals_interrupt():
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        os.kill(os.getpid(), signal.SIGTERM)  # ignored: it must not break off the clean-up
        time.sleep(0.2)
    assert signal.getsignal(signal.SIGTERM) is before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_stop_signal_waits_until_a_spawned_child_has_its_start_up_data() -> None:
    # before: the interrupt broke off the write of the child's start-up data, and the child
    # died of an EOFError traceback (8 MB of arguments: the write waits on the child reading)
    import multiprocessing
    import threading

    process = multiprocessing.get_context("spawn").Process(target=len, args=(b"x" * 8_000_000,))
    threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()
    with stop_signals_interrupt(), pytest.raises(KeyboardInterrupt):
        process.start()
        time.sleep(5)  # the interrupt lands here, once the child has all its data
    process.join(30)
    assert process.exitcode == 0
