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


@dataclass
class Inferred:
    """What a block's shape rule reports: output shape, parameter and MAC counts, children."""

    out_shape: Shape
    params: int = 0
    macs: int = 0
    children: list[Node] = field(default_factory=list)


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

    def walk(self) -> list[tuple[int, Node]]:
        """Pre-order list of (depth, node) below this one, this one excluded."""
        rows: list[tuple[int, Node]] = []
        for child in self.children:
            rows.append((0, child))
            rows.extend((depth + 1, node) for depth, node in child.walk())
        return rows
