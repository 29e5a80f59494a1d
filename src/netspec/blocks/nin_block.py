"""``nin_block`` — d2l's NiN block: a conv and two 1×1 convs, each followed by ReLU."""

from __future__ import annotations

from pydantic import Field

from .api import (
    Inferred,
    LayerArgs,
    NonNegativeInt,
    PositiveInt,
    Shape,
    ShapeContext,
    build_list,
    kind,
)


@kind("nin_block", example="nin_block: {out: 96, kernel: 11, stride: 4}")
class NinBlock(LayerArgs):
    """Conv(kernel, stride, padding) + ReLU, then two 1×1 conv + ReLU pairs."""

    out: PositiveInt = Field(description="output channels", examples=[96])
    kernel: PositiveInt = Field(description="kernel of the first convolution", examples=[11])
    stride: PositiveInt = Field(1, description="stride of the first convolution")
    padding: NonNegativeInt = Field(0, description="padding of the first convolution")

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        first = ctx.layer(
            "conv", out=self.out, kernel=self.kernel, stride=self.stride, padding=self.padding
        )
        one_by_one = ctx.layer("conv", out=self.out, kernel=1)
        relu = ctx.layer("relu")
        layers = [first, relu, one_by_one, relu, one_by_one, relu]
        return Inferred.of(ctx.sequence(layers, shape))

    build = staticmethod(build_list)
