"""``netspec graph`` — a picture of the network, from the node tree alone (no torch).

One box per module with its kind and output shape; containers (groups, user blocks) are
drawn as labelled clusters around their layers; merges fan their input out to every
branch and join the branch outputs in a ``concat`` or ``add`` box, with identity branches
drawn as an edge straight to the merge. In a layer list with wiring, each layer gets an
edge from every value it reads (``from``); functional layers, which make no module, are
drawn with a dashed border. The graph is written as Graphviz DOT
(rendered to SVG/PNG/PDF by Graphviz's ``dot`` program, a system package) or as a Mermaid
flowchart (text that GitHub and most doc tools render, no Graphviz needed).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import Input, atomic_write
from .compiler import CompiledSpec
from .errors import NetspecError
from .ir import Node
from .shapes import format_shape

#: Output formats that Graphviz renders, and the text formats netspec writes itself.
RENDERED = ("svg", "png", "pdf")
SUFFIXES = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
SUFFIXES.update({".mmd": "mermaid", ".mermaid": "mermaid"})

#: Fill colours by kind, so the eye finds convolutions, pools and merges at a glance.
_COLOURS = {
    "conv": "#dbe8fb",
    "linear": "#e6dcf5",
    "maxpool": "#dcf1df",
    "avgpool": "#dcf1df",
    "gap": "#dcf1df",
    "batchnorm": "#fbf1d0",
    "concat": "#fde0c8",
    "add": "#fde0c8",
    "mul": "#fde0c8",
}
_PLAIN = "#f2f2f2"
_AUTO_NAME = re.compile(r"^\d+(_\d+)?$")


class GraphError(NetspecError):
    """A picture cannot be rendered: Graphviz's ``dot`` is missing or failed."""

    stage = "graph"
    default_code = "NS620"


@dataclass
class Box:
    """One drawn node: a layer, a collapsed block, a merge, or the input."""

    id: str
    lines: list[str]
    colour: str
    shape: str = "box"
    #: A functional layer (no module): drawn with a dashed border.
    dashed: bool = False


@dataclass
class Cluster:
    """A container drawn as a frame around its contents."""

    id: str
    label: str
    items: list[Box | Cluster] = field(default_factory=list)
    #: Boxes to keep on one row, left to right (the first layer of each branch), so that
    #: branch 1 is drawn left of branch 2 as in the spec.
    row: list[str] = field(default_factory=list)


@dataclass
class Graph:
    """The drawing, independent of the output language."""

    title: str
    root: Cluster
    edges: list[tuple[str, str, str]] = field(default_factory=list)


def _detail(node: Node) -> str:
    """Kernel and stride of windowed layers ('3x3 /2'), the rest of a layer's label."""
    window = node.window
    if window is None or node.kind in ("gap", "flatten"):
        return ""
    k, s = window.kernel, window.stride
    text = f" {k[0]}x{k[1]}"
    if s != (1, 1):
        text += f" /{s[0]}" if s[0] == s[1] else f" /{s[0]}x{s[1]}"
    return text


def network_graph(spec: CompiledSpec, depth: int | None = None) -> Graph:
    """Lay out the node tree; containers deeper than ``depth`` are drawn as one box."""
    counter = [0]
    graph = Graph(spec.name, Cluster("root", spec.name))

    def new_id(prefix: str = "n") -> str:
        counter[0] += 1
        return f"{prefix}{counter[0]}"

    def box(node: Node, into: Cluster, *, collapsed: bool = False) -> str:
        named = "" if not node.name or _AUTO_NAME.match(node.name) else f"{node.name}: "
        kind = f"{named}{node.kind}{'' if collapsed else _detail(node)}"
        if collapsed:
            kind += " [...]"
        # A one-layer user block is drawn in the colour of the layer it is.
        built_as = node.block.kind if node.block is not None else node.kind
        colour = _COLOURS.get(node.kind) or _COLOURS.get(built_as, _PLAIN)
        item = Box(new_id(), [kind, format_shape(node.out_shape)], colour, dashed=not node.module)
        into.items.append(item)
        return item.id

    def emit(node: Node, sources: list[str], into: Cluster, level: int) -> str:
        if not node.children or (depth is not None and level >= depth):
            target = box(node, into, collapsed=bool(node.children))
            graph.edges.extend((source, target, "") for source in sources)
            return target
        frame = Cluster(new_id("cluster_"), f"{node.path}: {node.kind}")
        into.items.append(frame)
        if node.branches is None:
            return emit_list(node.children, sources[0], frame, level + 1, node.output)
        ends = []
        for branch in node.branches:
            end = sources[0]
            for position, child in enumerate(branch):
                end = emit(child, [end], frame, level + 1)
                if position == 0 and isinstance(frame.items[-1], Box):
                    frame.row.append(end)
            ends.append((end, "" if branch else "identity"))
        merge = Box(
            new_id(),
            [node.merge or "merge", format_shape(node.out_shape)],
            _COLOURS["concat"],
            "ellipse",
        )
        frame.items.append(merge)
        graph.edges.extend((end, merge.id, label) for end, label in ends)
        return merge.id

    def emit_list(
        children: list[Node], source: str, into: Cluster, level: int, output: int | None
    ) -> str:
        """Each child from the values it reads (the previous one in a chain)."""
        values = [source]
        for index, child in enumerate(children):
            reads = [values[i] for i in child.inputs or (index,)]
            values.append(emit(child, reads, into, level))
        return values[-1 if output is None else output]

    first = Box(new_id(), ["input", format_shape(spec.input_shape)], "#ffffff", "ellipse")
    graph.root.items.append(first)
    emit_list(spec.root.children, first.id, graph.root, 0, spec.root.output)
    return graph


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_label(lines: list[str]) -> str:
    """Lines of a box as one DOT string, joined by DOT's centred line break."""
    return '"' + "\\n".join(_dot_quote(line)[1:-1] for line in lines) + '"'


def to_dot(graph: Graph) -> str:
    """Graphviz DOT text of the graph (top to bottom)."""
    out = [
        "digraph netspec {",
        f"  graph [rankdir=TB, ordering=out, label={_dot_quote(graph.title)}, labelloc=t,",
        '         fontsize=14, fontname="Helvetica", nodesep=0.25, ranksep=0.3];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10,',
        '        margin="0.12,0.04", height=0.3];',
        '  edge [arrowsize=0.6, color="#555555", fontname="Helvetica", fontsize=9];',
    ]

    def emit(items: list[Box | Cluster], indent: str) -> None:
        for item in items:
            if isinstance(item, Box):
                style = ', style="rounded,filled,dashed"' if item.dashed else ""
                out.append(
                    f"{indent}{item.id} [label={_dot_label(item.lines)}, "
                    f"fillcolor={_dot_quote(item.colour)}, "
                    f"shape={item.shape}{style}];"
                )
            else:
                out.append(f"{indent}subgraph {item.id} {{")
                out.append(
                    f"{indent}  label={_dot_quote(item.label)}; labeljust=l; fontsize=10; "
                    'style="rounded,dashed"; color="#9a9a9a";'
                )
                emit(item.items, indent + "  ")
                if len(item.row) > 1:
                    out.append(f"{indent}  {{rank=same; {'; '.join(item.row)};}}")
                    out.append(f"{indent}  {' -> '.join(item.row)} [style=invis];")
                out.append(f"{indent}}}")

    emit(graph.root.items, "  ")
    for source, target, label in graph.edges:
        extra = f" [label={_dot_quote(label)}, style=dashed]" if label else ""
        out.append(f"  {source} -> {target}{extra};")
    out.append("}")
    return "\n".join(out) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(graph: Graph) -> str:
    """A Mermaid flowchart of the graph, for Markdown docs."""
    out = ["flowchart TB"]

    def emit(items: list[Box | Cluster], indent: str) -> None:
        for item in items:
            if isinstance(item, Box):
                label = _mermaid_text("<br/>".join(item.lines))
                opening, closing = ("([", "])") if item.shape == "ellipse" else ("[", "]")
                out.append(f'{indent}{item.id}{opening}"{label}"{closing}')
                dashed = ",stroke-dasharray: 4 3" if item.dashed else ""
                out.append(f"{indent}style {item.id} fill:{item.colour}{dashed}")
            else:
                out.append(f'{indent}subgraph {item.id} ["{_mermaid_text(item.label)}"]')
                emit(item.items, indent + "  ")
                out.append(f"{indent}end")

    emit(graph.root.items, "  ")
    for source, target, label in graph.edges:
        arrow = f" -.->|{label}| " if label else " --> "
        out.append(f"  {source}{arrow}{target}")
    return "\n".join(out) + "\n"


def render(dot_text: str, out: Path, fmt: str, inputs: Sequence[Input] = ()) -> None:
    """Run Graphviz's ``dot`` to draw ``dot_text`` into ``out`` as ``fmt`` (atomically;
    ``out`` must not be one of ``inputs``, the files the caller read)."""
    program = shutil.which("dot")
    if program is None:
        raise GraphError(
            f"cannot draw {out}: Graphviz's 'dot' program is not installed",
            hint="install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew "
            "install graphviz; conda: conda install graphviz), or write text that needs no "
            "Graphviz: --format mermaid, or -o FILE.dot",
        )

    def draw(temporary: Path) -> None:
        try:
            result = subprocess.run(
                [program, f"-T{fmt}", "-o", str(temporary)],
                input=dot_text,
                text=True,
                capture_output=True,
                timeout=300,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GraphError(f"Graphviz's 'dot' took too long to draw {out}") from None
        if result.returncode != 0:
            raise GraphError(
                f"Graphviz's 'dot' failed to draw {out}: {result.stderr.strip() or 'no message'}"
            )

    atomic_write(out, draw, inputs=inputs)
