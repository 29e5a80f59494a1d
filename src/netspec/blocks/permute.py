"""``permute`` — reorder the dimensions (``torch.permute``), e.g. to channels-last and back.

``dims`` include the batch dimension, which stays first: ``[0, 2, 3, 1]`` turns a
channels-first (C, H, W) image into a channels-last (H, W, C) one, on which ``linear`` and
``layernorm`` act per position (ConvNeXt); ``[0, 3, 1, 2]`` turns it back. Image kinds
refuse a channels-last input, so a forgotten permute is an error with a hint.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from .api import (
    CHANNELS_FIRST,
    CHANNELS_LAST,
    PERMUTED,
    BuildChild,
    Inferred,
    IntField,
    LayerArgs,
    Node,
    Shape,
    ShapeContext,
    format_shape,
    kind,
)

#: (layout, dims) -> the layout they give.
_LAYOUTS = {
    (CHANNELS_FIRST, (0, 2, 3, 1)): CHANNELS_LAST,
    (CHANNELS_LAST, (0, 3, 1, 2)): CHANNELS_FIRST,
}


@kind("permute", example="permute: {dims: [0, 2, 3, 1]}")
class Permute(LayerArgs):
    """Reorder dimensions; [0, 2, 3, 1] is channels-last, [0, 3, 1, 2] channels-first."""

    dims: Annotated[list[IntField(0, 8)], Field(min_length=1, max_length=9)] = Field(  # type: ignore[valid-type]
        description="the new order of the dimensions, the batch dimension 0 first",
        examples=[[0, 2, 3, 1]],
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        rank = len(shape) + 1
        if sorted(self.dims) != list(range(rank)):
            ctx.fail(
                f"'dims' must order all {rank} dimensions 0 to {rank - 1} of the input "
                f"(the batch, then {format_shape(shape)}), got {self.dims}",
                field="dims",
                hint="e.g. dims: [0, 2, 3, 1] for channels-last",
                code="NS405",
            )
        if self.dims[0] != 0:
            ctx.fail(
                "the batch dimension must stay first: 'dims' must start with 0",
                field="dims",
                code="NS405",
            )
        out = tuple(shape[d - 1] for d in self.dims[1:])
        dims = tuple(self.dims)
        if dims == tuple(range(rank)):
            layout = ctx.layout
        else:
            layout = _LAYOUTS.get((ctx.layout, dims), PERMUTED)
        return Inferred(out, layout=layout)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from ..modules import Permute as PermuteModule

        return PermuteModule(list(node.args.dims))

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        import torch

        return torch.permute(inputs[0], args.dims)
