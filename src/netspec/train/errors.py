"""Errors of ``train`` and ``eval``: one line each, since there is no spec location to point at.

Compiler errors quote the offending spec line; a missing dataset or a bad ``--resume``
directory has no such place, so these render as ``error: <what is wrong and what to do>``.
``exit_status`` follows the CLI's convention: 1 for bad input data, 2 for command-line
misuse. They pickle by message, so rank 0 can hand its error to the other ranks of a
torchrun job and every process stops with the same line instead of hanging.
"""

from __future__ import annotations

from netspec.errors import NetspecError


class TrainingError(NetspecError):
    """A problem with the data, weights or run directory (exit status 1)."""

    stage = "train"
    exit_status = 1

    def render(self) -> str:
        return f"error: {self.message}"

    def __reduce__(self) -> tuple[type[TrainingError], tuple[str]]:
        return (type(self), (self.message,))


class TrainUsageError(TrainingError):
    """Command-line misuse: a flag that cannot apply, a device that does not exist (status 2)."""

    stage = "usage"
    exit_status = 2
