"""What netspec reads: regular files only, of bounded size, each refusal one clear line.

Specs, imported files, weights, checkpoints and artifacts are opened here. A name on the
command line may be anything — a FIFO that would block the reader forever, ``/dev/zero``
that never ends, a directory, a file the user may not read — so a file is opened without
waiting (``O_NONBLOCK``: opening a FIFO does not wait for a writer), checked to be a
regular file on the descriptor that will be read (no race between a check and the read),
and read at most to its caller's limit. The writing side of the same policy is
:mod:`netspec.atomic`. No torch here: ``netspec check`` reads specs through this module.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import NetspecError


def kind_of(mode: int) -> str:
    """What a file of this ``st_mode`` is, as messages name it ("a FIFO", "a directory")."""
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def reason(exc: OSError) -> str:
    """The operating system's words for ``exc``, as the end of a sentence: 'permission denied'."""
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


@contextlib.contextmanager
def open_regular(
    path: str | os.PathLike[str], noun: str, error: type[NetspecError], code: str | None = None
) -> Iterator[tuple[BinaryIO, int]]:
    """Open ``path`` for reading if it is a regular file; yield the stream and its size.

    ``noun`` names the file in messages (``spec file``, ``weights file``, ``artifact``);
    every refusal is an ``error``: ``spec file not found: x.yaml``, ``spec path is a FIFO,
    not a file: x.yaml``, ``cannot read spec file x.yaml: permission denied``; ``code`` is
    their diagnostic code (default: the error class's).
    """
    shown = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(shown, flags)
    except FileNotFoundError:
        raise error(f"{noun} not found: {shown}", code=code) from None
    except IsADirectoryError:
        raise error(f"{_path_noun(noun)} is a directory, not a file: {shown}", code=code) from None
    except OSError as exc:
        raise error(f"cannot read {noun} {shown}: {reason(exc)}", code=code) from None
    except ValueError:  # a NUL byte in the name (possible through the Python API)
        raise error(f"cannot read {noun} {shown!r}: the name holds a NUL byte", code=code) from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            what = f"{_path_noun(noun)} is {kind_of(status.st_mode)}"
            raise error(f"{what}, not a file: {shown}", code=code)
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(descriptor, True)
        stream = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with stream:
        yield stream, status.st_size


def _path_noun(noun: str) -> str:
    """``spec file`` → ``spec path``: what a thing that is not a file is called."""
    return noun.removesuffix(" file") + " path"


def read_bounded(
    path: str | os.PathLike[str],
    noun: str,
    error: type[NetspecError],
    limit: int,
    too_large: Callable[[int], NetspecError] | None = None,
    code: str | None = None,
) -> bytes:
    """The bytes of the regular file ``path``, refused when it holds more than ``limit``.

    ``too_large(size)`` makes the error for a file over the limit (default: ``{noun} is
    too large ({size} bytes; the limit is {limit}): {path}``). The size is checked before
    reading and again while reading, so a file that grows meanwhile is still bounded.
    """
    with open_regular(path, noun, error, code) as (stream, size):
        data = stream.read(limit + 1) if size <= limit else b""
    if size <= limit and len(data) <= limit:
        return data
    size = max(size, len(data))
    if too_large is not None:
        raise too_large(size)
    raise error(
        f"{noun} is too large ({size} bytes; the limit is {limit}): {os.fspath(path)}", code=code
    )


def resolved(path: Path) -> Path | None:
    """``path`` with every symbolic link resolved, or None when that is impossible (a loop)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # Python 3.11 reports a symlink loop as RuntimeError
        return None
