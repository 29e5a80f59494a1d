"""Errors of ``train`` and ``eval``: one line each, since there is no spec location to point at.

Compiler errors quote the offending spec line; a bad ``--resume`` directory or a recipe
flag that cannot apply has no such place, so these render as ``error: <what is wrong and
what to do>`` (their :attr:`~netspec.errors.NetspecError.prefix` is "none"). Exit status
follows the CLI's convention: 1 for bad input, 2 for command-line misuse.
"""

from __future__ import annotations

from netspec.errors import NetspecError


class TrainingError(NetspecError):
    """A problem with the run directory, a checkpoint or the network's fit (exit status 1)."""

    stage = "train"
    prefix = "none"
    default_code = "NS800"


class TrainUsageError(TrainingError):
    """Command-line misuse: a flag that cannot apply, a device that does not exist (status 2)."""

    stage = "usage"
    exit_status = 2
    default_code = "NS910"
