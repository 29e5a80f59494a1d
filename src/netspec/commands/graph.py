"""``netspec graph`` — draw the network (SVG/PNG/PDF via Graphviz, or DOT/Mermaid text)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from ._common import add_spec_arguments, load_spec


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "graph",
        help="draw the network: one box per layer with kind and output shape",
        description="Draw SPEC: one box per module with its kind and output shape, blocks "
        "as frames, branches and merges as they are wired. SVG, PNG and PDF are rendered by "
        "Graphviz's 'dot' program (the system package 'graphviz': apt-get install graphviz, "
        "brew install graphviz, conda install graphviz); DOT and Mermaid are written as "
        "text and need no Graphviz. The format comes from the output's suffix (.svg .png "
        ".pdf .dot .gv .mmd) unless --format says otherwise; without -o, pictures go to "
        "NAME.svg (NAME being the spec's name made a plain file name) and text to stdout.",
        epilog="examples:\n  netspec graph specs/resnet18.yaml -o resnet18.svg\n"
        "  netspec graph specs/googlenet.yaml --depth 2 -o googlenet.png\n"
        "  netspec graph specs/densenet.yaml --format mermaid > densenet.mmd",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_spec_arguments(parser)
    parser.add_argument("-o", "--output", metavar="FILE", help="where to write the graph")
    parser.add_argument(
        "--format",
        choices=("svg", "png", "pdf", "dot", "mermaid"),
        help="output format (default: from the suffix of -o, else svg)",
    )
    parser.add_argument(
        "--depth",
        type=int,
        metavar="N",
        help="draw blocks nested deeper than N levels as a single box (default: all levels)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..atomic import atomic_write_text, check_target, default_output
    from ..graph import RENDERED, SUFFIXES, network_graph, render, to_dot, to_mermaid

    out = Path(args.output) if args.output else None
    fmt = args.format
    if fmt is None and out is not None:
        fmt = SUFFIXES.get(out.suffix.lower())
        if fmt is None:
            raise UsageError(
                f"cannot tell the format of '{out}' from its suffix",
                hint="use .svg, .png, .pdf, .dot, .gv or .mmd, or say --format",
            )
    fmt = fmt or "svg"
    if args.depth is not None and args.depth < 0:
        raise UsageError(f"--depth must be 0 or more, got {args.depth}")
    spec = load_spec(args)
    inputs = [(name, "a spec file") for name in spec.files]
    if fmt in RENDERED:
        out = out or default_output(spec.name, f".{fmt}")
    if out is not None:
        check_target(out, inputs)
    graph = network_graph(spec, args.depth)
    text = to_mermaid(graph) if fmt == "mermaid" else to_dot(graph)
    if out is None:
        print(text, end="")
        return 0
    if fmt in RENDERED:
        render(text, out, fmt, inputs)
    else:
        atomic_write_text(out, text, inputs)
    print(f"wrote {out}")
    return 0
