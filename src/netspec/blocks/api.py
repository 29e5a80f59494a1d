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
from ..ir import (
    CHANNELS_FIRST,
    CHANNELS_LAST,
    FLAT,
    PERMUTED,
    BuildChild,
    Inferred,
    Input,
    Node,
    ShapeContext,
)
from ..schema import (
    FloatField,
    FloatsField,
    IntField,
    LayerArgs,
    LayerList,
    NonNegativeInt,
    NumberPair,
    OutputName,
    Padding2,
    PaddingOrSame,
    PositiveInt,
    Probability,
    Size2,
    StrictBool,
    WordField,
)
from ..shapes import Shape, Window, conv_out, format_shape, numel, pool_out
from ..source import Located
from .registry import kind

__all__ = [
    "CHANNELS_FIRST",
    "CHANNELS_LAST",
    "FLAT",
    "PERMUTED",
    "BuildChild",
    "Diagnostic",
    "FloatField",
    "FloatsField",
    "Inferred",
    "Input",
    "IntField",
    "LayerArgs",
    "LayerList",
    "Located",
    "Node",
    "NonNegativeInt",
    "NumberPair",
    "OutputName",
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
    "WordField",
    "build_list",
    "conv_out",
    "format_shape",
    "input_notes",
    "input_phrase",
    "kind",
    "numel",
    "pool_out",
    "require_channels_first",
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
    require_channels_first(ctx, shape)
    c, h, w = shape
    return c, h, w


def require_channels_first(ctx: ShapeContext, shape: Shape) -> None:
    """Image kinds read channels at dimension 1: refuse a permuted (channels-last) input."""
    if ctx.layout == CHANNELS_LAST:
        what = f"the channels-last {format_shape(shape)}"
    elif ctx.layout == PERMUTED:
        what = f"the permuted {format_shape(shape)}"
    else:
        return
    ctx.fail(
        f"needs a channels-first (C, H, W) input but gets {what} {ctx.came_from()}",
        hint="permute back first: permute: {dims: [0, 3, 1, 2]}",
        code="NS407",
    )


def input_phrase(value: Input) -> str:
    """How a merge's message names one of its inputs: "input 'b' (line 5)"."""
    if value.label == "input":
        return f"the list's input (line {value.span.line})"
    return f"input '{value.label}' (line {value.span.line})"


def input_notes(*values: Input) -> list[tuple[str, Span | None]]:
    """Notes that point at where each of ``values`` is made."""
    return [
        ("the list's input is here" if v.label == "input" else f"'{v.label}' is here", v.span)
        for v in values
    ]


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


def build_list(node: Node, build_child: BuildChild) -> Any:
    """The module of a layer list: an ``nn.Sequential`` of the node's children (under their
    names) when they run one after another, else a :class:`netspec.modules.Dataflow` that
    runs them as the spec wires them. Functional children are steps of the Dataflow, not
    modules; one with parameters (``scale``) keeps them on the Dataflow under its name."""
    from collections import OrderedDict

    from torch import nn

    from ..modules import Dataflow, Step

    if node.is_chain:
        return nn.Sequential(OrderedDict((c.name, build_child(c)) for c in node.children))
    modules: list[tuple[str, Any]] = []
    parameters: list[tuple[str, Any]] = []
    steps: list[Step] = []
    for child in node.children:
        if child.module:
            modules.append((child.name, build_child(child)))
            steps.append(Step(child.name, child.inputs))
            continue
        assert child.block is not None and child.block.apply is not None, child.kind
        if child.params:
            parameters.append((child.name, child.block.build(child, build_child)))
        steps.append(Step(child.name, child.inputs, child.kind, child.block.apply, child.args))
    output = node.output if node.output is not None else len(node.children)
    return Dataflow(modules, steps, output, node.in_shape, parameters)
