"""What the CLI draws with rich: the study table, the live view of a launch, a training bar.

The only module besides cli.py that imports rich: the layers below return data and take
callbacks, so they stay usable (and testable) without a terminal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.progress import Progress
from rich.table import Table

if TYPE_CHECKING:  # the trainer (NumPy and all) is not needed to draw: start-up stays fast
    from hpsearch.train import EpochMetrics

COUNTS = ("running", "complete", "pruned", "failed", "waiting")


def status_table(status: dict[str, Any]) -> Table:
    """`hpsearch status` (and the launch's live view) of a `study_status` dict."""
    title = f"study {status['study']}: {status['finished']}/{status['n_trials']} finished"
    table = Table(title=title, show_header=True)
    for column in (*COUNTS, "best val_accuracy"):
        table.add_column(column, justify="right")
    best = status["best"]
    best_text = "-" if best is None else f"{best['val_accuracy']:.4f} (trial {best['trial']})"
    table.add_row(*(str(status[key]) for key in COUNTS), best_text)
    captions = []
    if best is not None:
        params = ", ".join(f"{k}={_short(v)}" for k, v in sorted(best["params"].items()))
        captions.append(f"best parameters: {params}")
    if status.get("parent_run"):  # shown by `hpsearch status`: FINISHED once summarised
        captions.append(f"parent run {status['parent_run']['status']}")
    table.caption = "\n".join(captions) or None
    return table


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


@contextlib.contextmanager
def live_status(console: Console) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A callback that redraws the study table in place; the view starts at its first call, so
    what the launch printed before stays above it."""
    live = Live(console=console, auto_refresh=False)

    def show(status: dict[str, Any]) -> None:
        if not live.is_started:
            live.start()
        live.update(status_table(status), refresh=True)

    try:
        yield show
    finally:
        if live.is_started:
            live.stop()


@contextlib.contextmanager
def epoch_bar(epochs: int, *, shown: bool) -> Iterator[Callable[[EpochMetrics], None]]:
    """A progress bar over the epochs of `hpsearch train`, advanced by the callback."""
    with Progress(disable=not shown, transient=True) as progress:
        task = progress.add_task("training", total=epochs)

        def advance(metrics: EpochMetrics) -> None:
            text = f"epoch {metrics.epoch} val {metrics.val_accuracy:.4f}"
            progress.update(task, advance=1, description=text)

        yield advance
