"""The matplotlib PNGs: `hpsearch train`'s learning curves and Optuna's summary plots.

The learning-curves figure is built once per process and refilled (building axes, ticks and
labels costs more than drawing them): a bare Figure, no pyplot state, fixed margins, one
drawing at a time. Optuna's plots are saved and closed (`save_figure`). A trial run's one
figure, its confusion matrix, is drawn with Pillow in `confusion.py`, so a worker never
imports matplotlib; trial runs have no learning-curve PNG, since the MLflow UI draws the
logged epoch metrics.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # no display in workers; must precede pyplot's import
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from hpsearch.train import EpochMetrics


def plot_learning_curves(history: Sequence[EpochMetrics], path: Path) -> Path:
    """Loss and accuracy per epoch, train and validation, as one PNG."""
    return _curves_figure().save(history, path)


class _CurvesFigure:
    """Loss and accuracy, train and validation (tight_layout alone cost more than a trial's
    metric logging: fixed margins)."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=(10, 4))
        self.axes = self.figure.subplots(1, 2)
        self.lines: dict[str, Any] = {}  # EpochMetrics field -> its Line2D
        panels = (("loss", "Loss"), ("accuracy", "Accuracy"))
        for ax, (metric, title) in zip(self.axes, panels, strict=True):
            for prefix, label in (("train", "train"), ("val", "validation")):
                (self.lines[f"{prefix}_{metric}"],) = ax.plot([], [], label=label)
            ax.set(xlabel="epoch", ylabel=metric, title=title)
            ax.legend()
            ax.grid(alpha=0.3)
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.2)
        self.lock = threading.Lock()  # one figure, so one trial at a time draws it

    def save(self, history: Sequence[EpochMetrics], path: Path) -> Path:
        epochs = [m.epoch for m in history]
        with self.lock:
            for name, line in self.lines.items():
                line.set_data(epochs, [getattr(m, name) for m in history])
            for ax in self.axes:
                ax.relim()
                ax.autoscale_view()
            path.parent.mkdir(parents=True, exist_ok=True)
            self.figure.savefig(path, dpi=90)
        return path


@functools.cache
def _curves_figure() -> _CurvesFigure:
    return _CurvesFigure()


def save_figure(figure_or_axes: Any, path: Path) -> Path:
    """Save the figure of a Figure, an Axes or an array of Axes as PNG, then close it."""
    if isinstance(figure_or_axes, np.ndarray):  # some Optuna plots return a grid of axes
        figure_or_axes = figure_or_axes.flat[0]
    fig = getattr(figure_or_axes, "figure", figure_or_axes)
    try:
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path
