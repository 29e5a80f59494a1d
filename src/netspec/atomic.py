"""Writing files: one policy for every file netspec writes, and atomic replacement.

**The policy.** netspec writes only files the user named (``-o``, ``--out``) or a default
name in the current directory derived from the spec's name (:func:`default_output`,
sanitised to a plain file name: ``../x`` or ``/etc/x`` stay here), and refuses:

* a target that exists and is not a regular file — a directory, a FIFO, a device
  (``-o /dev/null`` must not replace the device with a file), a socket;
* a target that is an input of the same command (``build spec.yaml -o spec.yaml`` would
  replace the spec with the artifact): commands pass their inputs to :func:`check_target`.

Every refusal, and every failure to create or rename (a read-only folder, a full disk),
is one :class:`~netspec.errors.WriteError` line: ``cannot write X: <why>``.

**Atomic replacement.** Each file is written to a temporary file in the same folder,
flushed, optionally verified, given a normal file's permissions and moved over the old
name with ``os.replace``, which is atomic on POSIX and Windows: a reader (or a crash) sees
the old file or the new one, never half. The temporary file is removed whatever happens —
an error, Ctrl-C, and SIGTERM or SIGHUP too, which :func:`signals_interrupt` turns into an
exception (:class:`Terminated`) while the CLI runs, so ``finally`` blocks run for them as
they do for Ctrl-C. A torn ``last.pt`` would make ``--resume`` impossible; a half-written
artifact must never be deployed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import BinaryIO

from .errors import WriteError
from .files import kind_of, reason

#: An input of a command and what it is to that command (``("spec.yaml", "the spec")``).
Input = tuple["str | os.PathLike[str]", str]


def check_target(path: str | os.PathLike[str], inputs: Sequence[Input] = ()) -> Path:
    """``path`` if netspec may write it: a regular file or nothing, and none of ``inputs``.

    Symbolic links are followed for the check (a link to a directory is a directory);
    publishing then replaces the link itself, never the file it points to.
    """
    path = Path(path)
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {reason(exc)}") from None
    if not stat.S_ISREG(status.st_mode):
        raise WriteError(
            f"cannot write {path}: it is {kind_of(status.st_mode)}, not a file",
            hint="name a file to write (it may exist; it is then replaced)",
        )
    for name, role in inputs:
        with contextlib.suppress(OSError, ValueError):
            other = os.stat(name)
            if (other.st_dev, other.st_ino) == (status.st_dev, status.st_ino):
                raise WriteError(
                    f"cannot write {path}: it is {role} this command reads",
                    hint="choose another output name",
                )
    return path


def default_output(name: str, suffix: str) -> Path:
    """``NAME<suffix>`` in the current directory, NAME being the spec's name made a plain
    file name (:func:`safe_file_name`)."""
    return Path(safe_file_name(name) + suffix)


def safe_file_name(name: str, fallback: str = "model") -> str:
    """``name`` as one file name: letters, digits, ``-``, ``_`` and ``.`` kept, anything
    else (``/``, NUL, spaces) made ``_``, no leading dot (``..`` and hidden files), at most
    100 characters; ``fallback`` when nothing is left."""
    kept = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).lstrip(".")
    return kept[:100] or fallback


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so that every ``finally`` runs (temporary
    files are removed, a training run says how to resume)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        """128 + the signal's number, as a shell reports a process the signal stopped."""
        return 128 + self.signum


#: The signals that arrived while :func:`signals_interrupt` was active. The exception a
#: handler raises surfaces wherever Python code runs next, which may be a callback inside
#: C code (TorchScript compiling a model): that code can turn it into an error of its own
#: ("... returned a result with an exception set") or drop it. The record survives, so
#: the CLI still reports the signal and nothing is published after it.
_received: list[int] = []


def interrupted_status() -> int:
    """The exit status of a command that stopped for a signal: 130 for Ctrl-C, 128 + N
    for SIGTERM or SIGHUP (a command that handles the interruption itself, as training
    does to say how to resume, returns this)."""
    stopped = interruption()
    return stopped.exit_status if isinstance(stopped, Terminated) else 130


def interruption() -> KeyboardInterrupt | None:
    """The exception for the first signal received while the CLI ran, or None: ``Ctrl-C``
    is a ``KeyboardInterrupt``, SIGTERM and SIGHUP are :class:`Terminated`."""
    if not _received:
        return None
    signum = _received[0]
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread,
    and every signal handled (Ctrl-C too) is recorded for :func:`interruption`.

    Only the CLI installs this (a library must not take over its caller's signals); on
    platforms or threads where handlers cannot be set, the block runs unprotected. A
    signal that is ignored when the block starts (SIGHUP under ``nohup``) stays ignored,
    and Ctrl-C keeps its meaning only where Python's own handler is in place.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    usual = {signal.SIGINT: signal.default_int_handler}
    _received.clear()
    previous = {
        signum: signal.signal(signum, _interrupt)
        for signum in _STOPPING
        if signal.getsignal(signum) is usual.get(signum, signal.SIG_DFL)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _received.clear()


#: The signals that stop a command: Ctrl-C, SIGTERM, and SIGHUP where the platform has it.
_STOPPING = [
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """The handler :func:`signals_interrupt` installs: record the signal, then raise."""
    _received.append(signum)
    raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold back the signals that would raise (Ctrl-C; SIGTERM and SIGHUP while the CLI
    runs) until the block is done, then raise the first of them.

    For a block that must not be cut in half: the files of a training epoch, written after
    its line was printed. Signals that would not raise (ignored, or left to kill the
    process outside the CLI) are left alone; so is everything outside the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    raising = (_interrupt, signal.default_int_handler)
    previous = {
        signum: signal.signal(signum, lambda signum, frame: received.append(signum))
        for signum in _STOPPING
        if signal.getsignal(signum) in raising
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        handler = previous[received[0]]
        assert callable(handler)
        handler(received[0], None)


def _temporary_beside(path: Path) -> Path:
    """An empty temporary file next to ``path``, ending in its suffix (some loaders insist)."""
    import tempfile  # here: `netspec check` imports this module and writes nothing

    check_target(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent
        )
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {reason(exc)}") from None
    os.close(handle)
    return Path(name)


def _publish(temporary: Path, path: Path) -> None:
    # mkstemp creates 0600 files; give the result the permissions of a normal new file.
    umask = os.umask(0)
    os.umask(umask)
    check_target(path)  # again: something may have appeared there while writing
    stopped = interruption()
    if stopped is not None:  # a signal C code swallowed while the file was written
        raise stopped
    try:
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {reason(exc)}") from None


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[Path], None],
    verify: Callable[[Path], None] | None = None,
    inputs: Sequence[Input] = (),
) -> None:
    """Write through ``write(tmp_path)``, run ``verify(tmp_path)``, then rename into place.

    For writers that need a path (``torch.jit.save``, ONNX export). A crash or a failed
    verification leaves no partial file under ``path``. ``inputs`` are the files the
    caller read, which ``path`` must not be (:func:`check_target`).
    """
    path = check_target(path, inputs)
    temporary: Path | None = None
    try:
        with signals_deferred():  # no Ctrl-C between creating the file and knowing its name
            temporary = _temporary_beside(path)
        write(temporary)
        if verify is not None:
            verify(temporary)
        _publish(temporary, path)
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


@contextmanager
def atomic_open(path: str | os.PathLike[str], inputs: Sequence[Input] = ()) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` only when the block completes."""
    path = check_target(path, inputs)
    temporary: Path | None = None
    try:
        with signals_deferred():  # no Ctrl-C between creating the file and knowing its name
            temporary = _temporary_beside(path)
        with open(temporary, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        _publish(temporary, path)
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, inputs: Sequence[Input] = ()
) -> None:
    with atomic_open(path, inputs) as stream:
        stream.write(data)


def atomic_write_text(
    path: str | os.PathLike[str], text: str, inputs: Sequence[Input] = ()
) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), inputs)


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
    import shutil

    source, target = Path(source), check_target(target)
    temp_name = target.with_name(f".{target.name}.link.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp_name)
    try:
        os.link(source, temp_name)
    except OSError:
        with atomic_open(target) as stream, open(source, "rb") as original:
            shutil.copyfileobj(original, stream)
        return
    try:
        os.replace(temp_name, target)
    except OSError as exc:
        os.unlink(temp_name)
        raise WriteError(f"cannot write {target}: {reason(exc)}") from None
