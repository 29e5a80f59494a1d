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
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, Protocol

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
#: A kind's functional form, run by a ``Dataflow`` module: the input tensors, the layer's
#: arguments and the module that runs it (which holds a functional ``scale``'s parameter).
ApplyFn = Callable[[list[Any], Any, Any], Any]

#: How a value's dimensions are ordered: an image channels-first (C, H, W) — every image
#: kind's input —, channels-last (H, W, C) after a ``permute`` (ConvNeXt's Linear layers act
#: on C there), flat features (F,), or another permutation.
CHANNELS_FIRST, CHANNELS_LAST, FLAT, PERMUTED = "CHW", "HWC", "F", "other"


def default_layout(shape: Shape) -> str:
    """The layout of a fresh value of ``shape``: flat for rank 1, channels-first otherwise."""
    return FLAT if len(shape) == 1 else CHANNELS_FIRST


class Input(NamedTuple):
    """One input of a layer, as its shape rule sees it: the value and where it was made."""

    shape: Shape
    layout: str
    #: How messages call it: ``input`` or the name of the layer that made it.
    label: str
    #: Where that layer is written (for the list's input: where the list's owner is).
    span: Span
    #: "from 'conv' at line 5", for messages about this input.
    origin: str


class ShapeContext(Protocol):
    """What a kind's shape rule may ask of the compiler, for the layer being compiled.

    ``kind`` and ``span`` are that layer's; ``module_path`` is its path in the module tree.
    """

    kind: str
    span: Span
    module_path: str
    #: The layout of the (first) input: ``CHW``, ``HWC``, ``F`` or ``other``.
    layout: str
    #: Every input of the layer, in ``from`` order (one for all but the merges).
    inputs: Sequence[Input]
    #: Whether the layer runs as a function in its parent's forward (makes no module).
    functional: bool

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

    def dataflow(
        self,
        layers: Sequence[Located],
        in_shape: Shape,
        *,
        output: Located | None = None,
        repeat: tuple[int, str] | None = None,
    ) -> Inferred:
        """Compile a layer list below this one, with its wiring (``from``, ``if``, functional
        layers) and its ``output`` (default: the last present layer); ``repeat`` is
        (times, index name) for the copies of a ``repeat``."""
        ...


class Builder(Protocol):
    """What builds a node: a kind's :class:`~netspec.blocks.registry.Block`."""

    kind: str
    build: BuildFn
    apply: ApplyFn | None


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
    #: The output's layout, when the rule changes it (``permute``); None: the input's for
    #: an output of the same rank, else channels-first for images and flat for vectors.
    layout: str | None = None
    #: For a list of children with wiring: which value is the output (0 = the input,
    #: i = the i-th child's); None: the last child's.
    output: int | None = None
    #: The receptive field is undefined after this layer (upsampling, transposed conv).
    unknown_field: bool = False

    @classmethod
    def of(
        cls,
        children: list[Node],
        out_shape: Shape | None = None,
        *,
        branches: list[list[Node]] | None = None,
        merge: str | None = None,
        output: int | None = None,
    ) -> Inferred:
        """A container of ``children``: their params and MACs summed, the output child's
        shape (the last one's, or value ``output``) unless ``out_shape`` says otherwise."""
        if out_shape is None:
            out_shape = children[-1 if output is None else output - 1].out_shape
        return cls(
            out_shape,
            params=sum(c.params for c in children),
            macs=sum(c.macs for c in children),
            children=children,
            branches=branches,
            merge=merge,
            output=output,
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
    #: The values this node reads among its siblings' (0 = the list's input, i = the i-th
    #: sibling's output); ``()`` for children of a kind that wires them itself (branches).
    inputs: tuple[int, ...] = ()
    #: False for a functional layer: it runs in its parent's forward and makes no module.
    module: bool = True
    #: The output's layout (:data:`CHANNELS_FIRST`, ...).
    layout: str = CHANNELS_FIRST
    #: For a list owner with wiring: the value that is its output (None: the last child's).
    output: int | None = None
    unknown_field: bool = False

    @property
    def activation_bytes(self) -> int:
        """Bytes of this node's output for one sample, in fp32."""
        return numel(self.out_shape) * BYTES_PER_ELEMENT

    @property
    def receptive_field(self) -> tuple[int, int] | None:
        """(height, width) in input pixels that one output position depends on."""
        return self.rf[0] if self.rf else None

    @property
    def is_chain(self) -> bool:
        """Whether the children run one after another: every child a module reading the
        previous one, the last one the output — an ``nn.Sequential`` builds exactly that."""
        if self.output is not None and self.output != len(self.children):
            return False
        return all(
            child.module and child.inputs in ((), (index,))
            for index, child in enumerate(self.children)
        )

    def walk(self) -> list[tuple[int, Node]]:
        """Pre-order list of (depth, node) below this one, this one excluded."""
        rows: list[tuple[int, Node]] = []
        for child in self.children:
            rows.append((0, child))
            rows.extend((depth + 1, node) for depth, node in child.walk())
        return rows


def assign_receptive_fields(
    nodes: list[Node], rf: Field2 | None, output: int | None = None
) -> Field2 | None:
    """Walk ``nodes`` in order from an input whose field is ``rf``; record each output's.

    Each node starts from the widest field of the values it reads (its inputs among its
    siblings; the previous one in a chain); merges take, per axis, the largest size and
    the smallest jump of their branches (an identity branch keeps the input's; see
    :func:`~netspec.shapes.widest`). The field is not
    clipped to the input: padding lets it grow past the image, and that is what the number
    means in the literature too. Returns the field of value ``output`` (default: the last).
    """
    fields: list[Field2 | None] = [rf]
    for index, node in enumerate(nodes):
        rf = _widest([fields[i] for i in node.inputs or (index,)])
        if node.unknown_field:
            out = None
        elif node.branches is not None:
            ends = [assign_receptive_fields(b, rf) if b else rf for b in node.branches]
            out = _widest(ends)
        elif node.children:
            out = assign_receptive_fields(node.children, rf, node.output)
        elif rf is not None and node.window is not None:
            out = grow(rf, node.window)
        else:
            out = rf
        node.rf = out
        fields.append(out)
    return fields[-1 if output is None else output]


def _widest(fields: list[Field2 | None]) -> Field2 | None:
    """Per axis, the largest field and smallest jump of several values (None where none is
    known)."""
    if len(fields) == 1:
        return fields[0]
    known = [f for f in fields if f is not None]
    return widest(known) if known else None
