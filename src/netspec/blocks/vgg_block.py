"""``vgg_block`` — d2l's VGG block: n × (3×3 conv, padding 1, ReLU), then 2×2 max pool."""

from __future__ import annotations

from pydantic import Field

from ..compiler import InferContext, LayerItem
from ..ir import Inferred
from ..registry import Block, register
from ..schema import IntField, LayerArgs, PositiveInt
from ..shapes import Shape
from .group import build_sequential, sequential_result


class VggBlock(LayerArgs):
    """``convs`` 3×3 convolutions with ReLU, then a 2×2 max pool that halves H and W."""

    convs: IntField(1, 64) = Field(description="number of 3x3 convolutions", examples=[2])  # type: ignore[valid-type]
    out: PositiveInt = Field(description="output channels of every convolution", examples=[64])


def infer(args: VggBlock, shape: Shape, ctx: InferContext) -> Inferred:
    items: list[LayerItem] = []
    for _ in range(args.convs):
        items.append(LayerItem.synthesized("conv", out=args.out, kernel=3, padding=1))
        items.append(LayerItem.synthesized("relu"))
    items.append(LayerItem.synthesized("maxpool", kernel=2, stride=2))
    return sequential_result(ctx.sequence(items, shape))


register(
    Block(
        "vgg_block",
        VggBlock,
        infer,
        build_sequential,
        VggBlock.__doc__ or "",
        "vgg_block: {convs: 2, out: 128}",
    )
)
