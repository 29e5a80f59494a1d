"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half.

Training is the step most likely to be interrupted (Ctrl-C, a killed job, a full disk),
and a torn ``last.pt`` would make ``--resume`` impossible, so every file of a run
directory is written to a temporary file in the same folder, flushed to disk and then
moved over the old name with ``os.replace``, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` only when the block completes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_open(path) as stream:
        stream.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_with(path: str | os.PathLike[str], writer: Callable[[BinaryIO], None]) -> None:
    """Let ``writer`` fill the file (``torch.save``, ``savefig``...), then publish it."""
    with atomic_open(path) as stream:
        writer(stream)


def atomic_link_or_copy(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Make ``target`` an atomic snapshot of ``source``.

    A hard link costs nothing even for a 500 MB checkpoint, and stays valid when
    ``source`` is later replaced (the replacement is a new inode). Where links are not
    possible the file is copied.
    """
    source, target = Path(source), Path(target)
    temp_name = target.with_name(f".{target.name}.link.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp_name)
    try:
        os.link(source, temp_name)
    except OSError:
        with atomic_open(target) as stream, open(source, "rb") as original:
            shutil.copyfileobj(original, stream)
        return
    os.replace(temp_name, target)
