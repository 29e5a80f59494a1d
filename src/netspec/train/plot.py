"""``curves.png``: loss and accuracies against epoch, drawn the way d2l's Animator draws them.

One axes, epochs 1..N on x, train loss as a solid line, train accuracy dashed magenta,
test accuracy dash-dotted green, a legend and a grid, at d2l's 3.5x2.5 inch figure size.
matplotlib's Agg canvas is used directly (no pyplot), so no display and no global
figure state are involved, and the PNG is written atomically like every run file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from netspec.atomic import atomic_write_with
from netspec.train.loop import EpochMetrics


def write_curves(
    path: str | os.PathLike[str],
    history: Sequence[EpochMetrics],
    *,
    total_epochs: int | None = None,
    title: str | None = None,
) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.5, 2.5), dpi=150)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    epochs = [row.epoch for row in history]
    axes.plot(epochs, [row.loss for row in history], "-", label="train loss")
    axes.plot(epochs, [row.train_acc for row in history], "m--", label="train acc")
    axes.plot(epochs, [row.test_acc for row in history], "g-.", label="test acc")
    last_epoch = max(total_epochs or 0, epochs[-1] if epochs else 1)
    axes.set_xlim(1, max(last_epoch, 2))
    axes.set_xlabel("epoch")
    axes.grid(True)
    axes.legend(fontsize="small")
    if title:
        axes.set_title(title, fontsize="small")
    figure.tight_layout()
    atomic_write_with(path, lambda stream: figure.savefig(stream, format="png"))
