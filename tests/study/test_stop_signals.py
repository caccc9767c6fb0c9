"""Stop signals in workers and the launcher: when the KeyboardInterrupt they become may land."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from hpsearch.signals import ScratchFolder
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
    before_int = signal.getsignal(signal.SIGINT)  # ignored when pytest runs in the background
    with stop_signals_interrupt():
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        os.kill(os.getpid(), signal.SIGTERM)  # ignored: it must not break off the clean-up
        time.sleep(0.2)
    assert signal.getsignal(signal.SIGTERM) is before
    assert signal.getsignal(signal.SIGINT) is before_int


def test_a_stop_signal_ignored_on_entry_stays_ignored() -> None:
    # before: `nohup hpsearch launch ... &` (Ctrl-C ignored) took SIGINT again, and a SIGTERM
    # early in the launch could end it as if killed by SIGINT (exit -2) instead of 130
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with stop_signals_interrupt():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # no KeyboardInterrupt
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


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


def test_a_stop_signal_just_after_a_trial_run_is_created_still_ends_that_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # before: the interrupt landed between the run's creation and the code that ends it, and
    # the run stayed RUNNING for ever (Ctrl-C with 2 workers, 1 try in 4)
    import mlflow
    import yaml

    from hpsearch.study.config import parse_study
    from hpsearch.study.pool import create_or_resume
    from hpsearch.study.storage import open_storage
    from hpsearch.study.worker import WorkerOptions, run_worker
    from hpsearch.tracking import StudyTracker
    from study.tiny import TINY_STUDY

    created = StudyTracker.start_trial

    def start_then_signal(self: StudyTracker, *args: object, **kwargs: object) -> str:
        run_id = created(self, *args, **kwargs)  # type: ignore[arg-type]
        os.kill(os.getpid(), signal.SIGTERM)  # lands here, in our own code, before the return
        time.sleep(0.5)
        return run_id

    monkeypatch.setattr(StudyTracker, "start_trial", start_then_signal)
    text = yaml.safe_dump({**TINY_STUDY, "epochs": 200, "budget": {"n_trials": 1}})
    config = parse_study(text)
    storage_url, tracking_uri = f"sqlite:///{tmp_path}/optuna.db", f"sqlite:///{tmp_path}/ml.db"
    create_or_resume(config, text, open_storage(storage_url), 1)
    # as launch's own workers are: no last-one-out clean-up that would hide a run left behind
    artifacts = (tmp_path / "art").as_uri()
    options = WorkerOptions("tiny", storage_url, tracking_uri, artifacts, summarise=False)
    with pytest.raises(KeyboardInterrupt):
        run_worker(options)
    client = mlflow.MlflowClient(tracking_uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == "tiny"]
    runs = client.search_runs([experiment.experiment_id])
    trial_runs = [r for r in runs if "optuna.trial_number" in r.data.tags]
    assert len(trial_runs) == 1 and trial_runs[0].info.status == "KILLED"


# A stop signal handled inside a finalizer is not lost (seen in CI: SIGTERM to a launch landed
# in a weakref callback; Python printed "Exception ignored ... KeyboardInterrupt" and went on).
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


def test_a_stop_signal_as_a_scratch_folder_is_made_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # before: a TemporaryDirectory (or a generator's yield) interrupted just after its mkdtemp
    # left the folder in TMPDIR (seen in CI, test_sigterm_to_best_leaves_no_half_written_out)
    make = tempfile.mkdtemp

    def made_then_signalled(**kwargs: str) -> str:
        path = make(dir=tmp_path, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # pending as mkdtemp returns
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", made_then_signalled)
    entered = []
    with stop_signals_interrupt(), pytest.raises(KeyboardInterrupt), ScratchFolder("t-") as scratch:
        entered.append(scratch)
        (scratch / "file").write_text("x")
        time.sleep(5)  # the interrupt lands here, once the `with` holds the folder
    assert entered and entered[0].parent == tmp_path
    assert list(tmp_path.iterdir()) == []


def test_a_stop_signal_waits_until_an_import_has_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # before: SIGTERM as launch imported MLflow broke off a class body, and Python turned the
    # interrupt into a RuntimeError traceback ("Error calling __set_name__"), seen in CI
    (tmp_path / "slow_module.py").write_text(
        "import os, signal, time\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "time.sleep(0.3)  # the signal arrives here, mid-import\n"
        "WHOLE = True\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_module", raising=False)
    with stop_signals_interrupt(), pytest.raises(KeyboardInterrupt):
        import slow_module  # noqa: F401

        time.sleep(5)  # the interrupt lands here, once the module is whole
    assert sys.modules["slow_module"].WHOLE


def test_a_stop_signal_as_a_scratch_folder_is_removed_still_removes_it(tmp_path: Path) -> None:
    # before: the signal landed in the removal of a fetch that had ended normally (waiting on
    # MLflow's download pool) and the folder stayed (CI, test_sigterm_to_best...)
    def signalled() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.3)  # the signal arrives here

    with stop_signals_interrupt(), pytest.raises(KeyboardInterrupt):
        with ScratchFolder("t-", before_removal=signalled) as scratch:
            (scratch / "file").write_text("x")
        time.sleep(5)  # the interrupt lands here, once the folder is gone
    assert not scratch.exists()
