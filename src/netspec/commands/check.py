"""``netspec check`` — validate a spec and infer every shape, without importing torch."""

from __future__ import annotations

import argparse

from ..compiler import CompiledSpec, compile_document, read_spec, variant_values
from ..errors import Diagnostic, NetspecError, UsageError
from ..expressions import Value
from ..params import format_value
from ..shapes import format_shape
from ..source import Document
from ._common import add_spec_arguments, load_spec, parse_overrides


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "check",
        help="validate a spec and infer its shapes (fast: no torch)",
        description="Validate SPEC, evaluate its params and infer every tensor shape. "
        "Exit 0 when the spec is valid, 1 when it is not (errors point into the file).",
        epilog="examples:\n  netspec check specs/vgg11.yaml --set ratio=8\n"
        "  netspec check resnet.yaml --variant resnet50\n"
        "  netspec check resnet.yaml --list-variants",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_spec_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing when valid")
    family = parser.add_mutually_exclusive_group()
    family.add_argument(
        "--list-variants",
        action="store_true",
        help="list the spec's variants: the params each sets, its parameters and MACs",
    )
    family.add_argument(
        "--all-variants", action="store_true", help="check every variant of the spec"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.list_variants or args.all_variants) and args.variant is not None:
        flag = "--list-variants" if args.list_variants else "--all-variants"
        raise UsageError(f"{flag} and --variant exclude each other: {flag} covers every variant")
    if args.list_variants:
        print(list_variants(args))
        return 0
    if args.all_variants:
        for spec in _all_variants(args):
            _report(args, spec)
        return 0
    _report(args, load_spec(args))
    return 0


def _report(args: argparse.Namespace, spec: CompiledSpec) -> None:
    if not args.quiet:
        print(
            f"{args.spec}: ok: {spec.name}, input {format_shape(spec.input_shape)} -> output "
            f"{format_shape(spec.output_shape)}, {spec.total_params:,} parameters, "
            f"{len(spec.rows())} modules"
        )


def _family(args: argparse.Namespace, flag: str) -> tuple[Document, dict[str, dict[str, Value]]]:
    """The spec's document and its variants; a spec without variants is misuse of ``flag``."""
    doc = read_spec(str(args.spec))
    variants = variant_values(doc)
    if not variants:
        raise UsageError(
            f"{flag}: {args.spec} defines no variants",
            hint="a spec lists its variants under 'variants:'",
        )
    return doc, variants


def _all_variants(args: argparse.Namespace) -> list[CompiledSpec]:
    """Every variant compiled; the errors of all of them, each noted with its variant."""
    doc, variants = _family(args, "--all-variants")
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
                type(exc)(
                    diagnostics=[
                        Diagnostic(d.message, d.span, d.hint, [*d.notes, note])
                        for d in exc.diagnostics
                    ]
                )
            )
    if failures:
        diagnostics = [d for failure in failures for d in failure.diagnostics]
        raise type(failures[0])(diagnostics=diagnostics)
    return compiled


def list_variants(args: argparse.Namespace) -> str:
    """One line per variant: its name, the params it sets, its parameters and MACs."""
    doc, variants = _family(args, "--list-variants")
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
    lines = [f"{args.spec}: {len(rows)} variants (defaults: {defaults})"]
    for name, sets, count, macs in rows:
        lines.append(
            f"{name:<{widths[0]}}  {sets:<{widths[1]}}  {count:>{widths[2]}}  {macs:>{widths[3]}}"
        )
    return "\n".join(line.rstrip() for line in lines)


def _show(value: object) -> str:
    """``[2, 2, 2, 2]``, ``basic``, ``true``: a param value as the listing shows it."""
    return format_value(value, spaced=True)


def _macs(count: int) -> str:
    """Multiply-accumulates with three decimals in G, M or K (torchvision's ``_ops`` is in G)."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= size:
            return f"{count / size:.3f}{unit}"
    return str(count)
