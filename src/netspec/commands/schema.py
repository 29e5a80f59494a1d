"""``netspec schema`` — write the JSON Schema of the spec language, for editors."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "schema",
        help="write the JSON Schema of the spec language (editor completion)",
        description="Write the JSON Schema of netspec specs, generated from the same models "
        "the compiler validates with: every kind and field with its description and "
        "examples. Point your editor at it with a first line such as "
        "'# yaml-language-server: $schema=../schema/netspec.schema.json' (VS Code's YAML "
        "extension and other yaml-language-server clients), or map it to '*.yaml' in your "
        "editor's settings.",
        epilog="examples:\n  netspec schema -o schema/netspec.schema.json\n"
        "  netspec schema | jq '.\"$defs\".layer'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..langschema import schema_text

    text = schema_text()
    if args.output:
        from ..atomic import atomic_write_text

        out = Path(args.output)
        atomic_write_text(out, text)
        print(f"wrote {out}")
    else:
        print(text, end="")
    return 0
