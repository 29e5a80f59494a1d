"""The intermediate representation: one :class:`Node` per module, known before torch is.

The compiler (:mod:`netspec.compiler`) produces a tree of nodes; each kind's shape rule
reports its part as an :class:`Inferred`, given a :class:`ShapeContext` — the contract
between the compiler and the kinds, so that kinds never import the compiler;
``summary``, ``graph`` and the receptive-field pass read the tree; :mod:`netspec.build`
turns it into ``nn.Module`` objects. Nothing here imports torch or the compiler, so the
kinds, the compiler and the back end can all import it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from .shapes import BYTES_PER_ELEMENT, Field2, Shape, Window, grow, numel, widest

if TYPE_CHECKING:
    from .errors import Span
    from .source import Located, Step

#: Builds one child node into a module (a builder gets it to build its children).
BuildChild = Callable[["Node"], Any]
#: A kind's builder: the node and :data:`BuildChild`, returning an ``nn.Module``.
BuildFn = Callable[["Node", BuildChild], Any]
#: A kind's shape rule: its validated arguments, the input shape and a context.
InferFn = Callable[[Any, Shape, "ShapeContext"], "Inferred"]


class ShapeContext(Protocol):
    """What a kind's shape rule may ask of the compiler, for the layer being compiled.

    ``kind`` and ``span`` are that layer's; ``module_path`` is its path in the module tree.
    """

    kind: str
    span: Span
    module_path: str

    def fail(
        self,
        message: str,
        *,
        field: str | None = None,
        hint: str | None = None,
        at: Span | None = None,
        notes: Sequence[tuple[str, Span | None]] = (),
        code: str | None = None,
    ) -> NoReturn:
        """Raise a shape error about this layer, located at one of its fields or at ``at``.

        ``code`` is the message's stable code (``NS401``); without one it is ``NS400``.
        """
        ...

    def came_from(self) -> str:
        """Where this layer's input was produced ("from 'conv' at line 5"), for messages."""
        ...

    def where(self, *path: Step) -> Span:
        """Where a field (or an item of one) of this layer's arguments is written."""
        ...

    def layer(self, kind: str, **args: Any) -> Located:
        """A layer this kind adds itself, located at this layer (it borrows the span)."""
        ...

    def sequence(
        self, layers: Sequence[Located], in_shape: Shape, *, prefix: str = "", names: str = ""
    ) -> list[Node]:
        """Compile child layers in order below this one; unnamed ones are ``{names}{i}``."""
        ...

    def child(self, name: str, layer: Located, in_shape: Shape) -> Node:
        """Compile one child module called ``name``."""
        ...


class Builder(Protocol):
    """What builds a node: a kind's :class:`~netspec.blocks.registry.Block`."""

    kind: str
    build: BuildFn


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

    @classmethod
    def of(
        cls,
        children: list[Node],
        out_shape: Shape | None = None,
        *,
        branches: list[list[Node]] | None = None,
        merge: str | None = None,
    ) -> Inferred:
        """A container of ``children``: their params and MACs summed, the last one's output
        shape unless ``out_shape`` says otherwise."""
        return cls(
            out_shape if out_shape is not None else children[-1].out_shape,
            params=sum(c.params for c in children),
            macs=sum(c.macs for c in children),
            children=children,
            branches=branches,
            merge=merge,
        )


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
    #: The block that builds this node: its kind's, or for a user block the one of the
    #: layer it consists of (or ``group``'s, for several layers).
    block: Builder | None = None
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
