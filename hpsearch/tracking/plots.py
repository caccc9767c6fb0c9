"""Every PNG hpsearch draws: learning curves, the confusion matrix, Optuna's summary plots.

The two per-trial figures are built once per process and refilled for every trial (building
axes, ticks and labels costs more than drawing them): bare Figures, no pyplot state, fixed
margins, one trial at a time per figure. Optuna's plots are saved and closed (`save_figure`).
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


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) int64 counts: row = true class, column = predicted class."""
    flat = np.asarray(y_true, np.int64) * n_classes + np.asarray(y_pred, np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def plot_confusion_matrix(counts: np.ndarray, path: Path, title: str) -> Path:
    """Heat map of a (C, C) confusion matrix with the counts written in the cells."""
    return _confusion_figure(counts.shape[0]).save(counts, path, title)


class _ConfusionFigure:
    """A C x C confusion-matrix figure, built once per process and refilled for every trial:
    its hundred cell labels and ticks cost more to build than to draw. No colour bar: the
    counts are written in the cells."""

    def __init__(self, n: int) -> None:
        # a bare Figure: no pyplot registry to clean up, fixed margins (tight_layout is slow)
        self.figure = Figure(figsize=(0.6 + 0.6 * n, 0.6 + 0.6 * n))
        self.ax = self.figure.add_subplot()
        self.image = self.ax.imshow(np.zeros((n, n)), cmap="Blues")
        self.cells = [
            [self.ax.text(j, i, "", ha="center", va="center", fontsize=8) for j in range(n)]
            for i in range(n)
        ]
        self.ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true")
        self.figure.subplots_adjust(left=0.14, right=0.97, bottom=0.1, top=0.92)
        self.lock = threading.Lock()  # one figure, so one trial at a time draws it

    def save(self, counts: np.ndarray, path: Path, title: str) -> Path:
        top = int(counts.max()) if counts.size else 0
        with self.lock:
            self.image.set_data(counts)
            self.image.set_clim(0, max(top, 1))
            for (i, j), count in np.ndenumerate(counts):
                cell = self.cells[i][j]
                cell.set_text(str(count))
                cell.set_color("white" if count > top / 2 else "black")
            self.ax.set_title(title)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.figure.savefig(path, dpi=90)
        return path


@functools.lru_cache(maxsize=4)
def _confusion_figure(n_classes: int) -> _ConfusionFigure:
    return _ConfusionFigure(n_classes)


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
