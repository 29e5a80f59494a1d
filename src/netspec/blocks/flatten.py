"""``flatten`` — (C, H, W) → (C·H·W,), keeping the batch dimension."""

from __future__ import annotations

from ..compiler import InferContext
from ..ir import Inferred, Node
from ..registry import Block, register
from ..schema import LayerArgs
from ..shapes import Shape, Window, numel


class Flatten(LayerArgs):
    """Flatten each sample into a vector, so the 256*5*5 of hand-written code is inferred."""


def infer(args: Flatten, shape: Shape, ctx: InferContext) -> Inferred:
    # Every feature of the vector may come from anywhere in the map (for the receptive field).
    window = Window((shape[1], shape[2]), (shape[1], shape[2])) if len(shape) == 3 else None
    return Inferred((numel(shape),), window=window)


def build(node: Node, build_child: object) -> object:
    from torch import nn

    return nn.Flatten()


register(Block("flatten", Flatten, infer, build, Flatten.__doc__ or "", "flatten"))
