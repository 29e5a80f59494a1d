"""``channel_split`` — one of ``parts`` equal slices of the channels: ``x.chunk(parts, 1)[take]``.

ShuffleNetV2 splits its input in two halves and sends each its own way; two layers
``channel_split: {take: 0}`` and ``{take: 1, from: input}`` do that. There is no torch
module for it, so it is always functional (no module, no position).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from .api import (
    BuildChild,
    Inferred,
    LayerArgs,
    Node,
    NonNegativeInt,
    PositiveInt,
    Shape,
    ShapeContext,
    kind,
    require_channels_first,
)


@kind("channel_split", example="channel_split: {parts: 3, take: 1}")
class ChannelSplit(LayerArgs):
    """Slice ``take`` of the channels cut into ``parts`` equal slices (functional only)."""

    always_functional: ClassVar[bool] = True

    parts: PositiveInt = Field(2, description="how many equal slices", examples=[2])
    take: NonNegativeInt = Field(description="which slice, from 0", examples=[0])

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        require_channels_first(ctx, shape)
        channels = shape[0]
        if channels % self.parts:
            ctx.fail(
                f"cannot cut the input's {channels} channels {ctx.came_from()} into "
                f"{self.parts} equal slices",
                field="parts",
                code="NS405",
            )
        if self.take >= self.parts:
            ctx.fail(
                f"'take' is {self.take}, but there are only {self.parts} slices (0 to "
                f"{self.parts - 1})",
                field="take",
                code="NS405",
            )
        return Inferred((channels // self.parts, *shape[1:]))

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        raise AssertionError("channel_split is always functional")  # the compiler says so

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        return inputs[0].chunk(args.parts, 1)[args.take]
