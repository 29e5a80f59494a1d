"""``inception`` — d2l's Inception block: four branches concatenated on channels.

Branch 1: 1×1 conv. Branch 2: 1×1 conv → k2×k2 conv. Branch 3: 1×1 conv → k3×k3 conv.
Branch 4: 3×3 max pool (stride 1) → 1×1 conv. ReLU after every conv. The module keeps the
seed's attribute names (``p1_1`` … ``p4_2``) so the seed's state_dict loads into it.

The same block can be written in the spec language as a ``concat`` (see
``specs/lib/inception.yaml``); this kind exists because its module applies the ReLUs
functionally, as the seed's code does, which :mod:`netspec.optimize` fuses for inference.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from .api import (
    BuildChild,
    Inferred,
    IntField,
    LayerArgs,
    Node,
    PositiveInt,
    Shape,
    ShapeContext,
    format_shape,
    kind,
    require_image,
)

ChannelPair = Annotated[list[PositiveInt], Field(min_length=2, max_length=2)]


@kind("inception", example="inception: {c1: 64, c2: [96, 128], c3: [16, 32], c4: 32}")
class Inception(LayerArgs):
    """GoogLeNet's Inception block; output channels are c1 + c2[1] + c3[1] + c4."""

    c1: PositiveInt = Field(description="branch 1: 1x1 conv channels", examples=[64])
    c2: ChannelPair = Field(
        description="branch 2: [1x1 channels, k2 x k2 channels]", examples=[[96, 128]]
    )
    c3: ChannelPair = Field(
        description="branch 3: [1x1 channels, k3 x k3 channels]", examples=[[16, 32]]
    )
    c4: PositiveInt = Field(
        description="branch 4: channels of the 1x1 conv after the pool", examples=[32]
    )
    k2: IntField(1, 31) = Field(3, description="kernel of branch 2's second conv (padding k2 // 2)")  # type: ignore[valid-type]
    k3: IntField(1, 31) = Field(5, description="kernel of branch 3's second conv (padding k3 // 2)")  # type: ignore[valid-type]

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        require_image(ctx, shape)

        def conv(name: str, out: int, kernel: int, in_shape: Shape) -> Node:
            layer = ctx.layer("conv", out=out, kernel=kernel, padding=kernel // 2)
            return ctx.child(name, layer, in_shape)

        p1_1 = conv("p1_1", self.c1, 1, shape)
        p2_1 = conv("p2_1", self.c2[0], 1, shape)
        p2_2 = conv("p2_2", self.c2[1], self.k2, p2_1.out_shape)
        p3_1 = conv("p3_1", self.c3[0], 1, shape)
        p3_2 = conv("p3_2", self.c3[1], self.k3, p3_1.out_shape)
        p4_1 = ctx.child("p4_1", ctx.layer("maxpool", kernel=3, stride=1, padding=1), shape)
        p4_2 = conv("p4_2", self.c4, 1, p4_1.out_shape)
        ends = {"p1": p1_1, "p2": p2_2, "p3": p3_2, "p4": p4_2}
        first_name, first = next(iter(ends.items()))
        for branch, node in ends.items():
            if node.out_shape[1:] != first.out_shape[1:]:
                ctx.fail(
                    f"branches cannot be concatenated: {first_name} gives "
                    f"{format_shape(first.out_shape)} but {branch} gives "
                    f"{format_shape(node.out_shape)} (height and width must match)",
                    field={"p2": "k2", "p3": "k3"}.get(branch),
                    hint="use odd kernels k2/k3 so that padding k // 2 keeps the size",
                    code="NS404",
                )
        channels = sum(node.out_shape[0] for node in ends.values())
        return Inferred.of(
            [p1_1, p2_1, p2_2, p3_1, p3_2, p4_1, p4_2],
            (channels, *first.out_shape[1:]),
            branches=[[p1_1], [p2_1, p2_2], [p3_1, p3_2], [p4_1, p4_2]],
            merge="concat",
        )

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from ..modules import Inception as InceptionModule

        return InceptionModule(**{child.name: build_child(child) for child in node.children})
