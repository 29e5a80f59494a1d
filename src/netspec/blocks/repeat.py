"""``repeat`` — the same layers several times in a row, as d2l's ``for _ in range(n)`` loops.

A spec has no loops; ``repeat`` is the one place where a count (often a block param, such
as DenseNet's ``convs``) decides how many layers there are. The copies are flat children
of one ``nn.Sequential``, numbered in order (or named by templates such as
``"denselayer{i + 1}"``), like the modules a Python loop appends. ``index`` names the copy
number in the copies' expressions; with ``splice: true`` the copies go straight into the
enclosing list instead (the compiler expands them there, so this rule never sees them).
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
    StrictBool,
    build_list,
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

    times: IntField(0, MAX_TIMES) = Field(  # type: ignore[valid-type]
        description="how many copies of the layers (0 only with splice)", examples=[4]
    )
    layers: LayerList = Field(
        min_length=1, description="the layers to repeat", examples=[[{"dense_layer": None}]]
    )
    index: str = Field(
        "i",
        description="name of the copy number (0, 1, ...) in the copies' expressions and templates",
        examples=["i"],
        json_schema_extra={"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
    )
    splice: StrictBool = Field(
        False,
        description="true: the copies go straight into the enclosing list (no nn.Sequential "
        "of their own)",
        examples=[True],
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        if self.times == 0:
            ctx.fail(
                "'times' is 0, but a repeat without 'splice' is a module and needs a copy",
                field="times",
                hint="use 'splice: true' to let a repeat make no layers at all",
                code="NS405",
            )
        return ctx.dataflow(self.layers, shape, repeat=(self.times, self.index))

    build = staticmethod(build_list)
