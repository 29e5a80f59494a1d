"""``inception`` — d2l's Inception block: four branches concatenated on channels.

Branch 1: 1×1 conv. Branch 2: 1×1 conv → k2×k2 conv. Branch 3: 1×1 conv → k3×k3 conv.
Branch 4: 3×3 max pool (stride 1) → 1×1 conv. ReLU after every conv. The module keeps the
seed's attribute names (``p1_1`` … ``p4_2``) so the seed's state_dict loads into it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..compiler import InferContext, LayerItem
from ..ir import Inferred, Node
from ..registry import Block, register
from ..schema import IntField, LayerArgs, PositiveInt
from ..shapes import Shape, format_shape
from ._common import require_image

ChannelPair = Annotated[list[PositiveInt], Field(min_length=2, max_length=2)]


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


def infer(args: Inception, shape: Shape, ctx: InferContext) -> Inferred:
    require_image(ctx, shape)

    def conv(out: int, kernel: int) -> LayerItem:
        return LayerItem.synthesized("conv", out=out, kernel=kernel, padding=kernel // 2)

    p1_1 = ctx.child("p1_1", conv(args.c1, 1), shape)
    p2_1 = ctx.child("p2_1", conv(args.c2[0], 1), shape)
    p2_2 = ctx.child("p2_2", conv(args.c2[1], args.k2), p2_1.out_shape)
    p3_1 = ctx.child("p3_1", conv(args.c3[0], 1), shape)
    p3_2 = ctx.child("p3_2", conv(args.c3[1], args.k3), p3_1.out_shape)
    pool = LayerItem.synthesized("maxpool", kernel=3, stride=1, padding=1)
    p4_1 = ctx.child("p4_1", pool, shape)
    p4_2 = ctx.child("p4_2", conv(args.c4, 1), p4_1.out_shape)
    ends = {"p1": p1_1, "p2": p2_2, "p3": p3_2, "p4": p4_2}
    first_name, first = next(iter(ends.items()))
    for branch, node in ends.items():
        if node.out_shape[1:] != first.out_shape[1:]:
            field = {"p2": "k2", "p3": "k3"}.get(branch)
            ctx.fail(
                f"branches cannot be concatenated: {first_name} gives "
                f"{format_shape(first.out_shape)} but {branch} gives {format_shape(node.out_shape)}"
                " (height and width must match)",
                field=field,
                hint="use odd kernels k2/k3 so that padding k // 2 keeps the size",
            )
    children = [p1_1, p2_1, p2_2, p3_1, p3_2, p4_1, p4_2]
    channels = sum(node.out_shape[0] for node in ends.values())
    return Inferred(
        (channels, *first.out_shape[1:]),
        params=sum(c.params for c in children),
        macs=sum(c.macs for c in children),
        children=children,
        branches=[[p1_1], [p2_1, p2_2], [p3_1, p3_2], [p4_1, p4_2]],
        merge="concat",
    )


def build(node: Node, build_child: object) -> object:
    from ..modules import Inception as InceptionModule

    built = {child.name: build_child(child) for child in node.children}  # type: ignore[operator]
    return InceptionModule(**built)


register(
    Block(
        "inception",
        Inception,
        infer,
        build,
        Inception.__doc__ or "",
        "inception: {c1: 64, c2: [96, 128], c3: [16, 32], c4: 32}",
    )
)
