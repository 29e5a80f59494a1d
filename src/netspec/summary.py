"""The per-layer table of ``netspec summary``, computed from the node tree alone (no torch)."""

from __future__ import annotations

from .compiler import CompiledSpec
from .shapes import format_shape


def human(n: int) -> str:
    """1234567 → '1.23M': short counts for the totals line."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def summary_table(spec: CompiledSpec) -> str:
    """Module path, kind, output shape, parameters and multiply-accumulates per module.

    Nested modules are indented under their parent, whose row shows the subtree's totals;
    the totals line counts each parameter and MAC once.
    """
    header = ("module", "kind", "output", "params", "MACs")
    rows = [("input", "", format_shape(spec.input_shape), "", "")]
    for depth, node in spec.rows():
        rows.append(
            (
                "  " * depth + node.path,
                node.kind,
                format_shape(node.out_shape),
                f"{node.params:,}",
                f"{node.macs:,}",
            )
        )
    total = (
        "total",
        "",
        format_shape(spec.output_shape),
        f"{spec.total_params:,}",
        f"{spec.total_macs:,}",
    )
    widths = [max(len(r[i]) for r in [header, *rows, total]) for i in range(5)]

    def line(r: tuple[str, ...]) -> str:
        left = [r[i].ljust(widths[i]) for i in range(3)]
        right = [r[i].rjust(widths[i]) for i in range(3, 5)]
        return "  ".join(left + right).rstrip()

    rule = "-" * len(line(header))
    title = f"{spec.name}: {spec.description}" if spec.description else spec.name
    out = [title, "", line(header), rule, *(line(r) for r in rows), rule, line(total)]
    out.append(
        f"{spec.total_params:,} parameters ({human(spec.total_params)}), "
        f"{human(spec.total_macs)} multiply-accumulates per sample"
    )
    return "\n".join(out)
