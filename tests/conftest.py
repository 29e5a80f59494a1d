"""Shared fixtures: paths of the shipped specs and a helper to write spec files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from netspec.formats import FORMATS

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
SRC = ROOT / "src"
#: The default file name ending of each artifact format.
SUFFIXES = {name: entry.suffix for name, entry in FORMATS.items()}
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session", autouse=True)
def own_cache_and_data_dirs(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Keep the suite out of the user's ``~/.cache/netspec``: decoded-image caches and the
    default dataset folder (where a missing Fashion-MNIST would be downloaded) live in the
    session's temporary folder, for this process and the CLIs it starts."""
    saved = {name: os.environ.get(name) for name in ("NETSPEC_CACHE_DIR", "NETSPEC_DATA_DIR")}
    os.environ["NETSPEC_CACHE_DIR"] = str(tmp_path_factory.mktemp("netspec-cache"))
    os.environ["NETSPEC_DATA_DIR"] = str(tmp_path_factory.mktemp("netspec-data"))
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def signals_at_default():  # type: ignore[no-untyped-def]
    """Ctrl-C, SIGTERM and SIGHUP as a terminal delivers them, for the tests that send them.

    Under ``nohup`` SIGHUP is ignored, and a background job of a shell without job control
    ignores SIGINT; netspec (rightly) keeps an ignored signal ignored, and child processes
    inherit the disposition — so without this those tests would fail for their launcher."""
    import signal

    wanted = {
        signal.SIGINT: signal.default_int_handler,
        signal.SIGTERM: signal.SIG_DFL,
        signal.SIGHUP: signal.SIG_DFL,
    }
    saved = {signum: signal.signal(signum, handler) for signum, handler in wanted.items()}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.fixture
def write_spec(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write spec text to a file in tmp_path and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def cli_env() -> dict[str, str]:
    """Environment for running ``python -m netspec`` from this checkout in a subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def single_thread():  # type: ignore[no-untyped-def]
    """Run a module's tests on one torch thread, then restore the count.

    For tests of small batches: one thread is as fast there, and immune to the stalls two
    threads suffer when other processes keep the cores busy.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def netspec_on_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose ``netspec`` command runs this checkout, as an installed one would.

    For tests of what calls ``netspec`` by name: completion scripts, pre-commit hooks.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "netspec"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m netspec "$@"\n')
    shim.chmod(0o755)
    env = cli_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env
