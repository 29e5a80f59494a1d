"""``netspec summary`` — the per-layer table: shapes, params, MACs, receptive field, memory."""

from __future__ import annotations

import argparse

from ._common import add_spec_arguments, load_spec


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "summary",
        help="per-layer table: shapes, params, MACs, receptive field, activation memory",
        description="Print every module of SPEC with its output shape (one sample, no batch "
        "dimension), parameter count, multiply-accumulates, receptive field (the input "
        "window in pixels that one output position sees) and activation memory (its output "
        "for one sample, fp32), and the totals. No torch needed.",
        epilog="examples:\n  netspec summary specs/googlenet.yaml\n"
        "  netspec summary specs/resnet18.yaml --format json > resnet18.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_spec_arguments(parser)
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default: the table) or json (the rows and totals)",
    )
    parser.add_argument(
        "--json",
        dest="format",
        action="store_const",
        const="json",
        help="same as --format json",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..summary import summary_json, summary_table

    spec = load_spec(args)
    if args.format == "json":
        import json

        print(json.dumps(summary_json(spec), indent=2))
    else:
        print(summary_table(spec))
    return 0
