"""Arguments and loading shared by every command that takes a spec."""

from __future__ import annotations

import argparse

from ..errors import UsageError
from ..params import CommandLine
from ..spec import Spec, compile_spec


def add_spec_arguments(
    parser: argparse.ArgumentParser, *, optional_because: str = "", several: bool = False
) -> None:
    """SPEC and ``--set NAME=VALUE`` (repeatable).

    ``optional_because`` makes SPEC optional and says why in the help (``train --resume``
    reads the spec from the run directory); ``several`` takes one or more SPECs
    (``netspec check specs/*.yaml``), as a list in ``args.spec``.
    """
    if several:
        parser.add_argument(
            "spec", metavar="SPEC", nargs="+", help="spec files (.yaml, .yml or .json)"
        )
    elif optional_because:
        parser.add_argument(
            "spec", metavar="SPEC", nargs="?",
            help=f"spec file (.yaml, .yml or .json); optional {optional_because}",
        )  # fmt: skip
    else:
        parser.add_argument("spec", metavar="SPEC", help="spec file (.yaml, .yml or .json)")
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="override a param of the spec, e.g. --set ratio=8, --set block=basic, "
        "--set 'depths=[3,4,23,3]' or --set depths=3,4,23,3 (repeatable)",
    )
    parser.add_argument(
        "--variant",
        metavar="NAME",
        help="the member of a family spec to use (its 'variants:'; --set applies on top)",
    )


def parse_overrides(items: list[str]) -> dict[str, CommandLine]:
    """``["ratio=8"]`` → ``{"ratio": CommandLine("8")}``; malformed items are misuse.

    Each value is read once its param's type is known (a word, a list, a number).
    """
    values: dict[str, CommandLine] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name or not text.strip():
            raise UsageError(f"--set expects NAME=VALUE, got '{item}'", code="NS902")
        values[name] = CommandLine(text)
    return values


def load_spec(args: argparse.Namespace, path: str | None = None) -> Spec:
    """Compile the command's SPEC (or ``path``, one of several) with its ``--variant`` and
    ``--set`` overrides."""
    return compile_spec(str(path or args.spec), parse_overrides(args.overrides), args.variant)
