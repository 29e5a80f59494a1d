"""``netspec check`` — validate specs and infer every shape, without importing torch.

Several files may be checked at once (``netspec check specs/*.yaml``): each is checked on
its own, and the exit status is the worst of them (0 valid, 1 invalid, 2 misuse). The
errors of each file are data here, not the end of the command: they are collected and
reported together, as compiler-style text (what ``netspec.cli.main`` prints for any
other command), as a JSON list or as a SARIF log (:mod:`netspec.diagnostics`).
"""

from __future__ import annotations

import argparse
import sys

from ..errors import Diagnostic, NetspecError, printable
from ..limits import parameters_too_large
from ..shapes import format_shape
from ._common import add_spec_arguments, load_spec

#: ``--format`` choices: for people, for scripts, for code-scanning tools.
FORMATS = ("text", "json", "sarif")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "check",
        help="validate specs and infer their shapes (fast: no torch)",
        description="Validate each SPEC, evaluate its params and infer every tensor shape. "
        "Exit 0 when every spec is valid, 1 when one is not (errors point into the file), "
        "2 on misuse. --format json prints a list of diagnostics (severity, code, "
        "message, file, line, column, end, hint, notes); --format sarif prints a SARIF "
        "2.1.0 log for code-scanning tools such as GitHub's.",
        epilog="examples:\n  netspec check specs/vgg11.yaml --set ratio=8\n"
        "  netspec check specs/*.yaml --format json\n"
        "  netspec check specs/*.yaml --format sarif > netspec.sarif",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_spec_arguments(parser, several=True)
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default: compiler-style, errors on stderr), json or sarif (on stdout)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing when valid")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    failures: list[tuple[str, NetspecError]] = []
    warnings: list[tuple[str, Diagnostic]] = []
    for path in args.spec:
        try:
            spec = load_spec(args, path)
        except NetspecError as error:
            failures.append((path, error))
            if args.format == "text":
                separator = "\n" if len(failures) > 1 else ""
                print(separator + error.render("netspec", "check"), file=sys.stderr)
            continue
        warning = _too_large_warning(spec.total_params)
        if warning is not None:
            warnings.append((path, warning))
            if args.format == "text":
                print(printable(f"{path}: warning: {warning.message}"), file=sys.stderr)
        if args.format == "text" and not args.quiet:
            print(
                f"{path}: ok: {spec.name}, input {format_shape(spec.input_shape)} -> output "
                f"{format_shape(spec.output_shape)}, {spec.total_params:,} parameters, "
                f"{len(spec.rows())} modules"
            )
    if args.format != "text":
        _print_report(args.format, failures, warnings)
    return max((error.exit_status for _, error in failures), default=0)


def _too_large_warning(parameters: int) -> Diagnostic | None:
    """A warning (the exit status stays 0) when ``netspec build`` would refuse the network:
    the words and the code (NS501) of that refusal."""
    too_large = parameters_too_large(parameters)
    if too_large is None:
        return None
    return Diagnostic(f"{too_large}; netspec build will refuse it", code="NS501")


def _print_report(
    fmt: str, failures: list[tuple[str, NetspecError]], warnings: list[tuple[str, Diagnostic]]
) -> None:
    import json

    from ..diagnostics import diagnostics_json, sarif_log

    if fmt == "json":
        report = diagnostics_json(failures, warnings)
    else:
        report = sarif_log(failures, warnings=warnings)
    print(json.dumps(report, indent=2, ensure_ascii=False))
