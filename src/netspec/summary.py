"""The per-layer table of ``netspec summary``, computed from the node tree alone (no torch).

Each row gives a module's output shape, parameters, multiply-accumulates, receptive field
(the input window one output position depends on, in pixels) and activation memory (its
output for one sample in fp32). Functional layers have rows too, their paths written
``parent.(add)`` so that they cannot be taken for state_dict keys; in a network with
wiring a ``reads`` column names what each row reads when it is not the row before. The
same rows are available as JSON for tools.
"""

from __future__ import annotations

from typing import Any

from .compiler import CompiledSpec
from .ir import Node
from .limits import human_bytes
from .shapes import format_shape


def human(n: int) -> str:
    """1234567 → '1.23M': short counts for the totals line."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def _field(node: Node) -> str:
    rf = node.receptive_field
    return f"{rf[0]}x{rf[1]}" if rf else "-"


def materialised(node: Node) -> bool:
    """Whether the forward pass makes a new tensor for this node's output.

    A leaf module does, and so does a merge (its ``cat`` or sum); a sequential container
    only hands on its last child's output, which is counted there.
    """
    return not node.children or node.branches is not None


def reads(spec: CompiledSpec) -> dict[int, list[str]]:
    """For each node (by id) that does not read the one before it: what it reads, by name."""
    found: dict[int, list[str]] = {}
    for parent in [spec.root, *(node for _, node in spec.rows())]:
        if parent.branches is not None:
            continue  # branches run in order from the merge's input
        labels = ["input"] + [c.name or f"({c.kind})" for c in parent.children]
        for index, child in enumerate(parent.children):
            if child.inputs and child.inputs != (index,):
                found[id(child)] = [labels[i] for i in child.inputs]
    return found


def wired(spec: CompiledSpec, found: dict[int, list[str]]) -> bool:
    """Whether any layer is functional or reads something other than the layer before it
    (``found`` is :func:`reads`); then the table shows a ``reads`` column, and plain
    chains keep the table they always had."""
    return bool(found) or any(not node.module for _, node in spec.rows())


def activation_total(spec: CompiledSpec) -> int:
    """Bytes of every tensor one sample's forward pass makes (fp32), each counted once."""
    return sum(node.activation_bytes for _, node in spec.rows() if materialised(node))


def summary_table(spec: CompiledSpec) -> str:
    """Module path, kind, output shape, params, MACs, receptive field and activations.

    Nested modules are indented under their parent, whose row shows the subtree's totals;
    the totals line counts each parameter and MAC once.
    """
    found = reads(spec)
    show_reads = wired(spec, found)
    header = ("module", "kind", "output", "params", "MACs", "RF", "activations", "reads")
    rows = [("input", "", format_shape(spec.input_shape), "", "", "", "", "")]
    for depth, node in spec.rows():
        rows.append(
            (
                "  " * depth + node.path,
                node.kind,
                format_shape(node.out_shape),
                f"{node.params:,}",
                f"{node.macs:,}",
                _field(node),
                human_bytes(node.activation_bytes),
                ", ".join(found.get(id(node), [])),
            )
        )
    activations = activation_total(spec)
    total = (
        "total",
        "",
        format_shape(spec.output_shape),
        f"{spec.total_params:,}",
        f"{spec.total_macs:,}",
        _field(spec.root),
        human_bytes(activations),
        "",
    )
    columns = len(header) if show_reads else len(header) - 1
    widths = [max(len(r[i]) for r in [header, *rows, total]) for i in range(columns)]

    def line(r: tuple[str, ...]) -> str:
        left = [r[i].ljust(widths[i]) for i in range(3)]
        right = [r[i].rjust(widths[i]) for i in range(3, 7)]
        last = ["  " + r[7]] if show_reads else []
        return ("  ".join(left + right) + "".join(last)).rstrip()

    rule = "-" * len(line(header))
    title = f"{spec.name}: {spec.description}" if spec.description else spec.name
    out = [title, "", line(header), rule, *(line(r) for r in rows), rule, line(total)]
    out.append(
        f"{spec.total_params:,} parameters ({human(spec.total_params)}), "
        f"{human(spec.total_macs)} multiply-accumulates and "
        f"{human_bytes(activations)} of activations per sample (fp32)"
    )
    return "\n".join(out)


def summary_json(spec: CompiledSpec) -> dict[str, Any]:
    """The table as JSON-ready data: one row per module, plus the totals.

    A network with wiring also gives each row ``module`` (false for a functional layer)
    and ``reads`` (the names it reads, when not the layer before it).
    """
    found = reads(spec)
    show_reads = wired(spec, found)
    rows = []
    for depth, node in spec.rows():
        row = {
            "path": node.path,
            "name": node.name,
            "kind": node.kind,
            "depth": depth,
            "output_shape": list(node.out_shape),
            "params": node.params,
            "macs": node.macs,
            "receptive_field": list(node.rf[0]) if node.rf else None,
            "jump": list(node.rf[1]) if node.rf else None,
            "activation_bytes": node.activation_bytes,
        }
        if show_reads:
            row["module"] = node.module
            row["reads"] = found.get(id(node), [])
        rows.append(row)
    return {
        "name": spec.name,
        "description": spec.description,
        "input_shape": list(spec.input_shape),
        "output_shape": list(spec.output_shape),
        "rows": rows,
        "totals": {
            "params": spec.total_params,
            "macs": spec.total_macs,
            "activation_bytes": activation_total(spec),
            "receptive_field": list(spec.root.rf[0]) if spec.root.rf else None,
            "modules": len(rows),
        },
    }
