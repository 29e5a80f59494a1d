"""``layernorm`` — layer normalisation over channels (images) or the last dimension.

On a channels-first image (C, H, W) it normalises the C values at each position, as
torchvision's ``convnext.LayerNorm2d`` does (``netspec.modules.LayerNorm2d``, the same
parameters as ``nn.LayerNorm(C)``); on flat features or a channels-last (H, W, C) image, it
normalises the last dimension (``nn.LayerNorm``).
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
    StrictBool,
    format_shape,
    kind,
)


@kind("layernorm", example="layernorm: {eps: 0.000001}")
class LayerNorm(LayerArgs):
    """Layer norm over channels of (C, H, W), or over the last dimension of (F,) / (H, W, C)."""

    eps: FloatField(0.0, 1.0) = Field(1e-5, description="added to the variance")  # type: ignore[valid-type]
    affine: StrictBool = Field(True, description="learn a scale and a shift per channel")

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        if ctx.layout == PERMUTED:
            ctx.fail(
                f"normalises channels or the last dimension, but gets the permuted "
                f"{format_shape(shape)} {ctx.came_from()}",
                hint="permute to channels-first [0, 3, 1, 2] or channels-last [0, 2, 3, 1]",
                code="NS407",
            )
        channels = shape[0] if ctx.layout == CHANNELS_FIRST and len(shape) == 3 else shape[-1]
        return Inferred(shape, params=2 * channels if self.affine else 0)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        from ..modules import LayerNorm2d

        args: LayerNorm = node.args
        if node.layout == CHANNELS_FIRST and len(node.in_shape) == 3:
            return LayerNorm2d(node.in_shape[0], eps=args.eps, elementwise_affine=args.affine)
        return nn.LayerNorm(node.in_shape[-1], eps=args.eps, elementwise_affine=args.affine)
