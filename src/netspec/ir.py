"""The intermediate representation: one :class:`Node` per module, known before torch is.

The compiler (:mod:`netspec.compiler`) produces a tree of nodes; each kind's shape rule
reports its part as an :class:`Inferred`; ``summary``, ``graph`` and the receptive-field
pass read the tree; :mod:`netspec.build` turns it into ``nn.Module`` objects. Nothing here
imports torch or the compiler, so block kinds, the compiler and the back end can all
import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .shapes import BYTES_PER_ELEMENT, Field2, Shape, Window, grow, numel, widest

if TYPE_CHECKING:
    from .errors import Span


@dataclass
class Inferred:
    """What a block's shape rule reports: output shape, parameter and MAC counts, children.

    A block whose children run as parallel branches (``concat``, ``add``, ``inception``)
    also reports them as ``branches`` (lists of its children, an empty list for an identity
    branch) and how they are merged, so the receptive field and the graph follow the wiring.
    """

    out_shape: Shape
    params: int = 0
    macs: int = 0
    children: list[Node] = field(default_factory=list)
    window: Window | None = None
    branches: list[list[Node]] | None = None
    merge: str | None = None


@dataclass
class Node:
    """One module of the compiled network, with everything known about it before torch.

    The tree of nodes mirrors the module tree that :mod:`netspec.build` creates, so the
    summary's module paths are exactly the keys of the built model's ``state_dict``.
    """

    kind: str
    name: str
    path: str
    args: Any
    in_shape: Shape
    out_shape: Shape
    params: int
    macs: int
    span: Span
    children: list[Node] = field(default_factory=list)
    #: The block that builds this node (a built-in or the merge a user block inlines);
    #: ``None`` means "look the kind up in the registry".
    block: Any = None
    window: Window | None = None
    branches: list[list[Node]] | None = None
    merge: str | None = None
    #: Receptive field at this node's output, filled in by :func:`assign_receptive_fields`;
    #: ``None`` for networks on flat (non-image) input.
    rf: Field2 | None = None

    @property
    def activation_bytes(self) -> int:
        """Bytes of this node's output for one sample, in fp32."""
        return numel(self.out_shape) * BYTES_PER_ELEMENT

    @property
    def receptive_field(self) -> tuple[int, int] | None:
        """(height, width) in input pixels that one output position depends on."""
        return self.rf[0] if self.rf else None

    def walk(self) -> list[tuple[int, Node]]:
        """Pre-order list of (depth, node) below this one, this one excluded."""
        rows: list[tuple[int, Node]] = []
        for child in self.children:
            rows.append((0, child))
            rows.extend((depth + 1, node) for depth, node in child.walk())
        return rows


def assign_receptive_fields(nodes: list[Node], rf: Field2 | None) -> Field2 | None:
    """Walk ``nodes`` in order from an input whose field is ``rf``; record each output's.

    Sequential containers thread the field through their children; merges take, per axis,
    the largest size and jump of their branches (an identity branch keeps the input's).
    The field is not clipped to the input: padding lets it grow past the image, and that
    is what the number means in the literature too.
    """
    for node in nodes:
        if node.branches is not None:
            ends = [assign_receptive_fields(b, rf) if b else rf for b in node.branches]
            known = [end for end in ends if end is not None]
            out = widest(known) if known else None
        elif node.children:
            out = assign_receptive_fields(node.children, rf)
        elif rf is not None and node.window is not None:
            out = grow(rf, node.window)
        else:
            out = rf
        node.rf = out
        rf = out
    return rf
