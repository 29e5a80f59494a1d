"""``group`` — a named or unnamed submodule of layers, to mirror a module tree.

Its layers are a list like the spec's own: run one after another they build an
``nn.Sequential``; wired with ``from`` or holding functional layers, a ``Dataflow``.
``output`` names the layer whose value the group gives (default: the last).
"""

from __future__ import annotations

from pydantic import Field

from .api import Inferred, LayerArgs, LayerList, OutputName, Shape, ShapeContext, build_list, kind


@kind("group", example="group: {name: fc, layers: [flatten, linear: {out: 10}]}")
class Group(LayerArgs):
    """Layers run in order inside one submodule (``self.conv = nn.Sequential(...)``)."""

    layers: LayerList = Field(
        description="the group's layers",
        min_length=1,
        examples=[["flatten", {"linear": {"out": 10}}]],
    )
    output: OutputName = Field(
        None,
        description="the layer whose value is the group's output (default: the last)",
        examples=["relu"],
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        return ctx.dataflow(self.layers, shape, output=self.output)

    build = staticmethod(build_list)
