"""``netspec check`` — validate a spec and infer every shape, without importing torch."""

from __future__ import annotations

import argparse
import sys

from ..errors import printable
from ..limits import parameters_too_large
from ..shapes import format_shape
from ._common import add_spec_arguments, load_spec


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "check",
        help="validate a spec and infer its shapes (fast: no torch)",
        description="Validate SPEC, evaluate its params and infer every tensor shape. "
        "Exit 0 when the spec is valid, 1 when it is not (errors point into the file).",
        epilog="example:\n  netspec check specs/vgg11.yaml --set ratio=8",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_spec_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing when valid")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args)
    too_large = parameters_too_large(spec.total_params)
    if too_large is not None:
        print(
            printable(f"{args.spec}: warning: {too_large}; netspec build will refuse it"),
            file=sys.stderr,
        )
    if not args.quiet:
        print(
            f"{args.spec}: ok: {spec.name}, input {format_shape(spec.input_shape)} -> output "
            f"{format_shape(spec.output_shape)}, {spec.total_params:,} parameters, "
            f"{len(spec.rows())} modules"
        )
    return 0
