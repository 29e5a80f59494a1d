"""``groupnorm`` — group normalisation: channels in ``groups`` groups (``nn.GroupNorm``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .api import (
    BuildChild,
    FloatField,
    Inferred,
    LayerArgs,
    Node,
    PositiveInt,
    Shape,
    ShapeContext,
    StrictBool,
    kind,
    require_channels_first,
)


@kind("groupnorm", example="groupnorm: {groups: 3}")
class GroupNorm(LayerArgs):
    """Normalise each group of channels over the group and the positions (nn.GroupNorm)."""

    groups: PositiveInt = Field(
        description="number of groups; must divide the channels", examples=[32]
    )
    eps: FloatField(0.0, 1.0) = Field(1e-5, description="added to the variance")  # type: ignore[valid-type]
    affine: StrictBool = Field(True, description="learn a scale and a shift per channel")

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        require_channels_first(ctx, shape)
        channels = shape[0]
        if channels % self.groups:
            ctx.fail(
                f"groups={self.groups} must divide the input's {channels} channels "
                f"{ctx.came_from()}",
                field="groups",
                code="NS405",
            )
        return Inferred(shape, params=2 * channels if self.affine else 0)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        args: GroupNorm = node.args
        return nn.GroupNorm(args.groups, node.in_shape[0], eps=args.eps, affine=args.affine)
