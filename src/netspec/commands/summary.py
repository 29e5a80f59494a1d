"""``netspec summary`` — the per-layer table: path, kind, output shape, params, MACs."""

from __future__ import annotations

import argparse

from ._common import add_spec_arguments, load_spec


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "summary",
        help="print a per-layer table of shapes, parameters and MACs",
        description="Print every module of SPEC with its output shape (one sample, no batch "
        "dimension), parameter count and multiply-accumulates, and the totals. No torch needed.",
        epilog="example:\n  netspec summary specs/googlenet.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_spec_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..summary import summary_table

    print(summary_table(load_spec(args)))
    return 0
