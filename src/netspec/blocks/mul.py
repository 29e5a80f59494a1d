"""``mul`` — multiply earlier layers elementwise, with broadcasting: ``a * b * ...``.

Squeeze-excitation gates a feature map (C, H, W) by per-channel weights (C, 1, 1):
``mul: {from: [scale_activation, input]}``. Every input has the same rank, and each size is
equal to the others' or 1. There is no torch module for it: it is always functional.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .api import (
    BuildChild,
    Inferred,
    LayerArgs,
    Node,
    Shape,
    ShapeContext,
    format_shape,
    input_notes,
    input_phrase,
    kind,
)


@kind("mul", example="mul: {from: [input, input]}")
class Mul(LayerArgs):
    """Elementwise product of the layers named in 'from', broadcasting sizes of 1."""

    many_inputs: ClassVar[bool] = True
    always_functional: ClassVar[bool] = True

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        inputs = ctx.inputs
        if len(inputs) < 2:
            ctx.fail(
                "mul needs two or more inputs in 'from'",
                hint="e.g. mul: {from: [gate, input]}",
                code="NS405",
            )
        out = list(inputs[0].shape)
        for index, value in enumerate(inputs[1:], 1):
            fits = len(value.shape) == len(out) and all(
                a == b or 1 in (a, b) for a, b in zip(value.shape, out, strict=True)
            )
            if not fits:
                first = inputs[0]
                ctx.fail(
                    f"{input_phrase(value)} gives {format_shape(value.shape)}, which does not "
                    f"broadcast with {format_shape(tuple(out))} from {input_phrase(first)}: "
                    "each size must be equal or 1",
                    at=ctx.where("from", index),
                    hint="a gate per channel is (C, 1, 1): pool it to 1x1 first (adaptive_avgpool)",
                    notes=input_notes(value, first),
                    code="NS404",
                )
            out = [max(a, b) for a, b in zip(value.shape, out, strict=True)]
        return Inferred(tuple(out))

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        raise AssertionError("mul is always functional")  # the compiler says so

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        product = inputs[0]
        for value in inputs[1:]:
            product = product * value
        return product
