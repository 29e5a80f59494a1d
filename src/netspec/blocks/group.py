"""``group`` — a named or unnamed ``nn.Sequential`` of layers, to mirror a module tree."""

from __future__ import annotations

from pydantic import Field

from .api import Inferred, LayerArgs, LayerList, Shape, ShapeContext, build_sequential, kind


@kind("group", example="group: {name: fc, layers: [flatten, linear: {out: 10}]}")
class Group(LayerArgs):
    """Layers run in order inside one submodule (``self.conv = nn.Sequential(...)``)."""

    layers: LayerList = Field(
        description="the group's layers",
        min_length=1,
        examples=[["flatten", {"linear": {"out": 10}}]],
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        return Inferred.of(ctx.sequence(self.layers, shape))

    build = staticmethod(build_sequential)
