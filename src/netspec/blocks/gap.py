"""``gap`` — global average pooling: (C, H, W) → (C, 1, 1), as d2l's GlobalAvgPool2d."""

from __future__ import annotations

from ..compiler import InferContext
from ..ir import Inferred, Node
from ..registry import Block, register
from ..schema import LayerArgs
from ..shapes import Shape, Window
from ._common import require_image


class GlobalAvgPool(LayerArgs):
    """Average each channel over the whole feature map; keeps a 1x1 map (flatten after)."""


def infer(args: GlobalAvgPool, shape: Shape, ctx: InferContext) -> Inferred:
    c, h, w = require_image(ctx, shape)
    # Each output averages the whole map: a window as large as the input.
    return Inferred((c, 1, 1), window=Window((h, w), (h, w)))


def build(node: Node, build_child: object) -> object:
    from torch import nn

    return nn.AdaptiveAvgPool2d(1)


register(Block("gap", GlobalAvgPool, infer, build, GlobalAvgPool.__doc__ or "", "gap"))
