"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half.

Artifacts, checkpoints and run-directory files all go through here: each is written to a
temporary file in the same folder, flushed, optionally verified, given a normal file's
permissions and moved over the old name with ``os.replace``, which is atomic on POSIX and
Windows. A torn ``last.pt`` would make ``--resume`` impossible; a half-written artifact
must never be deployed. One mechanism, so every writer gets the same guarantees.
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


def _temporary_beside(path: Path) -> Path:
    """An empty temporary file next to ``path``, ending in its suffix (some loaders insist)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent
    )
    os.close(handle)
    return Path(name)


def _publish(temporary: Path, path: Path) -> None:
    # mkstemp creates 0600 files; give the result the permissions of a normal new file.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, path)


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[Path], None],
    verify: Callable[[Path], None] | None = None,
) -> None:
    """Write through ``write(tmp_path)``, run ``verify(tmp_path)``, then rename into place.

    For writers that need a path (``torch.jit.save``, ONNX export). A crash or a failed
    verification leaves no partial file under ``path``.
    """
    path = Path(path)
    temporary = _temporary_beside(path)
    try:
        write(temporary)
        if verify is not None:
            verify(temporary)
        _publish(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` only when the block completes."""
    path = Path(path)
    temporary = _temporary_beside(path)
    try:
        with open(temporary, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        _publish(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


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
