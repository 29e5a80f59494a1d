"""The table of artifact formats: one file per format, one line per format below.

Each format file (:mod:`.torchscript`, :mod:`.program`, :mod:`.onnx`) defines ``FORMAT``, a
:class:`~netspec.formats.base.Format` saying its name, suffix and labels, how to write a
module, how to recognise a file and read its metadata, and how to open it for running.
:mod:`netspec.export` writes through the table and :mod:`netspec.artifacts` recognises and
opens through it; the ``--format`` choices of ``netspec build`` come from it too.

Importing the table does not import torch.
"""

from __future__ import annotations

from . import onnx, program, torchscript
from .base import Format

#: Every format netspec writes and reads, by name, in the order ``--format`` lists them.
FORMATS: dict[str, Format] = {
    entry.name: entry
    for entry in (
        torchscript.FORMAT,
        program.FORMAT,
        onnx.FORMAT,
    )
}


def join_or(words: list[str]) -> str:
    """``a, b or c``: how messages list formats."""
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)
