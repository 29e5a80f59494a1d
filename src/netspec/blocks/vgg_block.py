"""``vgg_block`` — d2l's VGG block: n × (3×3 conv, padding 1, ReLU), then 2×2 max pool."""

from __future__ import annotations

from pydantic import Field

from .api import (
    Inferred,
    IntField,
    LayerArgs,
    PositiveInt,
    Shape,
    ShapeContext,
    build_list,
    kind,
)


@kind("vgg_block", example="vgg_block: {convs: 2, out: 128}")
class VggBlock(LayerArgs):
    """``convs`` 3×3 convolutions with ReLU, then a 2×2 max pool that halves H and W."""

    convs: IntField(1, 64) = Field(description="number of 3x3 convolutions", examples=[2])  # type: ignore[valid-type]
    out: PositiveInt = Field(description="output channels of every convolution", examples=[64])

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        conv = ctx.layer("conv", out=self.out, kernel=3, padding=1)
        layers = [conv, ctx.layer("relu")] * self.convs + [ctx.layer("maxpool", kernel=2, stride=2)]
        return Inferred.of(ctx.sequence(layers, shape))

    build = staticmethod(build_list)
