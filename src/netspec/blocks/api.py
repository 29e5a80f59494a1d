"""The block API: everything a kind's file may import, and nothing more.

A kind is one file in this package that declares its argument model with
:func:`kind` and gives it two methods::

    @kind("identity")
    class Identity(LayerArgs):
        \"\"\"Passes its input through unchanged (``nn.Identity``).\"\"\"

        def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
            return Inferred(shape)          # the shape rule: pure integers

        @staticmethod
        def build(node: Node, build_child: BuildChild) -> Any:
            from torch import nn            # torch only when building

            return nn.Identity()

``infer`` sees the validated fields as ``self`` and reports the output shape, parameter
and MAC counts (and child nodes, for containers) as an :class:`Inferred`; the
:class:`ShapeContext` reports errors at the layer and compiles child layers. ``build``
turns the compiled :class:`Node` (``node.args`` holds the fields, ``node.in_shape`` the
input shape) into an ``nn.Module``. The shared shape checks below word the common
mistakes the same way for every kind.
"""

from __future__ import annotations

from typing import Any

from ..errors import Diagnostic, SchemaError, Span
from ..ir import BuildChild, Inferred, Node, ShapeContext
from ..schema import (
    FloatField,
    IntField,
    LayerArgs,
    LayerList,
    NonNegativeInt,
    Padding2,
    PaddingOrSame,
    PositiveInt,
    Probability,
    Size2,
    StrictBool,
)
from ..shapes import Shape, Window, conv_out, format_shape, numel, pool_out
from ..source import Located
from .registry import kind

__all__ = [
    "BuildChild",
    "Diagnostic",
    "FloatField",
    "Inferred",
    "IntField",
    "LayerArgs",
    "LayerList",
    "Located",
    "Node",
    "NonNegativeInt",
    "Padding2",
    "PaddingOrSame",
    "PositiveInt",
    "Probability",
    "SchemaError",
    "Shape",
    "ShapeContext",
    "Size2",
    "Span",
    "StrictBool",
    "Window",
    "build_sequential",
    "conv_out",
    "format_shape",
    "kind",
    "numel",
    "pool_out",
    "require_image",
    "require_positive",
    "require_stated",
]


def require_image(ctx: ShapeContext, shape: Shape) -> tuple[int, int, int]:
    """Insist on a (C, H, W) input; explain where a flat input came from otherwise."""
    if len(shape) != 3:
        ctx.fail(
            f"needs a (C, H, W) input but gets the flat shape {format_shape(shape)} "
            f"{ctx.came_from()}",
            hint="image layers must come before 'flatten'",
            code="NS403",
        )
    c, h, w = shape
    return c, h, w


def require_stated(
    ctx: ShapeContext, stated: int | None, actual: int, what: str, shape: Shape, field: str = "in"
) -> None:
    """A user may state in-channels/in-features; then it must match what arrives."""
    if stated is not None and stated != actual:
        ctx.fail(
            f"'{field}' says {stated} {what} but the input {format_shape(shape)} "
            f"{ctx.came_from()} has {actual}",
            field=field,
            hint=f"remove '{field}' (netspec infers it) or fix the layers before this one",
            code="NS402",
        )


def require_positive(ctx: ShapeContext, shape: Shape, out_hw: tuple[int, int], why: str) -> None:
    """A window that does not fit the feature map leaves nothing: say which and why."""
    if out_hw[0] < 1 or out_hw[1] < 1:
        ctx.fail(
            f"{why} does not fit the input {format_shape(shape)} {ctx.came_from()}: "
            f"the output would be {out_hw[0]}x{out_hw[1]}",
            field="kernel",
            hint="use a smaller kernel or stride, more padding, or a larger input",
            code="NS401",
        )


def build_sequential(node: Node, build_child: BuildChild) -> Any:
    """An ``nn.Sequential`` of the node's children, under their names (index or explicit)."""
    from collections import OrderedDict

    from torch import nn

    return nn.Sequential(OrderedDict((c.name, build_child(c)) for c in node.children))
