"""``repeat`` — the same layers several times in a row, as d2l's ``for _ in range(n)`` loops.

A spec has no loops; ``repeat`` is the one place where a count (often a block param, such
as DenseNet's ``convs``) decides how many layers there are. The copies are flat children
of one ``nn.Sequential``, numbered in order, like the modules a Python loop appends.
"""

from __future__ import annotations

from pydantic import Field

from .api import (
    Inferred,
    IntField,
    LayerArgs,
    LayerList,
    Shape,
    ShapeContext,
    build_sequential,
    kind,
)

#: Most copies one ``repeat`` makes (MAX_MODULES bounds the whole network anyway).
MAX_TIMES = 1024


@kind(
    "repeat",
    example="repeat: {times: 2, layers: [{conv: {out: 64, kernel: 3, padding: 1}}, relu]}",
)
class Repeat(LayerArgs):
    """``layers`` ``times`` times in a row; each copy infers its own shapes."""

    times: IntField(1, MAX_TIMES) = Field(  # type: ignore[valid-type]
        description="how many copies of the layers", examples=[4]
    )
    layers: LayerList = Field(
        min_length=1, description="the layers to repeat", examples=[[{"dense_layer": None}]]
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        return Inferred.of(ctx.sequence(self.layers * self.times, shape))

    build = staticmethod(build_sequential)
