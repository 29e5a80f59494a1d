"""``scale`` — a learnable scale per channel: ``weight * x`` (ConvNeXt's layer scale).

As a module it is ``netspec.modules.Scale`` with the parameter ``weight``. With
``functional: true`` it makes no module: its parameter sits directly on the enclosing
module under the layer's ``name``, as torchvision's ``CNBlock.layer_scale`` does — so the
state_dict key is ``features.1.0.layer_scale``. The parameter is (C, 1, 1) on a
channels-first image and (C,) on flat features or a channels-last image.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .api import (
    CHANNELS_FIRST,
    PERMUTED,
    BuildChild,
    FloatField,
    Inferred,
    LayerArgs,
    Node,
    Shape,
    ShapeContext,
    format_shape,
    kind,
)


@kind("scale", example="scale: {init: 0.000001}")
class Scale(LayerArgs):
    """Multiply by a learnable scale per channel (functional: a parameter of the parent)."""

    init: FloatField(-1e6, 1e6) = Field(1.0, description="initial value of every scale")  # type: ignore[valid-type]

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        if ctx.layout == PERMUTED:
            ctx.fail(
                f"scales channels, but gets the permuted {format_shape(shape)} {ctx.came_from()}",
                hint="permute to channels-first [0, 3, 1, 2] or channels-last [0, 2, 3, 1]",
                code="NS407",
            )
        return Inferred(shape, params=_shape(shape, ctx.layout)[0])

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        import torch
        from torch import nn

        from ..modules import Scale as ScaleModule

        shape = _shape(node.in_shape, node.layout)
        if not node.module:  # the enclosing Dataflow keeps it under the layer's name
            return nn.Parameter(torch.full(shape, float(node.args.init)))
        return ScaleModule(shape, node.args.init)

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        return getattr(owner, args.name) * inputs[0]


def _shape(shape: Shape, layout: str) -> tuple[int, ...]:
    """The parameter's shape: one value per channel, shaped to broadcast over positions."""
    if layout == CHANNELS_FIRST and len(shape) == 3:
        return (shape[0], 1, 1)
    return (shape[-1],)
