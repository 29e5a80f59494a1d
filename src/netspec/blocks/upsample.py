"""``upsample`` — enlarge a feature map by a factor or to a size (``nn.Upsample``).

(C, H, W) → (C, floor(H·s), floor(W·s)) with ``scale: s`` (or ``[sh, sw]``), or (C, h, w)
with ``size``. Each output pixel then mixes inputs by interpolation, so the receptive
field is not a window any more: the summary shows ``-`` after it.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from .api import (
    BuildChild,
    Inferred,
    LayerArgs,
    Node,
    NumberPair,
    Shape,
    ShapeContext,
    Size2,
    StrictBool,
    kind,
    require_image,
)


@kind("upsample", example="upsample: {scale: 2, mode: bilinear}")
class Upsample(LayerArgs):
    """Enlarge by ``scale`` or to ``size`` (nn.Upsample; functional: F.interpolate)."""

    scale: NumberPair | None = Field(
        None, description="factor: s or [sh, sw] (give scale or size)", examples=[2]
    )
    size: Size2 | None = Field(
        None, description="output size: s or [h, w] (give scale or size)", examples=[[14, 14]]
    )
    mode: Literal["nearest", "bilinear", "bicubic"] = Field(
        "nearest", description="how new pixels are computed"
    )
    align_corners: StrictBool = Field(
        False, description="bilinear/bicubic: align the corner pixels (PyTorch's align_corners)"
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        c, h, w = require_image(ctx, shape)
        if (self.scale is None) == (self.size is None):
            ctx.fail(
                "give either 'scale' or 'size'",
                hint="e.g. upsample: {scale: 2} or upsample: {size: [14, 14]}",
                code="NS405",
            )
        if self.align_corners and self.mode == "nearest":
            ctx.fail(
                "'align_corners' needs mode bilinear or bicubic",
                field="align_corners",
                code="NS405",
            )
        if self.size is not None:
            out = self.size
        else:
            assert self.scale is not None
            out = (math.floor(h * self.scale[0]), math.floor(w * self.scale[1]))
            if min(out) < 1:
                ctx.fail(
                    f"scale {self.scale[0]:g}x{self.scale[1]:g} leaves nothing of the input "
                    f"({h}x{w}) {ctx.came_from()}",
                    field="scale",
                    code="NS401",
                )
        return Inferred((c, *out), unknown_field=True)

    def torch_arguments(self) -> dict[str, Any]:
        """Keyword arguments of nn.Upsample and F.interpolate."""
        arguments: dict[str, Any] = {"mode": self.mode}
        if self.size is not None:
            arguments["size"] = self.size
        else:
            assert self.scale is not None
            arguments["scale_factor"] = (
                self.scale[0] if self.scale[0] == self.scale[1] else self.scale
            )
        if self.mode != "nearest":
            arguments["align_corners"] = self.align_corners
        return arguments

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return nn.Upsample(**node.args.torch_arguments())

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        from torch.nn import functional

        return functional.interpolate(inputs[0], **args.torch_arguments())
