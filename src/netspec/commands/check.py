"""``netspec check`` — validate specs and infer every shape, without importing torch.

Several files may be checked at once (``netspec check specs/*.yaml``): each is checked on
its own, and the exit status is the worst of them (0 valid, 1 invalid, 2 misuse). The
errors of each file are data here, not the end of the command: they are collected and
reported together, as compiler-style text (what ``netspec.cli.main`` prints for any
other command), as a JSON list or as a SARIF log (:mod:`netspec.diagnostics`).

A family spec (one with ``variants:``) is checked as its default network, or as the
``--variant`` named; ``--all-variants`` checks every member and ``--list-variants`` prints
one line per member (the params it sets, its parameters and multiply-accumulates).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from ..compiler import CompiledSpec, compile_document, read_spec, variant_values
from ..errors import Diagnostic, NetspecError, UsageError, printable
from ..expressions import Value
from ..limits import parameters_too_large
from ..params import format_value
from ..shapes import format_shape
from ..source import Document
from ._common import add_spec_arguments, load_spec, parse_overrides

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
        "  netspec check specs/*.yaml --format sarif > netspec.sarif\n"
        "  netspec check resnet.yaml --variant resnet50\n"
        "  netspec check resnet.yaml --list-variants",
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
    family = parser.add_mutually_exclusive_group()
    family.add_argument(
        "--list-variants",
        action="store_true",
        help="list each spec's variants: the params each sets, its parameters and MACs",
    )
    family.add_argument(
        "--all-variants", action="store_true", help="check every variant of each spec"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _refuse_flags_that_exclude_each_other(args)
    if args.list_variants:
        print("\n".join(list_variants(args, path) for path in args.spec))
        return 0
    failures: list[tuple[str, NetspecError]] = []
    warnings: list[tuple[str, Diagnostic]] = []
    for path in args.spec:
        try:
            specs = _all_variants(args, path) if args.all_variants else [load_spec(args, path)]
        except NetspecError as error:
            failures.append((path, error))
            if args.format == "text":
                separator = "\n" if len(failures) > 1 else ""
                print(separator + error.render("netspec", "check"), file=sys.stderr)
            continue
        for spec in specs:
            warning = _too_large_warning(spec.total_params)
            if warning is not None:
                warnings.append((path, warning))
                if args.format == "text":
                    print(printable(f"{path}: warning: {warning.message}"), file=sys.stderr)
        if args.format == "text" and not args.quiet:
            for spec in specs:
                print(
                    f"{path}: ok: {spec.name}, input {format_shape(spec.input_shape)} -> "
                    f"output {format_shape(spec.output_shape)}, {spec.total_params:,} "
                    f"parameters, {len(spec.rows())} modules"
                )
    if args.format != "text":
        _print_report(args.format, failures, warnings)
    return max((error.exit_status for _, error in failures), default=0)


def _refuse_flags_that_exclude_each_other(args: argparse.Namespace) -> None:
    flag = "--list-variants" if args.list_variants else "--all-variants"
    if (args.list_variants or args.all_variants) and args.variant is not None:
        raise UsageError(
            f"{flag} and --variant exclude each other: {flag} covers every variant",
            code="NS904",
        )
    if args.list_variants and args.format != "text":
        raise UsageError(
            f"--list-variants prints a table; leave out --format {args.format}", code="NS904"
        )


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


def _family(path: str, flag: str) -> tuple[Document, dict[str, dict[str, Value]]]:
    """The spec's document and its variants; a spec without variants is misuse of ``flag``."""
    doc = read_spec(path)
    variants = variant_values(doc)
    if not variants:
        raise UsageError(
            f"{flag}: {path} defines no variants",
            hint="a spec lists its variants under 'variants:'",
            code="NS904",
        )
    return doc, variants


def _all_variants(args: argparse.Namespace, path: str) -> list[CompiledSpec]:
    """Every variant compiled; the errors of all of them, each noted with its variant."""
    doc, variants = _family(path, "--all-variants")
    overrides = parse_overrides(args.overrides)
    compiled: list[CompiledSpec] = []
    failures: list[NetspecError] = []
    for name in variants:
        try:
            compiled.append(compile_document(doc, overrides, name))
        except UsageError:
            raise  # a --set mistake is the same for every variant
        except NetspecError as exc:
            note = (f"with --variant {name}", None)
            failures.append(
                type(exc)(diagnostics=[replace(d, notes=[*d.notes, note]) for d in exc.diagnostics])
            )
    if failures:
        diagnostics = [d for failure in failures for d in failure.diagnostics]
        raise type(failures[0])(diagnostics=diagnostics)
    return compiled


def list_variants(args: argparse.Namespace, path: str) -> str:
    """One line per variant: its name, the params it sets, its parameters and MACs."""
    doc, variants = _family(path, "--list-variants")
    overrides = parse_overrides(args.overrides)
    canonical = compile_document(doc, overrides)
    varied = list(dict.fromkeys(key for values in variants.values() for key in values))
    defaults = " ".join(f"{key}={_show(canonical.params[key])}" for key in varied)
    rows = []
    for name, values in variants.items():
        spec = compile_document(doc, overrides, name)
        sets = " ".join(f"{key}={_show(value)}" for key, value in values.items())
        rows.append((name, sets, f"{spec.total_params:,} params", f"{_macs(spec.total_macs)} MACs"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"{path}: {len(rows)} variants (defaults: {defaults})"]
    for name, sets, count, macs in rows:
        lines.append(
            f"{name:<{widths[0]}}  {sets:<{widths[1]}}  {count:>{widths[2]}}  {macs:>{widths[3]}}"
        )
    return "\n".join(line.rstrip() for line in lines)


def _show(value: object) -> str:
    """``[2, 2, 2, 2]``, ``basic``, ``true``: a param value as the listing shows it; a table
    (a list of rows, MobileNetV3's block settings) as ``[15 rows]``, which keeps a line per
    variant readable — the rows themselves are in the spec."""
    if isinstance(value, (list, tuple)) and any(isinstance(row, (list, tuple)) for row in value):
        return f"[{len(value)} row{'s' if len(value) != 1 else ''}]"
    return format_value(value, spaced=True)


def _macs(count: int) -> str:
    """Multiply-accumulates with three decimals in G, M or K (torchvision's ``_ops`` is in G)."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= size:
            return f"{count / size:.3f}{unit}"
    return str(count)
