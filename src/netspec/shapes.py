"""Stage 4 — shapes as pure integer arithmetic (this module never imports torch).

The formulas are the ones PyTorch documents for ``nn.Conv2d`` and the pooling layers, kept
here as small pure functions (as timm keeps its padding formulas) so that every block's
shape rule and the summary table use the same arithmetic, and so that ``netspec check``
can compute every tensor shape of a network in microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import Span

#: Shape of one sample, without the batch dimension: (C, H, W) or (F,).
Shape = tuple[int, ...]


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one axis (``nn.Conv2d`` formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_out(
    size: int,
    kernel: int,
    stride: int,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length of max/avg pooling along one axis, ``ceil_mode`` included."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    # PyTorch drops a last window that would start entirely inside the right padding.
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def format_shape(shape: Shape) -> str:
    """``(64, 112, 112)`` — how shapes are shown in messages and in the summary."""
    return "(" + ", ".join(str(d) for d in shape) + ")"


def numel(shape: Shape) -> int:
    """Number of elements of one sample of this shape."""
    total = 1
    for d in shape:
        total *= d
    return total


#: Bytes of one activation element: summaries assume fp32, as training does by default.
BYTES_PER_ELEMENT = 4
#: Receptive field of a position: (size, jump) per axis, in input pixels. ``jump`` is the
#: distance in input pixels between neighbouring positions of the feature map.
Field2 = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class Window:
    """The sliding window of a conv or pool (per axis), which is all a receptive field needs.

    Layers without a window (activations, batch norm, linear on vectors) keep the receptive
    field they receive; global layers (``gap``, ``flatten``) declare a window as large as
    their input, since each output sees the whole feature map.
    """

    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)


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


def grow(rf: Field2, window: Window) -> Field2:
    """Receptive field after one window: r' = r + (k - 1)·d·j and j' = j·s, per axis."""
    (rh, rw), (jh, jw) = rf
    k, s, d = window.kernel, window.stride, window.dilation
    return (
        (rh + (k[0] - 1) * d[0] * jh, rw + (k[1] - 1) * d[1] * jw),
        (jh * s[0], jw * s[1]),
    )


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
            out: Field2 | None = None
            if known:
                out = (
                    (max(f[0][0] for f in known), max(f[0][1] for f in known)),
                    (max(f[1][0] for f in known), max(f[1][1] for f in known)),
                )
        elif node.children:
            out = assign_receptive_fields(node.children, rf)
        elif rf is not None and node.window is not None:
            out = grow(rf, node.window)
        else:
            out = rf
        node.rf = out
        rf = out
    return rf
