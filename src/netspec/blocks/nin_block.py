"""``nin_block`` — d2l's NiN block: a conv and two 1×1 convs, each followed by ReLU."""

from __future__ import annotations

from pydantic import Field

from ..compiler import InferContext, LayerItem
from ..ir import Inferred
from ..registry import Block, register
from ..schema import LayerArgs, NonNegativeInt, PositiveInt
from ..shapes import Shape
from .group import build_sequential, sequential_result


class NinBlock(LayerArgs):
    """Conv(kernel, stride, padding) + ReLU, then two 1×1 conv + ReLU pairs."""

    out: PositiveInt = Field(description="output channels", examples=[96])
    kernel: PositiveInt = Field(description="kernel of the first convolution", examples=[11])
    stride: PositiveInt = Field(1, description="stride of the first convolution")
    padding: NonNegativeInt = Field(0, description="padding of the first convolution")


def infer(args: NinBlock, shape: Shape, ctx: InferContext) -> Inferred:
    items = [
        LayerItem.synthesized(
            "conv", out=args.out, kernel=args.kernel, stride=args.stride, padding=args.padding
        ),
        LayerItem.synthesized("relu"),
        LayerItem.synthesized("conv", out=args.out, kernel=1),
        LayerItem.synthesized("relu"),
        LayerItem.synthesized("conv", out=args.out, kernel=1),
        LayerItem.synthesized("relu"),
    ]
    return sequential_result(ctx.sequence(items, shape))


register(
    Block(
        "nin_block",
        NinBlock,
        infer,
        build_sequential,
        NinBlock.__doc__ or "",
        "nin_block: {out: 96, kernel: 11, stride: 4}",
    )
)
