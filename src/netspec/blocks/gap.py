"""``gap`` — global average pooling: (C, H, W) → (C, 1, 1), as d2l's GlobalAvgPool2d.

With ``keepdim: false`` it gives (C,) directly — ``x.mean([2, 3])`` in ShuffleNetV2's and
MNASNet's forward — which exists only as a function (``functional: true``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .api import (
    BuildChild,
    Inferred,
    LayerArgs,
    Node,
    Shape,
    ShapeContext,
    StrictBool,
    Window,
    kind,
    require_image,
)


@kind("gap")
class GlobalAvgPool(LayerArgs):
    """Average each channel over the whole feature map; keeps a 1x1 map (flatten after)."""

    keepdim: StrictBool = Field(
        True,
        description="false: give (C,) instead of (C, 1, 1), as x.mean([2, 3]) does "
        "(functional only)",
        examples=[False],
    )

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        c, h, w = require_image(ctx, shape)
        if not self.keepdim and not ctx.functional:
            ctx.fail(
                "'keepdim: false' is x.mean([2, 3]), which torch has no module for",
                field="keepdim",
                hint="add 'functional: true', or keep the 1x1 map and flatten it",
                code="NS405",
            )
        # Each output averages the whole map: a window as large as the input.
        out = (c, 1, 1) if self.keepdim else (c,)
        return Inferred(out, window=Window((h, w), (h, w)))

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return nn.AdaptiveAvgPool2d(1)

    @staticmethod
    def apply(inputs: list[Any], args: Any, owner: Any) -> Any:
        if not args.keepdim:
            return inputs[0].mean([2, 3])
        from torch.nn import functional

        return functional.adaptive_avg_pool2d(inputs[0], 1)
