"""``dropout`` — zero activations at random while training (``nn.Dropout``)."""

from __future__ import annotations

from pydantic import Field

from ..compiler import InferContext
from ..ir import Inferred, Node
from ..registry import Block, register
from ..schema import LayerArgs, Probability
from ..shapes import Shape


class Dropout(LayerArgs):
    """Dropout with probability ``p`` (0.5 by default, as the seed uses)."""

    p: Probability = Field(0.5, description="probability of zeroing an element")


def infer(args: Dropout, shape: Shape, ctx: InferContext) -> Inferred:
    return Inferred(shape)


def build(node: Node, build_child: object) -> object:
    from torch import nn

    return nn.Dropout(node.args.p)


register(Block("dropout", Dropout, infer, build, Dropout.__doc__ or "", "dropout: {p: 0.5}"))
