"""``gap`` — global average pooling: (C, H, W) → (C, 1, 1), as d2l's GlobalAvgPool2d."""

from __future__ import annotations

from typing import Any

from .api import (
    BuildChild,
    Inferred,
    LayerArgs,
    Node,
    Shape,
    ShapeContext,
    Window,
    kind,
    require_image,
)


@kind("gap")
class GlobalAvgPool(LayerArgs):
    """Average each channel over the whole feature map; keeps a 1x1 map (flatten after)."""

    def infer(self, shape: Shape, ctx: ShapeContext) -> Inferred:
        c, h, w = require_image(ctx, shape)
        # Each output averages the whole map: a window as large as the input.
        return Inferred((c, 1, 1), window=Window((h, w), (h, w)))

    @staticmethod
    def build(node: Node, build_child: BuildChild) -> Any:
        from torch import nn

        return nn.AdaptiveAvgPool2d(1)
