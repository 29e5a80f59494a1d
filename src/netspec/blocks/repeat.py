"""``repeat`` — the same layers several times in a row, as d2l's ``for _ in range(n)`` loops.

A spec has no loops; ``repeat`` is the one place where a count (often a block param, such
as DenseNet's ``convs``) decides how many layers there are. The copies are flat children
of one ``nn.Sequential``, numbered in order, like the modules a Python loop appends.
"""

from __future__ import annotations

from pydantic import Field

from ..compiler import InferContext
from ..ir import Inferred
from ..registry import Block, register
from ..schema import IntField, LayerArgs, LayerList
from ..shapes import Shape
from .group import build_sequential, sequential_result

#: Most copies one ``repeat`` makes (MAX_MODULES bounds the whole network anyway).
MAX_TIMES = 1024


class Repeat(LayerArgs):
    """``layers`` ``times`` times in a row; each copy infers its own shapes."""

    times: IntField(1, MAX_TIMES) = Field(  # type: ignore[valid-type]
        description="how many copies of the layers", examples=[4]
    )
    layers: LayerList = Field(
        min_length=1, description="the layers to repeat", examples=[[{"dense_layer": None}]]
    )


def infer(args: Repeat, shape: Shape, ctx: InferContext) -> Inferred:
    return sequential_result(ctx.sequence(ctx.items("layers", args.layers) * args.times, shape))


register(
    Block(
        "repeat",
        Repeat,
        infer,
        build_sequential,
        Repeat.__doc__ or "",
        "repeat: {times: 2, layers: [{conv: {out: 64, kernel: 3, padding: 1}}, relu]}",
    )
)
