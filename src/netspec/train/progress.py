"""A dependency-free progress bar for interactive terminals, silent everywhere else.

Carriage-return bars turn into thousands of lines in CI logs and pipes, so the bar is
drawn only when stderr is a terminal and ``CI`` is unset; the epoch lines on stdout are
the same either way.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

import torch


def progress_wanted(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", None)
    return (
        bool(isatty and isatty()) and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"
    )


class Progress:
    """``epoch 3/10 [#######.........]  412/469 loss 0.5123`` redrawn at most 10 times a second.

    Reading the running loss synchronises with the device, which is why the bar throttles
    itself instead of redrawing every batch.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 30, interval: float = 0.1):
        self.stream = stream or sys.stderr
        self.width = width
        self.interval = interval
        self.label = ""
        self._last_draw = 0.0
        self._drawn = False

    def start(self, label: str) -> None:
        self.label = label
        self._last_draw = 0.0

    def update(
        self, done: int, total: int | None, loss_sum: torch.Tensor, batch_count: int
    ) -> None:
        now = time.monotonic()
        if now - self._last_draw < self.interval and done != total:
            return
        self._last_draw = now
        total = total or done
        filled = int(self.width * done / max(total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        loss = float(loss_sum) / max(batch_count, 1)
        self.stream.write(
            f"\r{self.label} [{bar}] {done:>{len(str(total))}}/{total} loss {loss:.4f}"
        )
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        """Erase the bar so the epoch line that follows starts on a clean line."""
        if self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._drawn = False
