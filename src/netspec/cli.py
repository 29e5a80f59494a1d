"""The ``netspec`` command line: one subcommand per module in ``netspec.commands``.

User mistakes end as compiler-style messages on stderr and exit status 1; command-line
misuse exits 2 (as argparse does). :func:`main` is the one place that renders an error and
chooses the exit status — both are data of the error
(:attr:`~netspec.errors.NetspecError.exit_status`, ``prefix``); commands only raise.
Nothing escapes it as a traceback: an exception that is not a ``NetspecError`` (a bug, or
the machine: memory, a disk) ends as one line that names it and the exit status, and
``--debug`` prints the traceback as well.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
import warnings
from collections.abc import Sequence

from .atomic import Terminated, interruption, signals_interrupt
from .commands import COMMANDS
from .errors import NetspecError, printable
from .files import reason
from .version import __version__

#: Exit status of an error netspec did not expect: a bug, to be reported with --debug.
INTERNAL_ERROR_STATUS = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netspec",
        description="netspec compiles YAML/JSON network specs into validated, shape-checked "
        "PyTorch modules and deployable artifacts.",
        epilog="example:\n  netspec check specs/alexnet.yaml\n  netspec build specs/alexnet.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"netspec {__version__}")
    _add_debug(parser, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).register(sub)
    for command in sub.choices.values():
        _add_debug(command, argparse.SUPPRESS)
    return parser


def _add_debug(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="on an error, also print the Python traceback; show the warnings torch and PIL "
        "log (without it they are silenced: netspec reports what went wrong itself)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    silenced = logging.root.manager.disable
    if not debug:
        # Warnings and below, from every logger: torch configures its loggers' levels when it
        # is imported (after this), so only the global switch reliably holds.
        logging.disable(logging.WARNING)
    try:
        with signals_interrupt(), warnings.catch_warnings():
            if not debug:
                # Python warnings too (torch's deprecations, PIL's DecompressionBombWarning):
                # netspec says itself what went wrong; nothing of netspec's own warns.
                warnings.simplefilter("ignore")
            return _run(args, debug)
    finally:
        logging.disable(silenced)


def _run(args: argparse.Namespace, debug: bool) -> int:
    """The command, and the one place where any error it raises becomes one line."""
    try:
        try:
            return int(args.func(args))
        except Exception:
            # A signal whose exception C code turned into an error of its own (or that
            # a library caught and re-raised as another) is still reported as the signal.
            stopped = interruption()
            if stopped is None:
                raise
            raise stopped from None
    except NetspecError as exc:
        if debug:
            traceback.print_exc()
        print(exc.render("netspec", args.command), file=sys.stderr)
        return exc.exit_status
    except Terminated as exc:
        print(f"terminated ({exc.name})", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the last resort: whatever it is, one line and a status
        if debug:
            traceback.print_exc()
        status, line = unexpected(exc)
        print(f"netspec {args.command}: {line}", file=sys.stderr)
        return status


def unexpected(exc: BaseException) -> tuple[int, str]:
    """Exit status and line for an exception that is not a NetspecError.

    Memory and operating-system errors are the machine's (exit status 1); anything else
    is a bug in netspec (:data:`INTERNAL_ERROR_STATUS`), reported with what ``--debug``
    shows.
    """
    if isinstance(exc, MemoryError):
        status, what = 1, "error: out of memory"
    elif isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        status, what = 1, f"error: {reason(exc)}{where}"
    else:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        status = INTERNAL_ERROR_STATUS
        what = f"internal error: {type(exc).__name__}" + (f": {first}" if first else "")
    return status, printable(f"{what} (exit status {status}; --debug shows the traceback)")


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
