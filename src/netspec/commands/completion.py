"""``netspec completion`` — shell completion scripts for bash, zsh and fish."""

from __future__ import annotations

import argparse

from ..completion import SHELLS


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print the completion script for SHELL: subcommands, flags and their "
        "choices, spec files, the param names of the spec on the command line after "
        "--set and its variant names after --variant. Install it once; the script calls "
        "'netspec completion --params SPEC' (and --variants) while you type.",
        epilog="examples:\n"
        '  eval "$(netspec completion bash)"        # in ~/.bashrc\n'
        '  eval "$(netspec completion zsh)"         # in ~/.zshrc\n'
        "  netspec completion fish > ~/.config/fish/completions/netspec.fish",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("shell", nargs="?", choices=SHELLS, help="bash, zsh or fish")
    what.add_argument(
        "--params", metavar="SPEC", help="print the param names of SPEC (used by the scripts)"
    )
    what.add_argument(
        "--variants", metavar="SPEC", help="print the variant names of SPEC (used by the scripts)"
    )
    # The subcommands' parsers, read when the script is written (they are all registered
    # by then): the script is generated from them and cannot drift from the CLI.
    parser.set_defaults(func=run, subcommands=sub.choices)


def run(args: argparse.Namespace) -> int:
    from ..completion import script, spec_names  # the script writer: only when asked

    if args.params or args.variants:
        key, path = ("params", args.params) if args.params else ("variants", args.variants)
        for name in spec_names(path, key):
            print(name)
        return 0
    print(script(args.shell, args.subcommands), end="")
    return 0
