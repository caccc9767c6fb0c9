"""PNG figures for runs: the confusion matrix, and saving any matplotlib axes (Agg, closed after).

The learning curves come from `hpsearch.train.plot_learning_curves`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display in workers; must precede pyplot's import
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) int64 counts: row = true class, column = predicted class."""
    flat = np.asarray(y_true, np.int64) * n_classes + np.asarray(y_pred, np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def plot_confusion_matrix(counts: np.ndarray, path: Path, title: str) -> Path:
    """Heat map of a (C, C) confusion matrix with the counts written in the cells."""
    n = counts.shape[0]
    # a bare Figure: no pyplot registry to clean up, fixed margins (tight_layout is the slow part)
    fig = Figure(figsize=(1.0 + 0.6 * n, 0.6 + 0.6 * n))
    ax = fig.add_subplot()
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax)
    threshold = counts.max() / 2 if counts.size else 0
    for i in range(n):
        for j in range(n):
            color = "white" if counts[i, j] > threshold else "black"
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=color, fontsize=8)
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true", title=title)
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.1, top=0.92)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


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
