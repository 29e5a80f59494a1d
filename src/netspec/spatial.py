"""Which image sizes a network accepts, decided by its own shape rules (no torch).

A network whose layers all work at any height and width — convolutions, pooling, merges —
and that removes the spatial dimensions before its classifier (global average pooling,
``gap``), is the same network at another image size: same layers, same arguments, same
parameters, same output. Such a network can be exported with a dynamic height and width
(``netspec build --dynamic-size``), and ``netspec predict`` then feeds each image at its
own size instead of resizing it. A network with a ``flatten`` of a feature map before its
linear layers (LeNet, AlexNet, VGG) is not: its first linear layer's input count follows
the image size.

Whether that holds is asked of the shape stage itself, not of a list of kinds: the spec is
compiled again at other sizes (:func:`netspec.compiler.compile_document` with another
``input_shape``) and the node trees are compared. The smallest size is the smallest at
which every size-dependent tensor is still at least 2×2 (``torch.export`` specialises
dimensions of size 1, and a program that works only from that size on is what is exported).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .compiler import MAX_INPUT_SIDE, CompiledSpec, compile_document
from .errors import ExportError, NetspecError
from .ir import Node
from .shapes import format_shape


@dataclass(frozen=True)
class SizeRange:
    """The image heights and widths an artifact takes (``dynamic_hw`` in its metadata)."""

    min_height: int
    min_width: int
    max_height: int = MAX_INPUT_SIDE
    max_width: int = MAX_INPUT_SIDE

    def admits(self, height: int, width: int) -> bool:
        return (
            self.min_height <= height <= self.max_height
            and self.min_width <= width <= self.max_width
        )

    def as_metadata(self) -> dict[str, int]:
        return {
            "min_height": self.min_height,
            "min_width": self.min_width,
            "max_height": self.max_height,
            "max_width": self.max_width,
        }

    @classmethod
    def from_metadata(cls, data: Any) -> SizeRange | None:
        """The range an artifact's metadata states; None for a fixed-size artifact."""
        if not isinstance(data, dict):
            return None
        return cls(
            int(data["min_height"]),
            int(data["min_width"]),
            int(data.get("max_height", MAX_INPUT_SIDE)),
            int(data.get("max_width", MAX_INPUT_SIDE)),
        )


def dynamic_size_range(spec: CompiledSpec) -> SizeRange:
    """The sizes ``spec``'s network takes unchanged, or an :class:`ExportError` saying why
    its shape rules fix the input size."""
    if len(spec.input_shape) != 3:
        raise ExportError(
            f"--dynamic-size needs an image input [C, H, W]; {spec.name} takes flat "
            f"features {format_shape(spec.input_shape)}",
            code="NS607",
        )
    _, height, width = spec.input_shape
    probe = _Probe(spec)
    # The largest sizes first: they tell a flatten before a linear layer apart (a size one
    # pixel larger can give the same feature count after pooling).
    for size in ((2 * height, 2 * width), (2 * height + 1, 2 * width + 1)):
        reason = probe.why_not(*size)
        if reason is not None:
            raise ExportError(
                f"--dynamic-size: {spec.name}'s layers depend on the input size: {reason}",
                hint="networks that end in global average pooling ('gap') before their "
                "classifier take any size; a 'flatten' of a feature map fixes it",
                code="NS607",
            )
    low_height = _smallest(lambda h: probe.why_not(h, width) is None, height)
    low_width = _smallest(lambda w: probe.why_not(height, w) is None, width)
    for size in ((low_height, low_width), (low_height + 1, low_width + 1), (height + 1, width + 3)):
        reason = probe.why_not(*size)
        if reason is not None:
            raise ExportError(
                f"--dynamic-size: {spec.name} does not take every size from "
                f"{low_width}x{low_height} on: {reason}",
                code="NS607",
            )
    return SizeRange(low_height, low_width)


def _smallest(accepts: Any, nominal: int) -> int:
    """The smallest size in 1..nominal that ``accepts`` (which accepts ``nominal``), by
    bisection: shape rules of convolutions and pooling are monotone in the size."""
    low, high = 1, nominal
    while low < high:
        middle = (low + high) // 2
        if accepts(middle):
            high = middle
        else:
            low = middle + 1
    return low


class _Probe:
    """Compiles a spec at other image sizes and compares the result with the original."""

    def __init__(self, spec: CompiledSpec) -> None:
        self.spec = spec
        self.nominal = list(_leaves(spec.root))

    def why_not(self, height: int, width: int) -> str | None:
        """None when the network at ``height`` × ``width`` is the original one with every
        size-dependent tensor at least 2×2; else the reason, in a user's words."""
        channels = self.spec.input_shape[0]
        where = f"at {width}x{height}"
        try:
            other = compile_document(
                self.spec.document, dict(self.spec.params), input_shape=(channels, height, width)
            )
        except NetspecError as exc:
            return f"{where}, {exc.diagnostics[0].message}"
        if other.output_shape != self.spec.output_shape:
            return (
                f"{where} the output would be {format_shape(other.output_shape)} instead of "
                f"{format_shape(self.spec.output_shape)}"
            )
        leaves = list(_leaves(other.root))
        if len(leaves) != len(self.nominal):
            return f"{where} the network would have other layers"
        for mine, theirs in zip(self.nominal, leaves, strict=True):
            reason = _differs(mine, theirs)
            if reason is not None:
                return f"{where} {reason}"
        return None


def _leaves(node: Node) -> Any:
    """Every node below ``node`` in module order (containers included)."""
    for _, child in node.walk():
        yield child


def _same(mine: Any, theirs: Any) -> bool:
    """Equal arguments; a user block's argument model is a class made per compilation, so
    its fields are compared, not its identity."""
    if hasattr(mine, "model_dump") and hasattr(theirs, "model_dump"):
        return type(mine).__name__ == type(theirs).__name__ and (
            mine.model_dump() == theirs.model_dump()
        )
    return bool(mine == theirs)


def _differs(mine: Node, theirs: Node) -> str | None:
    """Why ``theirs`` (compiled at another size) is not the same layer as ``mine``."""
    place = f"'{mine.kind}' at line {mine.span.line} (module '{mine.path}')"
    # A container's arguments hold its (unevaluated) layers; its children are compared.
    same_args = bool(mine.children) or _same(mine.args, theirs.args)
    if mine.kind != theirs.kind or mine.path != theirs.path or not same_args:
        return f"{place} would be another layer (its arguments follow the input size)"
    if mine.params != theirs.params:
        return (
            f"{place} would take {format_shape(theirs.in_shape)} instead of "
            f"{format_shape(mine.in_shape)}"
        )
    if len(mine.out_shape) != 3 and mine.out_shape != theirs.out_shape:
        return (
            f"{place} would give {format_shape(theirs.out_shape)} instead of "
            f"{format_shape(mine.out_shape)}"
        )
    if len(theirs.out_shape) == 3 and theirs.out_shape != mine.out_shape:
        _, height, width = theirs.out_shape
        if height < 2 or width < 2:
            return f"{place} would give {format_shape(theirs.out_shape)}"
    return None
