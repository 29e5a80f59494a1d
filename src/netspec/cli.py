"""The ``netspec`` command line: one subcommand per module in ``netspec.commands``.

User mistakes end as compiler-style messages on stderr and exit status 1; command-line
misuse exits 2 (as argparse does). No user mistake shows a Python traceback. :func:`main`
is the one place that renders an error and chooses the exit status — both are data of the
error (:attr:`~netspec.errors.NetspecError.exit_status`, ``prefix``); commands only raise.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .commands import COMMANDS
from .errors import NetspecError
from .version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netspec",
        description="netspec compiles YAML/JSON network specs into validated, shape-checked "
        "PyTorch modules and deployable artifacts.",
        epilog="example:\n  netspec check specs/alexnet.yaml\n  netspec build specs/alexnet.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"netspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except NetspecError as exc:
        print(exc.render("netspec", args.command), file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
