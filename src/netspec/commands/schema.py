"""``netspec schema`` — the JSON Schema of the spec language, for editors."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "schema",
        help="write the JSON Schema of the spec language (editor completion)",
        description="Write the JSON Schema of netspec specs, generated from the same models "
        "the compiler validates with: every kind and field with its description and "
        "examples. The installed package ships a copy: --path prints where it is. Point "
        "your editor at it with a first line '# yaml-language-server: $schema=PATH' "
        "(VS Code's YAML extension and other yaml-language-server clients), or map it to "
        "'*.netspec.yaml' in your editor's settings (docs/authoring.md shows how).",
        epilog="examples:\n  netspec schema --path\n"
        "  netspec schema -o .vscode/netspec.schema.json\n"
        "  netspec schema | jq '.\"$defs\".layer'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    where.add_argument(
        "--path",
        action="store_true",
        help="print the path of the schema file inside the installed package",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.path:
        return _print_installed_path()
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


def _print_installed_path() -> int:
    from ..errors import NetspecError
    from ..langschema import installed_schema_path

    path = installed_schema_path()
    if not path.is_file():
        raise NetspecError(
            f"this installation of netspec has no schema file ({path} is missing)",
            hint="reinstall netspec, or write the schema yourself with 'netspec schema -o FILE'",
        )
    print(path)
    return 0
