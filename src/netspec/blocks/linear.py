"""``linear`` — a fully connected layer (``nn.Linear``); in-features are inferred.

It takes flat features (F,), or a channels-last image (H, W, C) after a ``permute``, where
it acts on C at every position (ConvNeXt's pointwise Linear layers).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .api import (
    CHANNELS_LAST,
    BuildChild,
    Inferred,
    LayerArgs,
    Node,
    PositiveInt,
    Shape,
    ShapeContext,
    StrictBool,
    format_shape,
    kind,
    numel,
    require_stated,
)


@kind("linear", example="linear: {out: 10}")
class Linear(LayerArgs):
    """Fully connected layer. ``in`` (input features) is inferred; stating it adds a check."""

    out: PositiveInt = Field(description="output features", examples=[4096])
    bias: StrictBool = Field(True, description="learn an additive bias")
    in_features: PositiveInt | None = Field(
        None,
        alias="in",
        description="input features (inferred; stating it adds a check)",
        examples=[6400],
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        if len(shape) != 1 and ctx.layout != CHANNELS_LAST:
            ctx.fail(
                f"needs a flat input but gets {format_shape(shape)} {ctx.came_from()}",
                hint="add '- flatten' before this layer",
                code="NS403",
            )
        # Flat (F,), or channels-last (H, W, C): it acts on the last dimension at each
        # position, as ConvNeXt's Linear layers do after a permute.
        features = shape[-1]
        require_stated(ctx, self.in_features, features, "input features", shape)
        params = features * self.out + (self.out if self.bias else 0)
        positions = numel(shape) // features
        return Inferred(
            (*shape[:-1], self.out), params=params, macs=positions * features * self.out
        )

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return nn.Linear(node.in_shape[-1], node.args.out, bias=node.args.bias)
