"""``channel_affine`` — a fixed scale and shift per channel: ``x * scale + shift``.

GoogLeNet's and Inception-v3's ``transform_input`` re-normalise ImageNet inputs this way
before the first convolution. The numbers are constants of the spec, not parameters, and
there is no torch module for it: it is always functional.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from .api import (
    BuildChild,
    FloatsField,
    Inferred,
    LayerArgs,
    Node,
    Shape,
    ShapeContext,
    format_shape,
    kind,
    require_image,
)


@kind("channel_affine", example="channel_affine: {scale: [2, 2, 2], shift: [-1, -1, -1]}")
class ChannelAffine(LayerArgs):
    """x * scale + shift with one constant scale and shift per channel (functional only)."""

    always_functional: ClassVar[bool] = True

    scale: FloatsField = Field(
        description="one factor per channel", examples=[[0.458, 0.448, 0.45]]
    )
    shift: FloatsField = Field(
        description="one offset per channel", examples=[[-0.03, -0.088, -0.188]]
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        channels, _, _ = require_image(ctx, shape)
        for field in ("scale", "shift"):
            given = len(getattr(self, field))
            if given != channels:
                ctx.fail(
                    f"'{field}' has {given} values, one per channel, but the input "
                    f"{format_shape(shape)} {ctx.came_from()} has {channels} "
                    f"channel{'s' if channels != 1 else ''}",
                    field=field,
                    hint="give one value per channel",
                    code="NS405",
                )
        return Inferred(shape)

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        raise AssertionError("channel_affine is always functional")  # the compiler says so

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        import torch

        x = inputs[0]
        scale = torch.tensor(args.scale, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        shift = torch.tensor(args.shift, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return x * scale + shift
