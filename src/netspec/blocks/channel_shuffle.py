"""``channel_shuffle`` — interleave the channels of ``groups`` groups (ShuffleNet).

The module form is ``nn.ChannelShuffle(groups)``; the functional form is torchvision's
``shufflenetv2.channel_shuffle`` (views, a transpose and a copy). Both give the same
permutation of the channels, exactly.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .api import (
    BuildChild,
    Inferred,
    LayerArgs,
    Node,
    PositiveInt,
    Shape,
    ShapeContext,
    kind,
    require_image,
)


@kind("channel_shuffle", example="channel_shuffle: {groups: 3}")
class ChannelShuffle(LayerArgs):
    """Interleave the channels of ``groups`` equal groups (nn.ChannelShuffle)."""

    groups: PositiveInt = Field(
        description="number of groups; must divide the channels", examples=[2]
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        channels, _, _ = require_image(ctx, shape)
        if channels % self.groups:
            ctx.fail(
                f"groups={self.groups} must divide the input's {channels} channels "
                f"{ctx.came_from()}",
                field="groups",
                code="NS405",
            )
        return Inferred(shape)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return nn.ChannelShuffle(node.args.groups)

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        from ..modules import channel_shuffle

        return channel_shuffle(inputs[0], args.groups)
